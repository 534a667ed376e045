"""The GAN objective of chapter 4.8, written out from the definitions.

The discriminator outputs a *logit* ``a``; its probability that the input is real is
``D = sigmoid(a)``. Working with logits keeps every logarithm finite:
``log D = -softplus(-a)`` and ``log(1 - D) = -softplus(a)``.

- :func:`minimax_value` estimates V(D, G) = E[log D(x)] + E[log(1 - D(G(z)))] from samples.
- :func:`discriminator_loss` is -V: the discriminator maximises V by minimising it.
- :func:`generator_loss` is the saturating loss E[log(1 - D(G(z)))] of the minimax game, or
  the non-saturating loss -E[log D(G(z))] that Goodfellow et al. (2014) recommend instead.
- :func:`optimal_discriminator` is D*(x) = p_data(x) / (p_data(x) + p_g(x)).
- :func:`mixture_pdf`, :func:`sample_mixture` describe 1-D Gaussian mixtures, and
  :class:`MLP1d` is the tiny generator / discriminator used to learn one.
- :func:`wasserstein_1d` measures how far two 1-D samples are apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

GENERATOR_LOSSES = ("saturating", "non_saturating")


def softplus(a: torch.Tensor) -> torch.Tensor:
    """log(1 + e^a), computed without overflow as max(a, 0) + log(1 + e^-|a|).

    Both pieces take the same branch at a = 0, so autograd gives the true slope 1/2 there.
    """
    positive = a > 0
    return torch.where(positive, a, 0.0) + torch.log1p(torch.exp(torch.where(positive, -a, a)))


def _check_logits(name: str, logits: torch.Tensor) -> None:
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        got = logits.dtype if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise TypeError(f"{name} must be a floating-point tensor of discriminator logits, got {got}; "
                        "convert with .float()")
    if logits.numel() == 0:
        raise ValueError(f"{name} is empty: expected at least one discriminator logit")


def minimax_value(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Sample estimate of V(D, G) = mean log D(x) + mean log(1 - D(G(z))), from logits.

    ``real_logits`` are the discriminator's logits on data samples, ``fake_logits`` on
    generated ones; the two may have different shapes (each is averaged on its own).
    """
    _check_logits("real_logits", real_logits)
    _check_logits("fake_logits", fake_logits)
    return -softplus(-real_logits).mean() - softplus(fake_logits).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-V(D, G): the binary cross-entropy of calling data 1 and generated samples 0."""
    return -minimax_value(real_logits, fake_logits)


def generator_loss(fake_logits: torch.Tensor, kind: str = "non_saturating") -> torch.Tensor:
    """The generator's loss on the discriminator's logits for generated samples.

    ``kind="saturating"``: mean log(1 - D(G(z))), the term of V the generator minimises in
    the minimax game. ``kind="non_saturating"``: -mean log D(G(z)).
    """
    if kind not in GENERATOR_LOSSES:
        raise ValueError(f"kind must be one of {GENERATOR_LOSSES}, got {kind!r}")
    _check_logits("fake_logits", fake_logits)
    if kind == "saturating":
        return -softplus(fake_logits).mean()
    return softplus(-fake_logits).mean()


def optimal_discriminator(p_data: torch.Tensor, p_g: torch.Tensor) -> torch.Tensor:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)), from the two densities at the same points."""
    if p_data.shape != p_g.shape:
        raise ValueError(f"p_g has shape {tuple(p_g.shape)}; expected the shape of p_data, "
                         f"{tuple(p_data.shape)}")
    if (p_data < 0).any() or (p_g < 0).any():
        raise ValueError("densities must be non-negative")
    total = p_data + p_g
    if (total == 0).any():
        raise ValueError(f"D* is undefined where both densities are 0 ({int((total == 0).sum())} "
                         "points); use points where at least one density is positive")
    return p_data / total


def _check_mixture(means: Sequence[float], stds: Sequence[float], weights: Sequence[float]) -> None:
    if not (len(means) == len(stds) == len(weights)) or len(means) == 0:
        raise ValueError(f"means, stds and weights must have the same non-zero length, got "
                         f"{len(means)}, {len(stds)} and {len(weights)}")
    if min(stds) <= 0 or min(weights) < 0 or not math.isclose(sum(weights), 1.0, abs_tol=1e-9):
        raise ValueError(f"expected positive stds and non-negative weights summing to 1, got "
                         f"stds={list(stds)}, weights={list(weights)}")


def mixture_pdf(x: torch.Tensor, means: Sequence[float], stds: Sequence[float],
                weights: Sequence[float]) -> torch.Tensor:
    """Density of the 1-D Gaussian mixture sum_k w_k N(mu_k, sigma_k^2) at the points ``x``."""
    _check_mixture(means, stds, weights)
    pdf = torch.zeros_like(x)
    for mu, sigma, w in zip(means, stds, weights, strict=True):
        pdf = pdf + w * torch.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    return pdf


def sample_mixture(n: int, means: Sequence[float], stds: Sequence[float], weights: Sequence[float],
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` samples, shape (n, 1), from the 1-D Gaussian mixture sum_k w_k N(mu_k, sigma_k^2)."""
    _check_mixture(means, stds, weights)
    component = torch.multinomial(torch.tensor(weights, dtype=torch.float64), n, replacement=True,
                                  generator=generator)
    mu = torch.tensor(means, dtype=torch.float32)[component]
    sigma = torch.tensor(stds, dtype=torch.float32)[component]
    return (mu + sigma * torch.randn(n, generator=generator)).unsqueeze(1)


class MLP1d(nn.Module):
    """A small fully connected network, ``in_features`` -> hidden (LeakyReLU) -> 1 output.

    As a generator it maps noise z (shape (n, in_features)) to samples (n, 1); as a
    discriminator (``in_features=1``) it maps samples to logits (n, 1).
    """

    def __init__(self, in_features: int = 1, hidden: int = 32, layers: int = 2) -> None:
        super().__init__()
        if in_features < 1 or hidden < 1 or layers < 1:
            raise ValueError(f"in_features, hidden and layers must be >= 1, got {in_features}, "
                             f"{hidden}, {layers}")
        modules: list[nn.Module] = []
        width = in_features
        for _ in range(layers):
            modules += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        modules.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*modules)
        self.in_features = in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"expected input of shape (n, {self.in_features}), got {tuple(x.shape)}")
        return self.net(x)


def wasserstein_1d(a: torch.Tensor, b: torch.Tensor) -> float:
    """Wasserstein-1 (earth mover's) distance between two equally large 1-D samples.

    In one dimension the optimal transport pairs the i-th smallest value of ``a`` with the
    i-th smallest of ``b``, so the distance is the mean absolute difference of sorted samples.
    """
    a, b = a.reshape(-1), b.reshape(-1)
    if a.numel() != b.numel() or a.numel() == 0:
        raise ValueError(f"expected two non-empty samples of the same size, got {a.numel()} and {b.numel()}")
    return (a.sort().values - b.sort().values).abs().mean().item()
