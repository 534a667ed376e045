"""The style-transfer losses of chapter 4.9 (Gatys, Ecker & Bethge), with their gradients.

Feature maps have shape (C, H, W), or (B, C, H, W) for a batch: C channels ("filters",
N in the paper) over M = H * W positions. Normalisation used here:

- :func:`gram_matrix` is G = F F^T / M with F the (C, M) matrix of a feature map: the
  average over positions of the product of two channels.
- :func:`content_loss` is 1/2 * sum (F - P)^2, as in the paper.
- :func:`style_layer_loss` is 1/(4 C^2) * sum (G - A)^2 for the normalised Grams G and A. With
  the paper's unnormalised Grams (M times larger) this is the paper's
  E = 1/(4 C^2 M^2) * sum (G - A)^2, the same number.
- :func:`style_loss` is sum_l w_l E_l over layers, and :func:`total_loss` is
  alpha * content + beta * style.

:func:`content_loss_grad` and :func:`style_layer_grad` are the gradients derived by hand
in the chapter; the tests compare them with autograd.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def _check_features(name: str, features: torch.Tensor) -> None:
    if not isinstance(features, torch.Tensor):
        raise TypeError(f"{name} must be a floating-point tensor, got {type(features).__name__}")
    if not features.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {features.dtype}: "
                        "convert it with .float()")
    if features.ndim not in (3, 4):
        raise ValueError(f"{name} must have shape (C, H, W) or (B, C, H, W), got {tuple(features.shape)}")


def _check_same_shape(name: str, tensor: torch.Tensor, expected: torch.Size) -> None:
    if tensor.shape != expected:
        raise ValueError(f"{name} has shape {tuple(tensor.shape)}; expected {tuple(expected)}")


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """G = F F^T / M: (C, H, W) -> (C, C), or (B, C, H, W) -> (B, C, C).

    Entry (i, j) is the mean over the M = H * W positions of channel i times channel j.
    """
    _check_features("features", features)
    flat = features.flatten(-2)  # (..., C, M)
    return flat @ flat.transpose(-1, -2) / flat.shape[-1]


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1/2 * sum (F - P)^2 between a feature map and the content image's feature map."""
    _check_features("features", features)
    _check_same_shape("target", target, features.shape)
    return 0.5 * ((features - target) ** 2).sum()


def content_loss_grad(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """d content_loss / dF = F - P."""
    _check_features("features", features)
    _check_same_shape("target", target, features.shape)
    return features - target


def _gram_target(features: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    _check_features("features", features)
    channels = features.shape[-3]
    _check_same_shape("target_gram", target_gram, features.shape[:-3] + (channels, channels))
    return gram_matrix(features) - target_gram


def style_layer_loss(features: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """E = 1/(4 C^2) * sum (G - A)^2, G the Gram of ``features``, A the style image's Gram."""
    diff = _gram_target(features, target_gram)
    channels = features.shape[-3]
    return (diff ** 2).sum() / (4 * channels ** 2)


def style_layer_grad(features: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """dE/dF = S F / (C^2 M), with S = ((G - A) + (G - A)^T) / 2 and F the (C, M) feature matrix.

    For a symmetric target A (every Gram matrix is symmetric) S is just G - A.
    """
    diff = _gram_target(features, target_gram)
    sym = (diff + diff.transpose(-1, -2)) / 2
    channels, positions = features.shape[-3], features.shape[-2] * features.shape[-1]
    flat = features.flatten(-2)
    return (sym @ flat / (channels ** 2 * positions)).reshape(features.shape)


def style_loss(features: Sequence[torch.Tensor], target_grams: Sequence[torch.Tensor],
               weights: Sequence[float]) -> torch.Tensor:
    """sum_l w_l E_l over layers: one feature map, target Gram and weight per layer."""
    if not (len(features) == len(target_grams) == len(weights)) or len(features) == 0:
        raise ValueError(f"expected one target Gram and one weight per layer, got {len(features)} "
                         f"feature maps, {len(target_grams)} Grams and {len(weights)} weights")
    return sum(w * style_layer_loss(f, a) for f, a, w in zip(features, target_grams, weights, strict=True))


def total_loss(content: torch.Tensor | float, style: torch.Tensor | float, alpha: float,
               beta: float) -> torch.Tensor | float:
    """alpha * content + beta * style, the objective the generated image minimises."""
    if alpha < 0 or beta < 0:
        raise ValueError(f"the weights alpha and beta must be non-negative, got {alpha} and {beta}")
    return alpha * content + beta * style
