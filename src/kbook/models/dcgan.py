"""DCGAN: a convolutional generator and discriminator for 28x28 single-channel images.

Radford, Metz & Chintala (2016), "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks", made GANs (Goodfellow et al., 2014) train
stably with convolutions by a few rules, all followed here: no pooling (the generator
upsamples with transposed convolutions, the discriminator downsamples with strided ones); batch
normalisation in both networks except the generator's output layer and the discriminator's
input layer; ReLU in the generator with tanh at the output; LeakyReLU (slope 0.2) in the
discriminator; every weight drawn from N(0, 0.02) (:func:`dcgan_init_`). The paper trains
with Adam, learning rate 0.0002 and beta1 = 0.5.

Shapes (width w, latent size d):

- :class:`Generator`: noise ``(batch, d)`` -> ``(batch, 2w, 7, 7)`` -> ``(batch, w, 14, 14)``
  -> images ``(batch, 1, 28, 28)`` in [-1, 1].
- :class:`Discriminator`: images ``(batch, 1, 28, 28)`` -> ``(batch, w, 14, 14)`` ->
  ``(batch, 2w, 7, 7)`` -> logits ``(batch,)``.

Real images must be scaled to [-1, 1] like the generator's output (for MNIST: ``2 * x - 1``
with ``x`` in [0, 1]). The discriminator returns logits, not probabilities: train with
``torch.nn.functional.binary_cross_entropy_with_logits`` (real -> 1, fake -> 0 for the
discriminator; fake -> 1 for the generator, the non-saturating loss). These are the losses of
``kbook.scratch.gan.discriminator_loss`` and ``generator_loss``, derived in chapter 4.8.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

IMAGE_SIZE = 28  # 7 -> 14 -> 28: two stride-2 layers on a 7x7 base


@dataclass
class DCGANConfig:
    """Sizes of the DCGAN :class:`Generator` and :class:`Discriminator` for 28x28 images."""

    latent_size: int = 64  # length of the noise vector z
    width: int = 64  # feature maps at 14x14; the 7x7 layer has twice as many
    channels: int = 1  # image channels
    leaky_slope: float = 0.2  # LeakyReLU slope for negative inputs, in the discriminator

    def __post_init__(self) -> None:
        for name in ("latent_size", "width", "channels"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if not 0.0 <= self.leaky_slope < 1.0:
            raise ValueError(f"leaky_slope must be in [0, 1), got {self.leaky_slope}")


def dcgan_init_(module: nn.Module) -> None:
    """DCGAN initialisation, for ``model.apply(dcgan_init_)``.

    Convolution and linear weights ~ N(0, 0.02), as in the paper; biases 0. Batch-norm scales
    ~ N(1, 0.02) and shifts 0, the usual reading (as in PyTorch's DCGAN example) that keeps a
    freshly initialised batch norm close to the identity.
    """
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Generator(nn.Module):
    """Noise z (batch, latent_size) -> images (batch, channels, 28, 28) in [-1, 1]."""

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        self.net = nn.Sequential(
            # project and reshape: on a 1x1 input, a 7x7 transposed conv is a linear map to 7x7 maps
            nn.ConvTranspose2d(config.latent_size, 2 * w, kernel_size=7, stride=1, padding=0, bias=False),
            nn.BatchNorm2d(2 * w),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * w, w, kernel_size=4, stride=2, padding=1, bias=False),  # 7 -> 14
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.ConvTranspose2d(w, config.channels, kernel_size=4, stride=2, padding=1),  # 14 -> 28
            nn.Tanh(),
        )
        self.apply(dcgan_init_)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        d = self.config.latent_size
        if not z.is_floating_point():
            raise TypeError(f"expected floating-point noise, got dtype {z.dtype}")
        if z.ndim != 2 or z.shape[1] != d:
            raise ValueError(f"expected noise of shape (batch, {d}), got {tuple(z.shape)}")
        return self.net(z[:, :, None, None])


class Discriminator(nn.Module):
    """Images (batch, channels, 28, 28) in [-1, 1] -> logits (batch,): > 0 means "real"."""

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        self.config = config
        w, slope = config.width, config.leaky_slope
        self.net = nn.Sequential(
            nn.Conv2d(config.channels, w, kernel_size=4, stride=2, padding=1),  # 28 -> 14, no batch norm
            nn.LeakyReLU(slope),
            nn.Conv2d(w, 2 * w, kernel_size=4, stride=2, padding=1, bias=False),  # 14 -> 7
            nn.BatchNorm2d(2 * w),
            nn.LeakyReLU(slope),
            nn.Conv2d(2 * w, 1, kernel_size=7, stride=1, padding=0),  # 7 -> 1: one logit per image
        )
        self.apply(dcgan_init_)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, s = self.config.channels, IMAGE_SIZE
        if not x.is_floating_point():
            raise TypeError(f"expected a floating-point image batch in [-1, 1], got dtype {x.dtype}")
        if x.ndim != 4 or tuple(x.shape[1:]) != (c, s, s):
            raise ValueError(f"expected images of shape (batch, {c}, {s}, {s}), got {tuple(x.shape)}")
        return self.net(x).flatten()
