"""A scalar reverse-mode autograd engine, small enough to read in one sitting.

Every :class:`Value` remembers the Values it was computed from together with the *local*
derivative of itself with respect to each of them, worked out when the operation runs.
``backward()`` then applies the chain rule once per edge, from the output back to the
inputs: ``parent.grad += local_derivative * child.grad``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

Number = int | float


class Value:
    """A scalar that records how it was computed, so gradients can flow back through it."""

    __slots__ = ("data", "grad", "parents", "op", "label")

    def __init__(self, data: Number, parents: Iterable[tuple[Value, float]] = (), op: str = "",
                 label: str = "") -> None:
        self.data = float(data)
        self.grad = 0.0
        self.parents = tuple(parents)  # (input Value, d self / d input) pairs
        self.op = op
        self.label = label

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    # -- operations: each returns a new Value with its local derivatives ----------------
    def __add__(self, other: Value | Number) -> Value:
        other = _lift(other)
        return Value(self.data + other.data, [(self, 1.0), (other, 1.0)], "+")

    def __mul__(self, other: Value | Number) -> Value:
        other = _lift(other)
        return Value(self.data * other.data, [(self, other.data), (other, self.data)], "*")

    def __pow__(self, k: Number) -> Value:
        if not isinstance(k, (int, float)):
            raise TypeError("only a constant exponent is supported: x ** 2, not x ** y")
        if k == 0:  # x ** 0 is 1 everywhere, so its slope is 0 (even at x = 0)
            return Value(1.0, [(self, 0.0)], "**0")
        if self.data < 0 and k != int(k):
            raise ValueError(f"({self.data:g}) ** {k:g} is not a real number: a fractional power "
                             "needs a non-negative base")
        if self.data == 0 and k < 0:
            raise ZeroDivisionError(f"0 ** {k:g} divides by zero (x / y with y = 0 lands here too)")
        if self.data == 0 and k < 1:
            raise ValueError(f"0 ** {k:g} has an infinite slope at 0, so no gradient can flow "
                             "through it: keep the base away from 0, e.g. (x + 1e-12) ** k")
        return Value(self.data**k, [(self, k * self.data ** (k - 1))], f"**{k:g}")

    def exp(self) -> Value:
        try:
            e = math.exp(self.data)
        except OverflowError:  # above about 709.78 the result exceeds the largest float
            raise ValueError(f"exp({self.data:g}) is too large for a float: rewrite the expression so "
                             "that exp only sees moderate inputs, as sigmoid does below") from None
        return Value(e, [(self, e)], "exp")

    def log(self) -> Value:
        if self.data <= 0:
            raise ValueError(f"log of a non-positive number ({self.data})")
        return Value(math.log(self.data), [(self, 1.0 / self.data)], "log")

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        return Value(t, [(self, 1.0 - t * t)], "tanh")

    def sigmoid(self) -> Value:
        e = math.exp(-abs(self.data))  # in (0, 1]: never overflows
        s = 1.0 / (1.0 + e) if self.data >= 0 else e / (1.0 + e)
        return Value(s, [(self, s * (1.0 - s))], "sigmoid")

    def relu(self) -> Value:
        return Value(max(self.data, 0.0), [(self, float(self.data > 0))], "relu")

    # -- everything else is built from the operations above --------------------------
    def __neg__(self) -> Value:
        return self * -1.0

    def __sub__(self, other: Value | Number) -> Value:
        return self + (-_lift(other))

    def __truediv__(self, other: Value | Number) -> Value:
        return self * _lift(other) ** -1

    def __radd__(self, other: Number) -> Value:
        return self + other

    def __rmul__(self, other: Number) -> Value:
        return self * other

    def __rsub__(self, other: Number) -> Value:
        return _lift(other) - self

    def __rtruediv__(self, other: Number) -> Value:
        return _lift(other) / self

    # -- reverse mode ----------------------------------------------------------------
    def topological_order(self) -> list[Value]:
        """Every Value this one depends on, each listed after all of its inputs."""
        order: list[Value] = []
        seen: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:  # iterative depth-first search: deep graphs do not hit the recursion limit
            node, inputs_done = stack.pop()
            if inputs_done:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((parent, False) for parent, _ in node.parents)
        return order

    def backward(self) -> None:
        """Accumulate d self / d v into ``v.grad`` for every Value v this one depends on.

        Inputs (Values computed from nothing) keep accumulating over calls, as in PyTorch: zero
        them between training steps. Intermediate Values start again from zero on every call.
        """
        order = self.topological_order()
        for node in order:
            if node.parents:
                node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            for parent, local in node.parents:
                parent.grad += local * node.grad


def _lift(x: Value | Number) -> Value:
    return x if isinstance(x, Value) else Value(x)
