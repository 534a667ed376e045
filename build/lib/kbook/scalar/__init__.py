"""Scalar autograd (chapter 4.2): a ``Value`` engine and an MLP built from it."""

from .engine import Value
from .mlp import MLP, Neuron

__all__ = ["MLP", "Neuron", "Value"]
