"""The from-scratch activations and losses of chapter 4.3 against PyTorch, and the seeds' examples."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from kbook.scratch import activations as act
from kbook.scratch import losses

X = torch.cat([torch.linspace(-12, 12, 2001, dtype=torch.float64),
               torch.tensor([-1000.0, -50.0, -1e-8, 0.0, 1e-8, 50.0, 1000.0], dtype=torch.float64)])

ACTIVATIONS = [
    ("sigmoid", act.sigmoid, act.sigmoid_grad, torch.sigmoid),
    ("tanh", act.tanh, act.tanh_grad, torch.tanh),
    ("relu", act.relu, act.relu_grad, torch.relu),
    ("gelu", act.gelu, act.gelu_grad, F.gelu),
    ("gelu_tanh", lambda x: act.gelu(x, "tanh"), lambda x: act.gelu_grad(x, "tanh"),
     lambda x: F.gelu(x, approximate="tanh")),
]


@pytest.mark.parametrize("name,f,_,reference", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_matches_torch(name, f, _, reference):
    ours, theirs = f(X), reference(X)
    assert torch.isfinite(ours).all(), f"{name} overflowed"
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,f,grad,reference", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_derivative_matches_autograd(name, f, grad, reference):
    x = X.clone().requires_grad_(True)
    (autograd,) = torch.autograd.grad(reference(x).sum(), x)
    torch.testing.assert_close(grad(X), autograd, rtol=1e-10, atol=1e-12)


def test_saturation_and_dead_zone_values():
    """The derivative facts chapter 4.3 builds on: sigmoid' <= 1/4, tanh' <= 1, both ~0 far out;
    ReLU's derivative is exactly 0 for every negative input."""
    assert act.sigmoid_grad(torch.tensor(0.0)).item() == pytest.approx(0.25)
    assert act.sigmoid_grad(X).max().item() == pytest.approx(0.25)
    assert act.tanh_grad(X).max().item() == pytest.approx(1.0)
    assert act.sigmoid_grad(torch.tensor(10.0)).item() < 5e-5
    assert act.tanh_grad(torch.tensor(5.0)).item() < 2e-4
    assert (act.relu_grad(X[X < 0]) == 0).all()


def test_activation_bad_inputs():
    with pytest.raises(TypeError, match="floating-point"):
        act.sigmoid(torch.arange(3))
    with pytest.raises(TypeError, match="torch.Tensor"):
        act.relu([1.0, -1.0])
    with pytest.raises(ValueError, match="'none' or 'tanh'"):
        act.gelu(X, approximate="erf")


# ---------------------------------------------------------------- losses vs torch.nn.functional

def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_match_torch(reduction):
    pred, target = rand(7, 3), rand(7, 3, seed=1)
    torch.testing.assert_close(losses.mse(pred, target, reduction),
                               F.mse_loss(pred, target, reduction=reduction))

    z = 4 * rand(50)
    y = (rand(50, seed=2) > 0).double()
    torch.testing.assert_close(losses.binary_cross_entropy(torch.sigmoid(z), y, reduction),
                               F.binary_cross_entropy(torch.sigmoid(z), y, reduction=reduction))
    torch.testing.assert_close(losses.binary_cross_entropy_with_logits(z, y, reduction),
                               F.binary_cross_entropy_with_logits(z, y, reduction=reduction))

    logits = 5 * rand(6, 4)
    classes = torch.tensor([0, 3, 1, 1, 2, 3])
    torch.testing.assert_close(losses.cross_entropy(logits, classes, reduction),
                               F.cross_entropy(logits, classes, reduction=reduction))


def test_log_softmax_matches_torch_even_for_huge_logits():
    for logits in (rand(5, 8), torch.tensor([[1000.0, 0.0, -1000.0], [3.0, 3.0, 3.0]], dtype=torch.float64)):
        for dim in (0, 1):
            ours = losses.log_softmax(logits, dim=dim)
            assert torch.isfinite(ours).all()
            torch.testing.assert_close(ours, F.log_softmax(logits, dim=dim))


def test_logits_version_stays_finite_where_probabilities_fail():
    z, y = torch.tensor([40.0], dtype=torch.float64), torch.tensor([0.0], dtype=torch.float64)
    assert losses.binary_cross_entropy_with_logits(z, y).item() == pytest.approx(40.0)
    # sigmoid(40) rounds to exactly 1 in float64, so log(1 - p) hits PyTorch's floor of -100
    assert losses.binary_cross_entropy(torch.sigmoid(z), y).item() == pytest.approx(100.0)


