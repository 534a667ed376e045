"""Gradient-descent optimizers written from scratch (chapter 4.1).

Each optimizer is a pure function: it takes a parameter tensor, its gradient and the
optimizer's state, and returns the new parameter and the new state without changing its
inputs. The update rules follow ``torch.optim`` exactly (momentum buffer ``v = mu*v + g``;
Adam's bias corrections, with ``eps`` added after the correction), so a run with these
functions matches a run with ``torch.optim.SGD`` / ``torch.optim.Adam`` step by step.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


class AdamState(NamedTuple):
    """Adam's memory for one parameter tensor: the step count and the two moving averages."""

    step: int
    m: Tensor  # moving average of the gradient (first moment)
    v: Tensor  # moving average of the squared gradient (second moment)


def _check(param: Tensor, grad: Tensor, lr: float) -> None:
    if grad.shape != param.shape:
        raise ValueError(f"expected a gradient of shape {tuple(param.shape)} (the parameter's shape), "
                         f"got {tuple(grad.shape)}")
    if lr < 0:
        raise ValueError(f"the learning rate must be >= 0, got {lr}")


def sgd_step(param: Tensor, grad: Tensor, lr: float) -> Tensor:
    """Plain gradient descent: ``param - lr * grad``."""
    _check(param, grad, lr)
    return param - lr * grad


def momentum_step(param: Tensor, grad: Tensor, velocity: Tensor, lr: float,
                  momentum: float = 0.9) -> tuple[Tensor, Tensor]:
    """SGD with momentum as in ``torch.optim.SGD(momentum=mu)``: ``v = mu*v + g``, ``param - lr*v``.

    Start with ``velocity = torch.zeros_like(param)``. Returns ``(new_param, new_velocity)``.
    """
    _check(param, grad, lr)
    if velocity.shape != param.shape:
        raise ValueError(f"expected a velocity of shape {tuple(param.shape)} (the parameter's shape), "
                         f"got {tuple(velocity.shape)}")
    if momentum < 0:
        raise ValueError(f"momentum must be >= 0, got {momentum}")
    velocity = momentum * velocity + grad
    return param - lr * velocity, velocity


def adam_init(param: Tensor) -> AdamState:
    """Adam's state before the first step: step 0 and zero moments."""
    return AdamState(0, torch.zeros_like(param), torch.zeros_like(param))


def adam_step(param: Tensor, grad: Tensor, state: AdamState, lr: float = 1e-3,
              betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> tuple[Tensor, AdamState]:
    """One step of Adam as in ``torch.optim.Adam``. Returns ``(new_param, new_state)``.

    ``m`` and ``v`` are moving averages of ``g`` and ``g**2``; dividing them by
    ``1 - beta**t`` removes the bias towards their zero start.
    """
    _check(param, grad, lr)
    beta1, beta2 = betas
    if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
        raise ValueError(f"expected betas in [0, 1), got {betas}")
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    if state.m.shape != param.shape or state.v.shape != param.shape:
        raise ValueError(f"expected Adam moments of shape {tuple(param.shape)} (the parameter's shape), got "
                         f"{tuple(state.m.shape)} and {tuple(state.v.shape)}; start from adam_init(param)")
    t = state.step + 1
    m = beta1 * state.m + (1 - beta1) * grad
    v = beta2 * state.v + (1 - beta2) * grad * grad
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return param - lr * m_hat / (v_hat.sqrt() + eps), AdamState(t, m, v)
