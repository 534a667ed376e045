"""The from-scratch optimizers of chapter 4.1 against torch.optim, and the chapter's claims."""

from __future__ import annotations

import pytest
import torch

from kbook.scratch import losses
from kbook.scratch.optim import AdamState, adam_init, adam_step, momentum_step, sgd_step

SHAPES = [(5,), (3, 4), (2, 3, 2)]


def quartic_loss(params: list[torch.Tensor]) -> torch.Tensor:
    """A non-quadratic loss, so that the gradients change from step to step in a non-trivial way."""
    return sum(((p - 0.3 * i) ** 2).sum() + 0.1 * (p**4).sum() + p.sin().sum()
               for i, p in enumerate(params))


def run_both(scratch_update, make_torch_optimizer, steps: int = 300):
    """Run the same loss with a from-scratch update and a torch.optim optimizer; return the
    largest parameter difference seen at any step (relative to the parameter's size)."""
    gen = torch.Generator().manual_seed(0)
    start = [torch.randn(shape, generator=gen, dtype=torch.float64) for shape in SHAPES]
    ours = [p.clone() for p in start]
    states = [None] * len(ours)
    theirs = [p.clone().requires_grad_(True) for p in start]
    optimizer = make_torch_optimizer(theirs)
    worst = 0.0
    for _ in range(steps):
        leaves = [p.clone().requires_grad_(True) for p in ours]
        grads = torch.autograd.grad(quartic_loss(leaves), leaves)
        for i, g in enumerate(grads):
            ours[i], states[i] = scratch_update(ours[i], g, states[i])
        optimizer.zero_grad()
        quartic_loss(theirs).backward()
        optimizer.step()
        for a, b in zip(ours, theirs, strict=True):
            worst = max(worst, ((a - b.detach()).abs().max() / (1 + b.detach().abs().max())).item())
    return worst, ours, start


def test_sgd_matches_torch_every_step():
    def update(p, g, _):
        return sgd_step(p, g, lr=0.05), None

    worst, ours, start = run_both(update, lambda ps: torch.optim.SGD(ps, lr=0.05))
    assert worst < 1e-12
    moved = max((a - b).abs().max().item() for a, b in zip(ours, start, strict=True))
    assert moved > 0.1, "the parameters did not move"


@pytest.mark.parametrize("mu", [0.5, 0.9, 0.99])
def test_momentum_matches_torch_every_step(mu):
    def update(p, g, v):
        return momentum_step(p, g, torch.zeros_like(p) if v is None else v, lr=0.01, momentum=mu)

    worst, _, _ = run_both(update, lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=mu))
    assert worst < 1e-10


@pytest.mark.parametrize("lr,betas,eps", [(1e-3, (0.9, 0.999), 1e-8), (0.05, (0.8, 0.99), 1e-3),
                                          (0.02, (0.0, 0.9), 1e-8)])
def test_adam_matches_torch_every_step(lr, betas, eps):
    def update(p, g, state):
        return adam_step(p, g, adam_init(p) if state is None else state, lr=lr, betas=betas, eps=eps)

    worst, _, _ = run_both(update, lambda ps: torch.optim.Adam(ps, lr=lr, betas=betas, eps=eps))
    assert worst < 1e-10


def test_a_wrong_convention_is_caught():
    """Adam without bias correction must NOT match torch: the comparison can fail."""
    def update(p, g, state):
        state = adam_init(p) if state is None else state
        m = 0.9 * state.m + 0.1 * g
        v = 0.999 * state.v + 0.001 * g * g
        return p - 1e-2 * m / (v.sqrt() + 1e-8), AdamState(state.step + 1, m, v)

    worst, _, _ = run_both(update, lambda ps: torch.optim.Adam(ps, lr=1e-2), steps=5)
    assert worst > 1e-3


def test_momentum_velocity_is_a_running_sum():
    """With a constant gradient g the velocity after t steps is g (1 + mu + ... + mu^(t-1))."""
    p, v, g = torch.zeros(3), torch.zeros(3), torch.tensor([1.0, -2.0, 0.5])
    for _ in range(4):
        p, v = momentum_step(p, g, v, lr=0.1, momentum=0.5)
    assert torch.allclose(v, g * (1 + 0.5 + 0.25 + 0.125))