def test_log_is_floored_at_minus_100_for_tiny_positive_probabilities_too():
    p = torch.tensor([1e-60, 1 - 1e-16], dtype=torch.float64)  # log(1e-60) = -138; 1 - p is 1.1e-16
    y = torch.tensor([1.0, 0.0], dtype=torch.float64)
    ours = losses.binary_cross_entropy(p, y, "none")
    torch.testing.assert_close(ours, F.binary_cross_entropy(p, y, reduction="none"))
    assert ours[0].item() == 100.0


def test_categorical_cross_entropy_matches_soft_target_cross_entropy():
    logits, target_logits = rand(4, 5), rand(4, 5, seed=3)
    q, p = logits.softmax(dim=1), target_logits.softmax(dim=1)
    torch.testing.assert_close(losses.categorical_cross_entropy(q, p),
                               F.cross_entropy(logits, p, reduction="none"))
    # the distributions may lie along another dimension: here down the columns
    torch.testing.assert_close(losses.categorical_cross_entropy(q.T, p.T, dim=0),
                               F.cross_entropy(logits, p, reduction="none"))


def test_loss_gradients_match_autograd():
    """The gradients chapter 4.3 derives: d/dz BCE(sigmoid(z), y) = p - y;
    d/dz cross_entropy = softmax(z) - onehot(y); d/dpred mean squared error = 2 (pred - y) / n."""
    z = rand(10).requires_grad_(True)
    y = (rand(10, seed=4) > 0).double()
    (g,) = torch.autograd.grad(losses.binary_cross_entropy_with_logits(z, y, "sum"), z)
    torch.testing.assert_close(g, torch.sigmoid(z.detach()) - y)

    logits = rand(3, 4).requires_grad_(True)
    classes = torch.tensor([2, 0, 3])
    (g,) = torch.autograd.grad(losses.cross_entropy(logits, classes, "sum"), logits)
    torch.testing.assert_close(g, logits.detach().softmax(1) - F.one_hot(classes, 4).double())

    pred = rand(6).requires_grad_(True)
    target = rand(6, seed=5)
    (g,) = torch.autograd.grad(losses.mse(pred, target), pred)
    torch.testing.assert_close(g, 2 * (pred.detach() - target) / 6)


# ---------------------------------------------------------------- the seeds' worked examples (factcheck B6)

def t(values):
    return torch.tensor(values, dtype=torch.float64)


def test_seed_003_mse_example():
    y, y_hat = t([2.0, 3.0, 4.0]), t([2.5, 3.2, 3.8])
    sse = losses.mse(y_hat, y, reduction="sum").item()
    assert 0.5 * sse == pytest.approx(0.165, abs=1e-12)  # the seed's "1/2 sum", as recomputed in B6
    assert losses.mse(y_hat, y).item() == pytest.approx(0.11, abs=1e-12)  # the true mean squared error
    assert sse == pytest.approx(0.33, abs=1e-12)


def test_seed_003_cross_entropy_example():
    y, y_hat = t([0.0, 1.0, 1.0]), t([0.8, 0.9, 0.95])
    seed_formula = -(y * torch.log(y_hat)).sum().item()
    assert seed_formula == pytest.approx(-(math.log(0.9) + math.log(0.95)), abs=1e-12)
    assert seed_formula == pytest.approx(0.1567, abs=5e-5)
    with pytest.raises(ValueError, match="not a probability distribution"):
        losses.categorical_cross_entropy(y_hat, y)
    assert losses.binary_cross_entropy(y_hat, y, "sum").item() == pytest.approx(1.7661, abs=5e-5)
    assert losses.binary_cross_entropy(y_hat, y).item() == pytest.approx(0.5887, abs=5e-5)


