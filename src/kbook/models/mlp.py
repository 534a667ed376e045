"""A multilayer perceptron: a stack of fully connected layers with a nonlinearity between them.

The kind of network Rumelhart, Hinton & Williams (1986) trained with backpropagation, with
optional dropout (Srivastava et al., 2014) after each hidden activation. Chapter 3.1 uses it
on toy 2-D data; an exercise of chapter 3.2 trains it on flattened MNIST images.

Shapes: input ``(batch, input_size)`` float; an input ``(batch, *dims)`` whose trailing
dimensions multiply to ``input_size`` is flattened first, so MNIST images of shape
``(batch, 1, 28, 28)`` or ``(batch, 28, 28)`` go straight into an ``input_size=784`` model.
Output ``(batch, output_size)``: raw scores (logits for classification, values for regression).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
}


@dataclass
class MLPConfig:
    """Sizes of an :class:`MLP`: input, hidden layers, output, and the nonlinearity between them."""

    input_size: int = 2
    hidden_sizes: tuple[int, ...] = (16, 16)  # one entry per hidden layer; () is a linear model
    output_size: int = 2
    activation: str = "relu"  # one of ACTIVATIONS
    dropout: float = 0.0  # probability of zeroing a hidden unit during training

    def __post_init__(self) -> None:
        self.hidden_sizes = tuple(self.hidden_sizes)
        sizes = (self.input_size, *self.hidden_sizes, self.output_size)
        if not all(isinstance(s, int) and s >= 1 for s in sizes):
            raise ValueError(f"input_size, hidden_sizes and output_size must be ints >= 1, got "
                             f"input_size={self.input_size}, hidden_sizes={self.hidden_sizes}, "
                             f"output_size={self.output_size}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


class MLP(nn.Module):
    """Linear -> activation (-> dropout) for each hidden size, then a final Linear."""

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        width = config.input_size
        for hidden in config.hidden_sizes:
            layers += [nn.Linear(width, hidden), ACTIVATIONS[config.activation]()]
            if config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            width = hidden
        layers.append(nn.Linear(width, config.output_size))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores of shape (batch, output_size) for inputs (batch, input_size) or (batch, *dims)."""
        n_in = self.config.input_size
        if not x.is_floating_point():
            raise TypeError(f"expected a floating-point input, got dtype {x.dtype}; convert with x.float()")
        weights = next(self.parameters()).dtype
        if x.dtype != weights and not torch.is_autocast_enabled(x.device.type):
            raise TypeError(f"input dtype {x.dtype} differs from the model's {weights}: convert the input "
                            f"with x.to({weights}), or the model with model.to({x.dtype})")
        if x.ndim < 2 or math.prod(x.shape[1:]) != n_in:
            raise ValueError(f"expected input of shape (batch, {n_in}), or (batch, *dims) with dims "
                             f"multiplying to {n_in}, got {tuple(x.shape)}")
        return self.net(x.flatten(1))