def test_adam_first_step_has_size_lr():
    """Bias correction makes Adam's first step exactly lr * sign(g) (for |g| >> eps)."""
    p = torch.zeros(4, dtype=torch.float64)
    g = torch.tensor([3.0, -0.01, 100.0, -7.0], dtype=torch.float64)
    new, state = adam_step(p, g, adam_init(p), lr=0.1)
    assert torch.allclose(new, -0.1 * torch.sign(g), atol=1e-8)
    assert state.step == 1


def test_inputs_are_not_modified():
    p, g, v = torch.ones(3), torch.ones(3), torch.ones(3)
    sgd_step(p, g, lr=0.1)
    momentum_step(p, g, v, lr=0.1)
    state = AdamState(3, torch.full((3,), 0.2), torch.full((3,), 0.3))
    adam_step(p, g, state)
    assert torch.equal(p, torch.ones(3)) and torch.equal(v, torch.ones(3))
    assert torch.equal(state.m, torch.full((3,), 0.2)) and torch.equal(state.v, torch.full((3,), 0.3))


def test_learning_rate_threshold_of_gradient_descent_on_least_squares():
    """Chapter 4.1's claim: on a quadratic loss gradient descent converges for lr < 2/lambda_max
    and diverges for lr > 2/lambda_max (lambda_max: the Hessian's largest eigenvalue)."""
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(40, generator=gen, dtype=torch.float64) * 3
    y = 2 * x + 1 + 0.3 * torch.randn(40, generator=gen, dtype=torch.float64)
    X = torch.stack([x, torch.ones_like(x)], dim=1)
    hessian = 2 * X.T @ X / len(x)  # of the mean squared error
    critical = 2 / torch.linalg.eigvalsh(hessian).max().item()
    best = torch.linalg.lstsq(X, y.unsqueeze(1)).solution.squeeze(1)

    def distance_after(lr, steps=2000):
        theta = torch.zeros(2, dtype=torch.float64)
        for _ in range(steps):
            theta = sgd_step(theta, 2 * X.T @ (X @ theta - y) / len(x), lr)
        return (theta - best).norm().item()

    assert distance_after(0.98 * critical) < 1e-6
    assert distance_after(1.02 * critical) > 1e3


def test_half_sum_gradient_is_n_over_2_times_mean_gradient():
    """The seeds' 'MSE' 1/2 sum(...) has the same minimiser as the mean, but a gradient n/2 times
    larger, so the same learning rate takes steps n/2 times longer."""
    gen = torch.Generator().manual_seed(2)
    x, y = (torch.randn(30, generator=gen, dtype=torch.float64) for _ in range(2))
    w = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    (g_half_sum,) = torch.autograd.grad(0.5 * losses.mse(w * x, y, reduction="sum"), w)
    (g_mean,) = torch.autograd.grad(losses.mse(w * x, y), w)
    torch.testing.assert_close(g_half_sum, g_mean * 30 / 2)
    w0 = w.detach()
    step_half_sum, step_mean = sgd_step(w0, g_half_sum, 0.01) - w0, sgd_step(w0, g_mean, 0.01) - w0
    torch.testing.assert_close(step_half_sum, 15 * step_mean)


def test_bad_inputs_raise_clear_errors():
    p = torch.zeros(3, 2)
    with pytest.raises(ValueError, match=r"expected a gradient of shape \(3, 2\)"):
        sgd_step(p, torch.zeros(2, 3), lr=0.1)
    with pytest.raises(ValueError, match="learning rate must be >= 0"):
        sgd_step(p, p, lr=-1.0)
    with pytest.raises(ValueError, match=r"expected a velocity of shape \(3, 2\)"):
        momentum_step(p, p, torch.zeros(3), lr=0.1)
    with pytest.raises(ValueError, match="momentum must be >= 0"):
        momentum_step(p, p, p, lr=0.1, momentum=-0.5)
    with pytest.raises(ValueError, match=r"betas in \[0, 1\)"):
        adam_step(p, p, adam_init(p), betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="eps must be >= 0"):
        adam_step(p, p, adam_init(p), eps=-1e-8)
    with pytest.raises(ValueError, match="start from adam_init"):
        adam_step(p, p, adam_init(torch.zeros(3)))
