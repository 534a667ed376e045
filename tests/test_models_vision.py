"""The vision models of Part 3: kbook.models.mlp, kbook.models.cnn and kbook.models.dcgan."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from kbook.models.cnn import CNN, CNNConfig
from kbook.models.dcgan import DCGANConfig, Discriminator, Generator, dcgan_init_
from kbook.models.mlp import MLP, MLPConfig

TINY_GAN = DCGANConfig(latent_size=8, width=8)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def overfit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float) -> float:
    """Train on one fixed batch with Adam and return the final cross-entropy."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return F.cross_entropy(model(x), y).item()


# ---------------------------------------------------------------------------------------- MLP


def test_mlp_output_shape_and_image_flattening():
    model = MLP(MLPConfig(input_size=2, hidden_sizes=(8, 8), output_size=3))
    assert model(torch.randn(5, 2)).shape == (5, 3)
    images = torch.randn(4, 1, 28, 28)
    digits = MLP(MLPConfig(input_size=784, hidden_sizes=(16,), output_size=10))
    out = digits(images)
    assert out.shape == (4, 10)
    assert torch.equal(out, digits(images.reshape(4, 784)))
    assert torch.equal(out, digits(images[:, 0]))


def test_mlp_784_128_64_10_has_109386_parameters():
    model = MLP(MLPConfig(input_size=784, hidden_sizes=(128, 64), output_size=10))
    # weights + biases of each Linear layer
    assert n_params(model) == (784 * 128 + 128) + (128 * 64 + 64) + (64 * 10 + 10) == 109_386
    assert n_params(MLP(MLPConfig(input_size=3, hidden_sizes=(), output_size=2))) == 3 * 2 + 2


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
def test_mlp_overfits_one_batch(activation):
    x, y = torch.randn(32, 2), torch.randint(0, 2, (32,))  # random labels: only memorising fits them
    model = MLP(MLPConfig(input_size=2, hidden_sizes=(64, 64), output_size=2, activation=activation))
    assert F.cross_entropy(model(x), y).item() > 0.5
    assert overfit(model, x, y, steps=300, lr=1e-2) < 0.05


def test_mlp_uses_the_configured_activation_and_dropout():
    torch.manual_seed(0)
    x = torch.randn(64, 2)
    far = {}
    for activation in ("tanh", "sigmoid", "relu"):
        model = MLP(MLPConfig(hidden_sizes=(8, 8), activation=activation)).eval()
        far[activation] = (model(1e5 * x), model(1e6 * x))
    # bounded activations saturate, so inputs far away give the same output; ReLU keeps growing
    for bounded in ("tanh", "sigmoid"):
        torch.testing.assert_close(*far[bounded], atol=1e-4, rtol=0)
    assert (far["relu"][1] - far["relu"][0]).abs().max() > 1.0
    assert not torch.allclose(far["tanh"][1], far["sigmoid"][1])  # saturating at +-1 or at 0 and 1
    dropped = MLP(MLPConfig(hidden_sizes=(8, 8), activation="tanh", dropout=0.5)).train()
    assert not torch.equal(dropped(x), dropped(x))  # dropout draws a new mask each call
    dropped.eval()
    assert torch.equal(dropped(x), dropped(x))
    sigmoid = MLP(MLPConfig(hidden_sizes=(64,), activation="sigmoid", dropout=0.5)).train()
    seen = []
    sigmoid.net[-1].register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0]))
    sigmoid(x)
    assert (seen[0] == 0).float().mean() > 0.3  # a sigmoid is never 0: the zeros are dropout after it
    no_dropout = MLP(MLPConfig(dropout=0.0)).train()
    assert torch.equal(no_dropout(x), no_dropout(x))  # dropout 0 adds no randomness in training


def test_mlp_under_bf16_autocast():
    model = MLP(MLPConfig(input_size=784, hidden_sizes=(32,), output_size=10))
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        logits = model(x)
        loss = F.cross_entropy(logits, y)
    assert logits.shape == (8, 10) and logits.dtype == torch.bfloat16
    assert torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 and torch.isfinite(p.grad).all()
               for p in model.parameters())


def test_mlp_rejects_wrong_input():
    model = MLP(MLPConfig(input_size=2))
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, 2\).*got \(4, 3\)"):
        model(torch.randn(4, 3))
    with pytest.raises(ValueError, match=r"\(batch, 2\)"):
        model(torch.randn(2))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(4, 2, dtype=torch.long))


def test_mlp_config_validation():
    with pytest.raises(ValueError, match="activation must be one of"):
        MLPConfig(activation="swish")
    with pytest.raises(ValueError, match="dropout"):
        MLPConfig(dropout=1.0)
    with pytest.raises(ValueError, match="ints >= 1"):
        MLPConfig(hidden_sizes=(16, 0))


