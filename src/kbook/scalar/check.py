"""Random expressions, evaluated by the scalar engine and by PyTorch, to compare gradients.

A *program* is a list of steps; each applies one operation to earlier results. The same
program runs on :class:`Value` inputs and on float64 torch tensors, so the gradients that
``Value.backward`` computes can be checked against ``torch.autograd`` on many graphs.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch

from .engine import Value

Program = Sequence[tuple[str, tuple[int, ...]]]  # steps (operation, indices of earlier values)

UNARY = ("tanh", "sigmoid", "relu", "exp_tanh", "square", "cube", "log1p_sq", "neg")
BINARY = ("add", "mul", "sub", "div_safe")


def _apply(op: str, args: list, torch_mode: bool):
    t = torch if torch_mode else None
    x = args[0]
    if op == "tanh":
        return t.tanh(x) if t else x.tanh()
    if op == "sigmoid":
        return t.sigmoid(x) if t else x.sigmoid()
    if op == "relu":
        return t.relu(x) if t else x.relu()
    if op == "exp_tanh":  # exp of a bounded input: never overflows
        return t.exp(t.tanh(x)) if t else x.tanh().exp()
    if op == "square":
        return x**2
    if op == "cube":
        return x**3
    if op == "log1p_sq":  # log(1 + x^2): defined everywhere
        return t.log(1 + x**2) if t else (1 + x**2).log()
    if op == "neg":
        return -x
    y = args[1]
    if op == "add":
        return x + y
    if op == "mul":
        return x * y
    if op == "sub":
        return x - y
    if op == "div_safe":  # x / (1 + y^2): the denominator is never zero
        return x / (1 + y**2)
    raise ValueError(f"unknown op {op!r}")


def random_program(n_inputs: int, n_steps: int, seed: int) -> list[tuple[str, tuple[int, ...]]]:
    """A random program over ``n_inputs`` inputs; every step uses one or two earlier values."""
    rng = random.Random(seed)
    program = []
    for step in range(n_steps):
        available = n_inputs + step
        if rng.random() < 0.5:
            program.append((rng.choice(UNARY), (rng.randrange(available),)))
        else:
            program.append((rng.choice(BINARY), (rng.randrange(available), rng.randrange(available))))
    return program


def run(program: Program, inputs: Sequence[Value] | Sequence[torch.Tensor]) -> Value | torch.Tensor:
    """Evaluate ``program`` on ``inputs`` (Values or tensors); return the sum of all results."""
    torch_mode = isinstance(inputs[0], torch.Tensor)
    values = list(inputs)
    for op, idx in program:
        values.append(_apply(op, [values[i] for i in idx], torch_mode))
    out = values[len(inputs)]
    for v in values[len(inputs) + 1 :]:
        out = out + v
    return out


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(1.0, abs(b))


def compare_gradients(program: Program, xs: Sequence[float]) -> tuple[float, float]:
    """Engine vs ``torch.autograd`` (float64): the error of the output and the largest error of
    the input gradients, each as ``|ours - torch| / max(1, |torch|)``."""
    vals = [Value(x) for x in xs]
    out = run(program, vals)
    out.backward()
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    ref = run(program, ts)
    ref.backward()
    torch_grads = [0.0 if t.grad is None else t.grad.item() for t in ts]  # None: input unused
    grad_err = max(_rel(v.grad, g) for v, g in zip(vals, torch_grads, strict=True))
    return _rel(out.data, ref.item()), grad_err
