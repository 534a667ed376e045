"""The GAN objective of chapter 4.8 (kbook.scratch.gan) against PyTorch and hand-worked values."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from kbook.scratch import gan


def test_softplus_matches_torch_and_does_not_overflow():
    a = torch.tensor([-1000.0, -30.0, -1.0, 0.0, 2.5, 30.0, 1000.0], dtype=torch.float64, requires_grad=True)
    assert torch.allclose(gan.softplus(a), F.softplus(a), atol=1e-12, rtol=0)
    assert torch.isfinite(gan.softplus(a)).all()
    (grad,) = torch.autograd.grad(gan.softplus(a).sum(), a)
    assert torch.allclose(grad, torch.sigmoid(a), atol=1e-12)  # including 1/2 at a = 0


def test_losses_match_torch_binary_cross_entropy():
    gen = torch.Generator().manual_seed(0)
    real = 3 * torch.randn(50, 1, generator=gen, dtype=torch.float64)
    fake = 3 * torch.randn(70, 1, generator=gen, dtype=torch.float64)
    ones, zeros = torch.ones_like(real), torch.zeros_like(fake)
    expected = F.binary_cross_entropy_with_logits(real, ones) + \
        F.binary_cross_entropy_with_logits(fake, zeros)
    assert gan.discriminator_loss(real, fake).item() == pytest.approx(expected.item(), abs=1e-12)
    by_probability = F.binary_cross_entropy(torch.sigmoid(real), ones) + \
        F.binary_cross_entropy(torch.sigmoid(fake), zeros)
    assert gan.minimax_value(real, fake).item() == pytest.approx(-by_probability.item(), abs=1e-10)
    nonsat = F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    assert gan.generator_loss(fake).item() == pytest.approx(nonsat.item(), abs=1e-12)
    sat = -F.binary_cross_entropy_with_logits(fake, zeros)  # mean log(1 - D)
    assert gan.generator_loss(fake, "saturating").item() == pytest.approx(sat.item(), abs=1e-12)


def test_seed_example_d_real_09_d_fake_01():
    """Seed 000: D(x) = 0.9, D(G(z)) = 0.1; expected values from factcheck.md B6 (by hand: ln)."""
    real = torch.logit(torch.tensor([0.9], dtype=torch.float64))
    fake = torch.logit(torch.tensor([0.1], dtype=torch.float64))
    assert gan.discriminator_loss(real, fake).item() == pytest.approx(-2 * math.log(0.9), abs=1e-12)
    assert gan.discriminator_loss(real, fake).item() == pytest.approx(0.2107, abs=5e-5)
    assert gan.generator_loss(fake).item() == pytest.approx(2.3026, abs=5e-5)
    assert gan.generator_loss(fake, "saturating").item() == pytest.approx(math.log(0.9), abs=1e-12)


def test_generator_gradients_saturate_as_derived():
    """d/da of the saturating loss is -D, of the non-saturating loss -(1 - D)."""
    a = torch.linspace(-8, 8, 33, dtype=torch.float64).requires_grad_(True)
    for kind, expected in (("saturating", -torch.sigmoid(a)), ("non_saturating", torch.sigmoid(a) - 1)):
        (grad,) = torch.autograd.grad(gan.generator_loss(a, kind) * a.numel(), a)
        assert torch.allclose(grad, expected.detach(), atol=1e-12), kind


def test_optimal_discriminator_maximises_the_value_pointwise():
    x = torch.linspace(-3, 4, 41, dtype=torch.float64)
    p = gan.mixture_pdf(x, [0.0], [1.0], [1.0])
    q = gan.mixture_pdf(x, [1.5], [0.75], [1.0])
    d_star = gan.optimal_discriminator(p, q)
    y = torch.linspace(1e-4, 1 - 1e-4, 9999, dtype=torch.float64)
    objective = p[:, None] * torch.log(y) + q[:, None] * torch.log1p(-y)
    assert (y[objective.argmax(dim=1)] - d_star).abs().max() < 2e-4
    assert torch.allclose(gan.optimal_discriminator(p, p), torch.full_like(p, 0.5))


def test_value_at_optimal_discriminator_is_minus_log4_plus_2jsd():
    x = torch.linspace(-10, 12, 40001, dtype=torch.float64)
    p = gan.mixture_pdf(x, [0.0], [1.0], [1.0])
    q = gan.mixture_pdf(x, [1.5], [0.75], [1.0])
    d = gan.optimal_discriminator(p, q)
    value = torch.trapezoid(p * torch.log(d) + q * torch.log(q / (p + q)), x)  # 1 - D* = q / (p + q)
    m = (p + q) / 2
    jsd = 0.5 * torch.trapezoid(p * torch.log(p / m), x) + 0.5 * torch.trapezoid(q * torch.log(q / m), x)
    assert value.item() == pytest.approx(-math.log(4) + 2 * jsd.item(), abs=1e-9)
    assert 0 < jsd.item() < math.log(2)


def test_mixture_pdf_integrates_to_one_and_samples_match():
    x = torch.linspace(-10, 10, 20001, dtype=torch.float64)
    pdf = gan.mixture_pdf(x, [-2.0, 2.0], [0.5, 1.0], [0.3, 0.7])
    assert torch.trapezoid(pdf, x).item() == pytest.approx(1.0, abs=1e-9)
    samples = gan.sample_mixture(20000, [-2.0, 2.0], [0.5, 1.0], [0.3, 0.7],
                                 generator=torch.Generator().manual_seed(1))
    assert samples.shape == (20000, 1)
    assert samples.mean().item() == pytest.approx(0.3 * -2 + 0.7 * 2, abs=0.05)
    assert (samples < 0).float().mean().item() == pytest.approx(0.3 + 0.7 * 0.0228, abs=0.02)


def test_wasserstein_1d():
    a = torch.tensor([0.0, 1.0, 2.0])
    assert gan.wasserstein_1d(a, a + 0.5) == pytest.approx(0.5)
    assert gan.wasserstein_1d(a, torch.tensor([2.0, 0.0, 1.0])) == 0.0  # order does not matter
    with pytest.raises(ValueError, match="same size"):
        gan.wasserstein_1d(a, torch.zeros(4))


def test_mlp1d_shapes():
    g = gan.MLP1d(in_features=4, hidden=8)
    assert g(torch.randn(5, 4)).shape == (5, 1)
    with pytest.raises(ValueError, match=r"expected input of shape \(n, 4\)"):
        g(torch.randn(5, 1))


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="expected the shape of p_data, \\(3,\\)"):
        gan.optimal_discriminator(torch.ones(3), torch.ones(4))
    with pytest.raises(ValueError, match="both densities are 0"):
        gan.optimal_discriminator(torch.zeros(2), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="non-negative"):
        gan.optimal_discriminator(torch.tensor([-1.0]), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="kind must be one of"):
        gan.generator_loss(torch.zeros(3), "wasserstein")
    with pytest.raises(TypeError, match="floating-point tensor"):
        gan.minimax_value(torch.zeros(3, dtype=torch.long), torch.zeros(3))
    with pytest.raises(ValueError, match="empty"):
        gan.discriminator_loss(torch.zeros(0), torch.zeros(3))
    with pytest.raises(ValueError, match="same non-zero length"):
        gan.mixture_pdf(torch.zeros(3), [0.0, 1.0], [1.0], [1.0])
    with pytest.raises(ValueError, match="summing to 1"):
        gan.sample_mixture(3, [0.0, 1.0], [1.0, 1.0], [0.5, 0.6])


def test_mixture_samples_have_each_components_spread():
    gen = torch.Generator().manual_seed(0)
    x = gan.sample_mixture(20_000, means=[-10.0, 10.0], stds=[0.5, 2.0], weights=[0.5, 0.5],
                           generator=gen).squeeze(1)
    left, right = x[x < 0], x[x >= 0]
    assert abs(left.std().item() - 0.5) < 0.03 and abs(right.std().item() - 2.0) < 0.1
    assert abs(left.mean().item() + 10) < 0.05 and abs(right.mean().item() - 10) < 0.1


def test_wasserstein_1d_moves_every_sample():
    assert gan.wasserstein_1d(torch.tensor([-1.0, 1.0]), torch.tensor([0.0, 0.0])) == 1.0  # same means
    assert gan.wasserstein_1d(torch.tensor([3.0, 0.0]), torch.tensor([1.0, 2.0])) == 1.0  # sorted pairs


def test_mlp1d_has_the_layers_it_describes():
    net = gan.MLP1d(in_features=3, hidden=8, layers=3)
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(3, 8), (8, 8), (8, 8), (8, 1)]
    slopes = [m.negative_slope for m in net.modules() if isinstance(m, torch.nn.LeakyReLU)]
    assert slopes == [0.2] * 3
