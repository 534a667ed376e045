"""Loss functions written from scratch (chapter 4.3).

Each matches its ``torch.nn.functional`` counterpart (``mse_loss``, ``binary_cross_entropy``,
``binary_cross_entropy_with_logits``, ``log_softmax``, ``cross_entropy``) including the
``reduction`` argument, and refuses input those would silently misread: mismatched shapes,
probabilities outside [0, 1], "distributions" that do not sum to 1.
"""

from __future__ import annotations

import torch
from torch import Tensor

REDUCTIONS = ("mean", "sum", "none")
LOG_FLOOR = -100.0  # PyTorch's binary_cross_entropy clamps log(p) here so that p = 0 gives a finite loss


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _check_pair(pred: Tensor, target: Tensor, reduction: str, what: str = "pred") -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if not pred.is_floating_point() or not target.is_floating_point():
        raise TypeError(f"expected floating-point tensors, got {what} {pred.dtype} and target {target.dtype}")
    if target.shape != pred.shape:
        raise ValueError(f"expected target of shape {tuple(pred.shape)} (the shape of {what}), "
                         f"got {tuple(target.shape)}")


def _check_unit_interval(x: Tensor, name: str) -> None:
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"{name} must lie in [0, 1], got values from {x.min().item():.4g} to "
                         f"{x.max().item():.4g}")


def mse(pred: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error ``mean((pred - target)^2)``; ``reduction="sum"`` gives the sum instead."""
    _check_pair(pred, target, reduction)
    return _reduce((pred - target) ** 2, reduction)


def _floored_log(x: Tensor) -> Tensor:
    """``log(x)`` clamped at ``LOG_FLOOR``, with a finite gradient (0) where ``x = 0``."""
    positive = x > 0
    return torch.where(positive, torch.log(torch.where(positive, x, 1.0)).clamp(min=LOG_FLOOR), LOG_FLOOR)


def binary_cross_entropy(p: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """``-[y log p + (1 - y) log(1 - p)]`` per element, for probabilities ``p`` of the class 1.

    Each element is its own yes/no prediction, so ``p`` need not sum to 1. As in PyTorch, the
    logarithms are clamped at -100.
    """
    _check_pair(p, target, reduction, what="p")
    _check_unit_interval(p, "probabilities p")
    _check_unit_interval(target, "targets")
    log_p, log_1mp = _floored_log(p), _floored_log(1 - p)
    return _reduce(-(target * log_p + (1 - target) * log_1mp), reduction)


def binary_cross_entropy_with_logits(z: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of ``p = sigmoid(z)`` computed from the logit ``z`` directly.

    ``max(z, 0) - z y + log(1 + exp(-|z|))`` equals ``-[y log p + (1 - y) log(1 - p)]`` and
    never takes the log of 0 or the exp of a large number. ``max(z, 0)`` and ``-|z|`` take the
    same branch at ``z = 0``, so autograd gives the true slope ``1/2 - y`` there.
    """
    _check_pair(z, target, reduction, what="z")
    _check_unit_interval(target, "targets")
    positive = z > 0
    softplus = torch.where(positive, z, 0.0) + torch.log1p(torch.exp(torch.where(positive, -z, z)))
    return _reduce(softplus - z * target, reduction)


def log_softmax(z: Tensor, dim: int = -1) -> Tensor:
    """``z - log(sum(exp(z)))`` along ``dim``, shifted by the maximum so ``exp`` cannot overflow."""
    if not z.is_floating_point():
        raise TypeError(f"expected a floating-point tensor of logits, got dtype {z.dtype}")
    shifted = z - z.amax(dim=dim, keepdim=True)
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))


def cross_entropy(logits: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Categorical cross-entropy ``-log softmax(logits)[target]`` for class indices ``target``.

    ``logits`` has shape (N, C) and ``target`` holds N integers in ``[0, C)``, as in
    ``torch.nn.functional.cross_entropy``.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if logits.dim() != 2:
        raise ValueError(f"expected logits of shape (N, C), got {tuple(logits.shape)}")
    n, c = logits.shape
    if target.shape != (n,) or target.is_floating_point():
        raise ValueError(f"expected target of shape ({n},) holding integer class indices, "
                         f"got shape {tuple(target.shape)} and dtype {target.dtype}")
    if target.numel() and (target.min() < 0 or target.max() >= c):
        raise ValueError(f"class indices must lie in [0, {c}), got values from {target.min().item()} "
                         f"to {target.max().item()}")
    picked = log_softmax(logits, dim=1).gather(1, target.long().unsqueeze(1)).squeeze(1)
    return _reduce(-picked, reduction)


def categorical_cross_entropy(q: Tensor, p: Tensor, dim: int = -1, tol: float = 1e-6) -> Tensor:
    """Cross-entropy ``-sum(p log q)`` along ``dim`` between a target distribution ``p`` and a
    predicted distribution ``q``.

    Both must be probability distributions along ``dim`` (entries in [0, 1] that sum to 1
    within ``tol``); the formula means nothing otherwise. Terms with ``p = 0`` contribute 0.
    """
    _check_pair(q, p, "none", what="q")
    for x, name in ((q, "q"), (p, "p")):
        _check_unit_interval(x, f"the probabilities in {name}")
        off = (x.sum(dim=dim) - 1).abs().flatten()
        if off.numel() and off.max() > tol:
            worst = x.sum(dim=dim).flatten()[off.argmax()].item()
            raise ValueError(f"{name} is not a probability distribution along dim {dim}: it sums to "
                             f"{worst:.6g}, expected 1; for independent yes/no predictions use "
                             f"binary_cross_entropy")
    used = p > 0  # log(q) only where p > 0: a 0 * log(0) elsewhere would make the gradient NaN
    terms = torch.where(used, p * torch.log(torch.where(used, q, 1.0)), torch.zeros_like(q))
    return -terms.sum(dim=dim)