# ---------------------------------------------------------------------------------------- CNN

TINY_CNN = CNNConfig(channels=(4, 8), hidden=32, dropout=0.0)


def test_cnn_output_and_feature_map_shapes():
    model = CNN(CNNConfig()).eval()
    x = torch.randn(3, 1, 28, 28)
    assert model(x).shape == (3, 10)
    maps = model.features(x)
    assert [m.shape for m in maps] == [(3, 32, 14, 14), (3, 64, 7, 7)]
    assert all((m >= 0).all() for m in maps)  # after ReLU and max pooling
    assert torch.equal(model(x[:, 0]), model(x))  # (batch, 28, 28) gets its channel added
    assert model.blocks[0].conv.weight.shape == (32, 1, 3, 3)  # the filters chapter 3.2 shows


def test_cnn_features_are_what_the_classifier_sees():
    model = CNN(CNNConfig()).eval()
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(model.classifier(model.features(x)[-1]), model(x))


def test_cnn_default_has_220234_parameters():
    model = CNN(CNNConfig())
    conv = (1 * 9 * 32 + 32) + (32 * 9 * 64 + 64)  # 3x3 kernels with biases
    dense = (64 * 7 * 7 * 64 + 64) + (64 * 10 + 10)  # 28 -> 14 -> 7 after two poolings
    assert n_params(model) == conv + dense == 220_234


def test_cnn_overfits_one_batch():
    x, y = torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))
    model = CNN(TINY_CNN)
    assert F.cross_entropy(model(x), y).item() > 1.5
    assert overfit(model, x, y, steps=100, lr=3e-3) < 0.02


def test_cnn_under_bf16_autocast():
    model = CNN(CNNConfig(channels=(8, 16), hidden=32))
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        logits = model(x)
        maps = model.features(x)
        loss = F.cross_entropy(logits, y)
    assert logits.shape == (8, 10) and logits.dtype == torch.bfloat16
    assert [m.shape for m in maps] == [(8, 8, 14, 14), (8, 16, 7, 7)]
    assert torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_cnn_rejects_wrong_input():
    model = CNN(TINY_CNN)
    for bad in (torch.randn(2, 1, 32, 32), torch.randn(2, 3, 28, 28), torch.randn(28, 28)):
        with pytest.raises(ValueError, match=r"expected images of shape \(batch, 1, 28, 28\) or "
                                             r"\(batch, 28, 28\), got \(" + ", ".join(map(str, bad.shape))):
            model(bad)
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
    rgb = CNN(CNNConfig(in_channels=3, image_size=32, channels=(4,), hidden=8))
    assert rgb(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match=r"expected images of shape \(batch, 3, 32, 32\), got \(2, 32, 32\)"):
        rgb(torch.randn(2, 32, 32))


def test_cnn_config_validation():
    with pytest.raises(ValueError, match="kernel_size must be an odd"):
        CNNConfig(kernel_size=4)
    with pytest.raises(ValueError, match="too small for 5 2x2 poolings"):
        CNNConfig(channels=(4, 4, 4, 4, 4))
    with pytest.raises(ValueError, match="channels must be a non-empty"):
        CNNConfig(channels=())
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        CNNConfig(dropout=1.0)
    wide = CNN(CNNConfig(kernel_size=5, channels=(4, 8), hidden=8)).eval()  # "same" padding for any odd size
    x = torch.randn(2, 1, 28, 28)
    assert [m.shape[-2:] for m in wide.features(x)] == [(14, 14), (7, 7)] and wide(x).shape == (2, 10)
    tiny = CNN(CNNConfig(image_size=4, channels=(2, 2), hidden=4))  # exactly 2**2: the smallest that fits
    assert tiny(torch.randn(3, 1, 4, 4)).shape == (3, 10)


# -------------------------------------------------------------------------------------- DCGAN


def test_generator_output_shape_and_tanh_range():
    gen = Generator(TINY_GAN)
    images = gen(torch.randn(6, TINY_GAN.latent_size))
    assert images.shape == (6, 1, 28, 28)
    assert images.min() < 0 < images.max()
    with torch.no_grad():  # huge weights: without the tanh the outputs would be far outside [-1, 1]
        for p in gen.parameters():
            p.normal_(0.0, 1.0)
    images = gen(torch.randn(6, TINY_GAN.latent_size))
    assert images.min() >= -1 and images.max() <= 1
    assert images.min() < -0.99 and images.max() > 0.99


