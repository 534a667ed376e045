"""Activation functions and their derivatives, written from scratch (chapter 4.3).

Each function works elementwise on a floating-point tensor and matches its PyTorch
counterpart (``torch.sigmoid``, ``torch.tanh``, ``torch.relu``, ``torch.nn.functional.gelu``);
each ``*_grad`` is the derivative that ``torch.autograd`` computes for it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
GELU_TANH_COEF = 0.044715  # the cubic term of the tanh approximation of GELU


def _check(x: Tensor) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"expected a floating-point tensor, got dtype {x.dtype}; convert with x.float()")


def sigmoid(x: Tensor) -> Tensor:
    """``1 / (1 + exp(-x))``, computed without overflow: ``exp`` only ever sees ``-|x|``.

    ``-|x|`` is written with ``where``, not ``abs``, so that at ``x = 0`` autograd differentiates
    the branch in use (``abs`` has slope 0 there, which would give sigmoid a zero gradient at 0).
    """
    _check(x)
    positive = x >= 0
    z = torch.exp(torch.where(positive, -x, x))
    return torch.where(positive, 1 / (1 + z), z / (1 + z))


def sigmoid_grad(x: Tensor) -> Tensor:
    """``sigmoid'(x) = s (1 - s)`` with ``s = sigmoid(x)``; at most 1/4, at ``x = 0``."""
    s = sigmoid(x)
    return s * (1 - s)


def tanh(x: Tensor) -> Tensor:
    """``(e^x - e^-x) / (e^x + e^-x)``, written as ``sign(x) (1 - e^{-2|x|}) / (1 + e^{-2|x|})``.

    As in :func:`sigmoid`, ``|x|`` and the sign come from ``where``, so autograd's slope at 0 is 1.
    """
    _check(x)
    positive = x >= 0
    z = torch.exp(-2 * torch.where(positive, x, -x))
    t = (1 - z) / (1 + z)
    return torch.where(positive, t, -t)


def tanh_grad(x: Tensor) -> Tensor:
    """``tanh'(x) = 1 - tanh(x)^2``; at most 1, at ``x = 0``."""
    t = tanh(x)
    return 1 - t * t


def relu(x: Tensor) -> Tensor:
    """``max(0, x)``."""
    _check(x)
    return torch.where(x > 0, x, torch.zeros_like(x))


def relu_grad(x: Tensor) -> Tensor:
    """1 where ``x > 0``, else 0 (PyTorch also uses 0 at the kink ``x = 0``)."""
    _check(x)
    return (x > 0).to(x.dtype)


def _normal_cdf(x: Tensor) -> Tensor:
    return 0.5 * (1 + torch.erf(x / math.sqrt(2.0)))


def _normal_pdf(x: Tensor) -> Tensor:
    return torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _check_approximate(approximate: str) -> None:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh' (as in torch.nn.functional.gelu), "
                         f"got {approximate!r}")


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """GELU ``x * Phi(x)``, Phi the standard normal CDF; ``approximate="tanh"`` uses
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``."""
    _check(x)
    _check_approximate(approximate)
    if approximate == "tanh":
        return 0.5 * x * (1 + tanh(SQRT_2_OVER_PI * (x + GELU_TANH_COEF * x**3)))
    return x * _normal_cdf(x)


def gelu_grad(x: Tensor, approximate: str = "none") -> Tensor:
    """Derivative of :func:`gelu`: ``Phi(x) + x phi(x)`` (product rule), or that of the tanh form."""
    _check(x)
    _check_approximate(approximate)
    if approximate == "tanh":
        t = tanh(SQRT_2_OVER_PI * (x + GELU_TANH_COEF * x**3))
        du_dx = SQRT_2_OVER_PI * (1 + 3 * GELU_TANH_COEF * x * x)
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du_dx
    return _normal_cdf(x) + x * _normal_pdf(x)