def test_seed_004_cross_entropy_example():
    y, p = t([1.0, 0.0, 1.0]), t([0.8, 0.2, 0.9])
    seed_formula = -(y * torch.log(p)).sum().item()
    assert seed_formula == pytest.approx(0.3285, abs=5e-5)  # the seed's own arithmetic is right
    with pytest.raises(ValueError, match="sums to"):
        losses.categorical_cross_entropy(p, y)
    assert losses.binary_cross_entropy(p, y, "sum").item() == pytest.approx(0.5516, abs=5e-5)
    assert losses.binary_cross_entropy(p, y).item() == pytest.approx(0.1839, abs=5e-5)
    assert losses.binary_cross_entropy(p, y, "sum").item() == pytest.approx(
        -(2 * math.log(0.8) + math.log(0.9)), abs=1e-12)


# ---------------------------------------------------------------- bad input

def test_loss_bad_inputs():
    a = torch.zeros(3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"expected target of shape \(3,\)"):
        losses.mse(a, torch.zeros(2, dtype=torch.float64))
    with pytest.raises(ValueError, match="reduction must be one of"):
        losses.mse(a, a, reduction="avg")
    with pytest.raises(TypeError, match="floating-point"):
        losses.mse(a, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"probabilities p must lie in \[0, 1\]"):
        losses.binary_cross_entropy(t([0.5, 1.2, 0.1]), a)
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\]"):
        losses.binary_cross_entropy_with_logits(a, t([0.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match=r"expected logits of shape \(N, C\)"):
        losses.cross_entropy(a, torch.tensor([0]))
    with pytest.raises(ValueError, match=r"expected target of shape \(2,\) holding integer class indices"):
        losses.cross_entropy(torch.zeros(2, 3), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"class indices must lie in \[0, 3\)"):
        losses.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(TypeError, match="floating-point"):
        losses.log_softmax(torch.arange(4))


@pytest.mark.parametrize("name,f,_,reference", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_autograd_through_the_from_scratch_activation_matches_torch(name, f, _, reference):
    ours_x, theirs_x = X.clone().requires_grad_(True), X.clone().requires_grad_(True)
    (ours,) = torch.autograd.grad(f(ours_x).sum(), ours_x)
    (theirs,) = torch.autograd.grad(reference(theirs_x).sum(), theirs_x)
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)  # X includes 0 exactly


def test_loss_gradients_match_torch_at_zero_and_saturated_inputs():
    z = torch.tensor([0.0, 0.0, 40.0, -40.0], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=torch.float64)
    (ours,) = torch.autograd.grad(losses.binary_cross_entropy_with_logits(z, y, "sum"), z)
    (theirs,) = torch.autograd.grad(F.binary_cross_entropy_with_logits(z, y, reduction="sum"), z)
    torch.testing.assert_close(ours, theirs)  # 1/2 - y at z = 0

    logits = torch.tensor([20.0, 0.5, -1.0], requires_grad=True)  # sigmoid(20) is exactly 1 in float32
    target = torch.tensor([1.0, 0.0, 1.0])
    (ours,) = torch.autograd.grad(losses.binary_cross_entropy(torch.sigmoid(logits), target), logits)
    (theirs,) = torch.autograd.grad(F.binary_cross_entropy(torch.sigmoid(logits), target), logits)
    assert torch.isfinite(ours).all()
    torch.testing.assert_close(ours, theirs)

    q = torch.tensor([0.7, 0.3, 0.0], requires_grad=True)  # q = 0 where p = 0: a 0 log 0 term
    p = torch.tensor([1.0, 0.0, 0.0])
    (grad,) = torch.autograd.grad(losses.categorical_cross_entropy(q, p), q)
    torch.testing.assert_close(grad, torch.tensor([-1 / 0.7, 0.0, 0.0]))


def test_cross_entropy_is_infinite_where_the_target_has_mass_the_prediction_lacks():
    q = torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    p = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    assert losses.categorical_cross_entropy(q, p).item() == math.inf
    assert losses.categorical_cross_entropy(p, p).item() == 0.0  # where p = 0, log q is never taken


@pytest.mark.parametrize("dtype, big", [(torch.float64, 1000.0), (torch.float32, 100.0)])
def test_bce_with_logits_stays_finite_at_extreme_logits(dtype, big):
    z = torch.tensor([-big, big, -big, big], dtype=dtype)
    y = torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=dtype)
    ours = losses.binary_cross_entropy_with_logits(z, y, reduction="none")
    torch.testing.assert_close(ours, F.binary_cross_entropy_with_logits(z, y, reduction="none"))
    assert ours[2].item() == big and ours[3].item() == big  # confidently wrong costs |z|, not inf