def test_discriminator_outputs_one_logit_per_image():
    disc = Discriminator(TINY_GAN)
    logits = disc(torch.rand(6, 1, 28, 28) * 2 - 1)
    assert logits.shape == (6,) and logits.dtype == torch.float32
    assert disc.eval()(torch.rand(1, 1, 28, 28)).shape == (1,)  # a batch of one is still a batch


def test_dcgan_makes_and_judges_colour_images():
    config = DCGANConfig(latent_size=8, width=8, channels=3)
    images = Generator(config)(torch.randn(2, 8))
    assert images.shape == (2, 3, 28, 28) and Discriminator(config)(images).shape == (2,)


def test_dcgan_default_parameter_counts():
    cfg = DCGANConfig()
    d, w = cfg.latent_size, cfg.width
    gen = d * 2 * w * 7 * 7 + 2 * 2 * w + 2 * w * w * 4 * 4 + 2 * w + w * 1 * 4 * 4 + 1  # convs + BN
    disc = 1 * w * 4 * 4 + w + w * 2 * w * 4 * 4 + 2 * 2 * w + 2 * w * 7 * 7 + 1
    assert n_params(Generator(cfg)) == gen == 533_889
    assert n_params(Discriminator(cfg)) == disc == 138_689


def test_dcgan_init_draws_weights_from_normal_0_002():
    gen = Generator(DCGANConfig())  # the 7x7 projection holds 401,408 weights: a tight estimate
    weight = gen.net[0].weight
    assert abs(weight.mean().item()) < 1e-3 and weight.std().item() == pytest.approx(0.02, rel=0.01)
    bn = gen.net[1]
    assert bn.weight.mean().item() == pytest.approx(1.0, abs=0.01) and torch.all(bn.bias == 0)
    conv = nn.Conv2d(16, 32, 5)  # PyTorch's default init is uniform with std ~0.029 here
    conv.apply(dcgan_init_)
    assert conv.weight.std().item() == pytest.approx(0.02, rel=0.05) and torch.all(conv.bias == 0)


def test_dcgan_follows_the_architecture_rules():
    gen, disc = Generator(TINY_GAN), Discriminator(TINY_GAN)
    kinds = {type(m) for m in [*gen.modules(), *disc.modules()]}
    assert not kinds & {nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Linear}
    assert isinstance(gen.net[-1], nn.Tanh) and not isinstance(gen.net[-2], nn.BatchNorm2d)
    assert isinstance(disc.net[1], nn.LeakyReLU) and disc.net[1].negative_slope == 0.2  # no BN on input


def adversarial_step(gen, disc, opt_g, opt_d, real, z):
    """One DCGAN step with BCE-with-logits losses; returns (discriminator loss, generator loss)."""
    fake = gen(z)
    real_logits, fake_logits = disc(real), disc(fake.detach())
    loss_d = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits)) + \
        F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    fake_logits = disc(fake)
    loss_g = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))  # non-saturating
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    return loss_d, loss_g


def test_one_adversarial_step_updates_both_networks():
    gen, disc = Generator(TINY_GAN), Discriminator(TINY_GAN)
    opt_g = torch.optim.Adam(gen.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.5, 0.999))
    before_g = [p.detach().clone() for p in gen.parameters()]
    before_d = [p.detach().clone() for p in disc.parameters()]
    real = torch.rand(8, 1, 28, 28) * 2 - 1
    loss_d, loss_g = adversarial_step(gen, disc, opt_g, opt_d, real, torch.randn(8, TINY_GAN.latent_size))
    assert torch.isfinite(loss_d) and torch.isfinite(loss_g)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in gen.parameters())
    assert all(not torch.equal(a, b) for a, b in zip(before_g, gen.parameters(), strict=True))
    assert all(not torch.equal(a, b) for a, b in zip(before_d, disc.parameters(), strict=True))


def test_discriminator_overfits_fixed_real_and_fake_batches():
    gen, disc = Generator(TINY_GAN), Discriminator(TINY_GAN)
    with torch.no_grad():
        fake = gen(torch.randn(16, TINY_GAN.latent_size))
    real = torch.rand(16, 1, 28, 28) * 2 - 1
    opt = torch.optim.Adam(disc.parameters(), lr=2e-3, betas=(0.5, 0.999))

    def loss_fn() -> torch.Tensor:
        r, f = disc(real), disc(fake)
        return F.binary_cross_entropy_with_logits(r, torch.ones_like(r)) + \
            F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))

    assert loss_fn().item() > 1.0  # about 2 ln 2 before training
    for _ in range(100):
        loss = loss_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss_fn().item() < 0.02


