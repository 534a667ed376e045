"""A multilayer perceptron made of :class:`~kbook.scalar.engine.Value` scalars."""

from __future__ import annotations

import random
from collections.abc import Sequence

from .engine import Value


class Neuron:
    """``act(w · x + b)`` for one output; ``act`` is tanh, or nothing for a linear neuron."""

    def __init__(self, n_in: int, rng: random.Random, linear: bool = False) -> None:
        bound = n_in**-0.5  # uniform(-1/sqrt(n_in), 1/sqrt(n_in)), as nn.Linear initialises
        self.w = [Value(rng.uniform(-bound, bound)) for _ in range(n_in)]
        self.b = Value(rng.uniform(-bound, bound))
        self.linear = linear

    def __call__(self, x: Sequence[Value | float]) -> Value:
        z = sum((wi * xi for wi, xi in zip(self.w, x, strict=True)), self.b)
        return z if self.linear else z.tanh()

    def parameters(self) -> list[Value]:
        return [*self.w, self.b]


class MLP:
    """Fully connected layers of sizes ``sizes``, tanh between them, a linear last layer."""

    def __init__(self, sizes: Sequence[int], seed: int = 0) -> None:
        if len(sizes) < 2:
            raise ValueError(f"sizes needs an input and an output size, got {list(sizes)}")
        rng = random.Random(seed)
        last = len(sizes) - 2
        self.layers = [
            [Neuron(n_in, rng, linear=(i == last)) for _ in range(n_out)]
            for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))
        ]
        self.n_in = sizes[0]

    def __call__(self, x: Sequence[Value | float]) -> list[Value]:
        if len(x) != self.n_in:
            raise ValueError(f"expected an input of {self.n_in} numbers, got {len(x)}")
        for layer in self.layers:
            x = [neuron(x) for neuron in layer]
        return x

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for neuron in layer for p in neuron.parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0
