"""The style losses of chapter 4.9 (kbook.scratch.style) against autograd and the paper's formulas."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from kbook.scratch import style


def features(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_gram_matrix_by_loops_and_against_torch_cov():
    f = features(3, 4, 5)
    gram = style.gram_matrix(f)
    by_loops = torch.tensor([[sum(f[i, h, w] * f[j, h, w] for h in range(4) for w in range(5)) / 20
                              for j in range(3)] for i in range(3)], dtype=torch.float64)
    assert torch.allclose(gram, by_loops, atol=1e-12)
    flat = f.flatten(1)
    mean = flat.mean(dim=1, keepdim=True)
    assert torch.allclose(gram - mean @ mean.T, torch.cov(flat, correction=0), atol=1e-12)


def test_gram_matrix_batched_and_permutation_invariant():
    f = features(2, 3, 4, 5)
    assert style.gram_matrix(f).shape == (2, 3, 3)
    assert torch.allclose(style.gram_matrix(f)[1], style.gram_matrix(f[1]))
    perm = torch.randperm(20, generator=torch.Generator().manual_seed(1))
    shuffled = f[1].flatten(1)[:, perm].reshape(3, 4, 5)
    assert torch.allclose(style.gram_matrix(shuffled), style.gram_matrix(f[1]), atol=1e-12)
    assert style.content_loss(shuffled, f[1]) > 1.0  # the content loss does see the shuffle


def test_content_loss_and_gradient():
    f, p = features(4, 3, 3), features(4, 3, 3, seed=1)
    expected = F.mse_loss(f, p, reduction="sum") / 2
    assert style.content_loss(f, p).item() == pytest.approx(expected.item(), abs=1e-12)
    x = f.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(style.content_loss(x, p), x)
    assert torch.allclose(style.content_loss_grad(f, p), grad, atol=1e-12)


def test_style_layer_loss_equals_the_papers_unnormalised_formula():
    f, s = features(5, 4, 6), features(5, 4, 6, seed=2)
    n, m = 5, 24
    g_raw, a_raw = f.flatten(1) @ f.flatten(1).T, s.flatten(1) @ s.flatten(1).T
    paper = ((g_raw - a_raw) ** 2).sum() / (4 * n ** 2 * m ** 2)
    assert style.style_layer_loss(f, style.gram_matrix(s)).item() == pytest.approx(paper.item(), rel=1e-12)
    mse = F.mse_loss(style.gram_matrix(f), style.gram_matrix(s), reduction="sum") / (4 * n ** 2)
    assert style.style_layer_loss(f, style.gram_matrix(s)).item() == pytest.approx(mse.item(), rel=1e-12)
    assert style.style_layer_loss(s, style.gram_matrix(s)).item() == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 3, 2, 4)])
def test_style_layer_grad_matches_autograd_and_gradcheck(shape):
    f = features(*shape)
    target = style.gram_matrix(features(*shape, seed=3))
    x = f.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(style.style_layer_loss(x, target), x)
    assert torch.allclose(style.style_layer_grad(f, target), grad, atol=1e-12)
    assert torch.autograd.gradcheck(lambda t: style.style_layer_loss(t, target), (x,))


def test_style_layer_grad_uses_the_symmetric_part_of_a_nonsymmetric_target():
    f = features(3, 2, 2)
    target = features(3, 3, seed=4)  # not a Gram matrix: not symmetric
    x = f.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(style.style_layer_loss(x, target), x)
    assert torch.allclose(style.style_layer_grad(f, target), grad, atol=1e-12)


def test_style_loss_is_weighted_sum_over_layers():
    layers = [features(2, 3, 3, seed=i) for i in range(3)]
    targets = [style.gram_matrix(features(2, 3, 3, seed=10 + i)) for i in range(3)]
    weights = [0.5, 0.3, 0.2]
    expected = sum(w * style.style_layer_loss(f, a) for f, a, w in zip(layers, targets, weights, strict=True))
    assert style.style_loss(layers, targets, weights).item() == pytest.approx(expected.item(), rel=1e-12)


def test_seed_004_total_loss():
    """Seed 004: alpha = 0.7, L_c = 0.5, beta = 0.3, L_s = 0.3; factcheck.md B6 gives 0.44."""
    assert style.total_loss(0.5, 0.3, alpha=0.7, beta=0.3) == pytest.approx(0.44, abs=1e-12)
    as_tensor = style.total_loss(torch.tensor(0.5), torch.tensor(0.3), alpha=0.7, beta=0.3)
    assert as_tensor.item() == pytest.approx(0.44, abs=1e-7)


def test_bad_inputs_raise_clear_errors():
    f = features(3, 4, 5)
    with pytest.raises(ValueError, match=r"expected \(3, 4, 5\)"):
        style.content_loss(f, features(3, 4, 4))
    with pytest.raises(ValueError, match=r"target_gram has shape \(4, 4\); expected \(3, 3\)"):
        style.style_layer_loss(f, torch.zeros(4, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"\(C, H, W\) or \(B, C, H, W\)"):
        style.gram_matrix(torch.zeros(4, 5))
    with pytest.raises(TypeError, match="floating-point"):
        style.gram_matrix(torch.zeros(3, 4, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="one target Gram and one weight per layer"):
        style.style_loss([f], [style.gram_matrix(f)], [0.5, 0.5])
    with pytest.raises(ValueError, match="one target Gram and one weight per layer"):
        style.style_loss([], [], [])  # no layer: no style term at all
    with pytest.raises(ValueError, match="non-negative"):
        style.total_loss(1.0, 1.0, alpha=-1.0, beta=1.0)


def test_integer_features_get_a_dtype_error():
    with pytest.raises(TypeError, match=r"got dtype torch.int64: convert it with .float\(\)"):
        style.gram_matrix(torch.ones(2, 3, 3, dtype=torch.long))
