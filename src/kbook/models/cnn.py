"""A small convolutional network for 28x28 single-channel images such as MNIST digits.

Convolutional networks trained by backpropagation on handwritten digits go back to LeCun et
al. (1989); this one follows the modern recipe: blocks of convolution -> ReLU -> 2x2 max
pooling, then a small fully connected classifier with dropout (Srivastava et al., 2014).
With the default config (two blocks of 32 and 64 channels, a 64-unit hidden layer; about
220k parameters) it is sized to pass 98.5% MNIST test accuracy within the CPU budget of
chapter 3.2, which prints the time its training took.

Shapes: input ``(batch, in_channels, image_size, image_size)`` float, by default
``(batch, 1, 28, 28)``. For single-channel models an input ``(batch, 28, 28)`` is also
accepted and given its channel dimension. Output ``(batch, num_classes)`` logits.
``features(x)`` returns each block's output, e.g. ``(batch, 32, 14, 14)`` and
``(batch, 64, 7, 7)``, for looking at feature maps; the filters of block ``i`` are
``model.blocks[i].conv.weight``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class CNNConfig:
    """Sizes of a :class:`CNN`: input images, conv blocks and the classifier on top."""

    in_channels: int = 1
    image_size: int = 28  # height = width of the input images
    channels: tuple[int, ...] = (32, 64)  # output channels of each conv block
    kernel_size: int = 3  # odd, so that "same" padding keeps the size before pooling
    hidden: int = 64  # units in the classifier's hidden layer
    num_classes: int = 10
    dropout: float = 0.25  # before each of the classifier's two linear layers

    def __post_init__(self) -> None:
        self.channels = tuple(self.channels)
        sizes = {"in_channels": self.in_channels, "hidden": self.hidden, "num_classes": self.num_classes}
        if not self.channels or not all(isinstance(v, int) and v >= 1 for v in (*sizes.values(),
                                                                                 *self.channels)):
            raise ValueError(f"channels must be a non-empty tuple of ints >= 1 and {', '.join(sizes)} "
                             f"ints >= 1, got channels={self.channels}, {sizes}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be an odd int >= 1, got {self.kernel_size}")
        if self.image_size < 2 ** len(self.channels):
            raise ValueError(f"image_size {self.image_size} is too small for {len(self.channels)} "
                             f"2x2 poolings: need at least {2 ** len(self.channels)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def feature_size(self) -> int:
        """Height = width of the last block's output: each pooling halves it, rounding down."""
        size = self.image_size
        for _ in self.channels:
            size //= 2
        return size


class ConvBlock(nn.Module):
    """conv (same padding) -> ReLU -> 2x2 max pool: keeps the content, halves the resolution."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(torch.relu(self.conv(x)))


class CNN(nn.Module):
    """Conv blocks, then dropout -> Linear -> ReLU -> dropout -> Linear to class logits."""

    def __init__(self, config: CNNConfig) -> None:
        super().__init__()
        self.config = config
        widths = (config.in_channels, *config.channels)
        self.blocks = nn.ModuleList(ConvBlock(c_in, c_out, config.kernel_size)
                                    for c_in, c_out in zip(widths[:-1], widths[1:], strict=True))
        flat = config.channels[-1] * config.feature_size ** 2
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(config.dropout),
            nn.Linear(flat, config.hidden),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, config.num_classes),
        )

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        """Validate the input and return it as (batch, channels, size, size)."""
        c, s = self.config.in_channels, self.config.image_size
        expected = f"(batch, {c}, {s}, {s})" + (f" or (batch, {s}, {s})" if c == 1 else "")
        if not x.is_floating_point():
            raise TypeError(f"expected a floating-point image batch, got dtype {x.dtype}; "
                            "convert with x.float() (and scale the pixels, e.g. to [0, 1])")
        weights = next(self.parameters()).dtype
        if x.dtype != weights and not torch.is_autocast_enabled(x.device.type):
            raise TypeError(f"input dtype {x.dtype} differs from the model's {weights}: convert the images "
                            f"with x.to({weights}), or the model with model.to({x.dtype})")
        if c == 1 and x.ndim == 3:
            x = x.unsqueeze(1)
        if x.ndim != 4 or tuple(x.shape[1:]) != (c, s, s):
            raise ValueError(f"expected images of shape {expected}, got {tuple(x.shape)}")
        return x

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The output of every conv block, first to last: [(batch, channels[i], size_i, size_i)]."""
        x = self._check(x)
        maps = []
        for block in self.blocks:
            x = block(x)
            maps.append(x)
        return maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits of shape (batch, num_classes)."""
        return self.classifier(self.features(x)[-1])