def test_dcgan_under_bf16_autocast():
    gen, disc = Generator(TINY_GAN), Discriminator(TINY_GAN)
    real = torch.rand(8, 1, 28, 28) * 2 - 1
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        fake = gen(torch.randn(8, TINY_GAN.latent_size))
        real_logits, fake_logits = disc(real), disc(fake)
        loss_d = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits)) + \
            F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        loss_g = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    assert fake.shape == (8, 1, 28, 28) and fake.dtype == torch.bfloat16
    assert fake.float().abs().max() <= 1
    assert real_logits.shape == fake_logits.shape == (8,)
    assert torch.isfinite(loss_d) and torch.isfinite(loss_g)
    (loss_d + loss_g).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all()
               for p in [*gen.parameters(), *disc.parameters()])


def test_dcgan_rejects_wrong_input():
    gen, disc = Generator(TINY_GAN), Discriminator(TINY_GAN)
    with pytest.raises(ValueError, match=r"expected noise of shape \(batch, 8\), got \(4, 8, 1, 1\)"):
        gen(torch.randn(4, 8, 1, 1))
    with pytest.raises(ValueError, match=r"expected noise of shape \(batch, 8\), got \(4, 9\)"):
        gen(torch.randn(4, 9))
    with pytest.raises(ValueError, match=r"expected images of shape \(batch, 1, 28, 28\), got \(4, 28, 28\)"):
        disc(torch.randn(4, 28, 28))
    with pytest.raises(ValueError, match=r"\(batch, 1, 28, 28\), got \(4, 1, 32, 32\)"):
        disc(torch.randn(4, 1, 32, 32))
    with pytest.raises(TypeError, match="floating-point"):
        disc(torch.zeros(4, 1, 28, 28, dtype=torch.uint8))
    for slope in (-0.1, 1.0):
        with pytest.raises(ValueError, match="leaky_slope must be in"):
            DCGANConfig(leaky_slope=slope)
    with pytest.raises(ValueError, match="latent_size must be an int >= 1"):
        DCGANConfig(latent_size=0)


# ------------------------------------------------------------------------------------ devices


def test_models_run_on_every_available_device(dev):
    x = torch.rand(4, 1, 28, 28, device=dev)
    mlp = MLP(MLPConfig(input_size=784, hidden_sizes=(16,), output_size=10)).to(dev)
    cnn = CNN(TINY_CNN).to(dev)
    gen, disc = Generator(TINY_GAN).to(dev), Discriminator(TINY_GAN).to(dev)
    assert mlp(x).shape == cnn(x).shape == (4, 10)
    fake = gen(torch.randn(4, TINY_GAN.latent_size, device=dev))
    assert fake.device.type == dev and disc(fake).shape == (4,)


def test_an_input_of_another_dtype_than_the_weights_is_a_clear_error():
    mlp = MLP(MLPConfig(input_size=4, hidden_sizes=(8,), output_size=2))
    with pytest.raises(TypeError, match=r"input dtype torch.float64 differs from the model's torch.float32"):
        mlp(torch.randn(3, 4, dtype=torch.float64))
    assert mlp.double()(torch.randn(3, 4, dtype=torch.float64)).dtype == torch.float64
    cnn = CNN(CNNConfig(channels=(4,), hidden=8))
    with pytest.raises(TypeError, match=r"convert the images with x.to\(torch.float32\)"):
        cnn(torch.rand(2, 1, 28, 28, dtype=torch.float64))
    with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast handles mixed dtypes itself
        assert cnn(torch.rand(2, 1, 28, 28).bfloat16()).shape == (2, 10)


def test_cnn_classifier_is_not_linear_and_drops_out_in_training():
    torch.manual_seed(0)
    model = CNN(CNNConfig(channels=(4, 8), hidden=32, dropout=0.5))
    h = model.features(torch.randn(1, 1, 28, 28))[-1].detach()
    clf = model.classifier.eval()
    gap = clf(2 * h) - 2 * clf(h) + clf(torch.zeros_like(h))  # zero for an affine map
    assert gap.abs().max() > 1e-3, "the hidden layer needs its ReLU"
    dropout = [m for m in clf if isinstance(m, nn.Dropout)]
    assert [m.p for m in dropout] == [0.5, 0.5]  # before the hidden layer and before the output


def test_dcgan_activations_follow_the_config_and_the_paper():
    gen, disc = Generator(TINY_GAN), Discriminator(DCGANConfig(latent_size=8, width=8, leaky_slope=0.3))
    assert {type(m) for m in gen.net} & {nn.LeakyReLU, nn.ReLU} == {nn.ReLU}  # ReLU in the generator
    slopes = [m.negative_slope for m in disc.modules() if isinstance(m, nn.LeakyReLU)]
    assert slopes == [0.3, 0.3]  # LeakyReLU in the discriminator, with the configured slope
