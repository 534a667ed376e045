"""The scalar autograd engine of chapter 4.2 against torch.autograd."""

from __future__ import annotations

import math
import random

import pytest
import torch

from kbook.scalar import MLP, Value
from kbook.scalar.check import BINARY, UNARY, compare_gradients, random_program, run


@pytest.mark.parametrize("seed", range(300))
def test_random_expressions_match_torch(seed):
    rng = random.Random(seed)
    program = random_program(n_inputs=3, n_steps=rng.randint(1, 30), seed=seed)
    out_err, grad_err = compare_gradients(program, [rng.uniform(-2, 2) for _ in range(3)])
    assert out_err < 1e-9 and grad_err < 1e-9


def test_the_checker_catches_a_wrong_local_derivative(monkeypatch):
    program = [("tanh", (0,)), ("mul", (2, 1))]
    assert max(compare_gradients(program, [0.4, -0.7])) < 1e-12

    def wrong_tanh(self):  # a classic slip: d tanh(x)/dx written as 1 - t instead of 1 - t^2
        t = math.tanh(self.data)
        return Value(t, [(self, 1.0 - t)], "tanh")

    monkeypatch.setattr(Value, "tanh", wrong_tanh)
    out_err, grad_err = compare_gradients(program, [0.4, -0.7])
    assert out_err < 1e-12 and grad_err > 1e-2
    assert compare_gradients([("tanh", (1,))], [0.4, -0.7])[1] > 1e-2  # it checks every input, not the first


def test_the_checker_catches_a_wrong_forward_value(monkeypatch):
    monkeypatch.setattr(Value, "sigmoid", lambda self: Value(0.5 * math.tanh(self.data) + 0.6, [(self, 0.0)]))
    out_err, _ = compare_gradients([("sigmoid", (0,))], [0.3])
    assert out_err > 1e-2


def test_random_programs_use_every_operation():
    used = {op for seed in range(300) for op, _ in random_program(3, 30, seed)}
    assert used == set(UNARY) | set(BINARY)
    assert run([("add", (0, 1)), ("square", (2,))], [Value(1.0), Value(2.0)]).data == 3.0 + 9.0


def test_every_operation_against_torch():
    x, y = 0.7, -1.3
    cases = {
        "add": (lambda a, b: a + b), "radd": (lambda a, b: 2 + a), "sub": (lambda a, b: a - b),
        "rsub": (lambda a, b: 2 - a), "mul": (lambda a, b: a * b), "rmul": (lambda a, b: 3 * b),
        "div": (lambda a, b: a / b), "rdiv": (lambda a, b: 2 / b), "pow": (lambda a, b: a**3),
        "neg": (lambda a, b: -a),
    }
    for name, fn in cases.items():
        a, b = Value(x), Value(y)
        out = fn(a, b) * 1.0
        out.backward()
        ta = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        tb = torch.tensor(y, dtype=torch.float64, requires_grad=True)
        ref = fn(ta, tb) * 1.0
        ref.backward()
        assert out.data == pytest.approx(ref.item(), abs=1e-12), name
        assert a.grad == pytest.approx(0.0 if ta.grad is None else ta.grad.item(), abs=1e-12), name
        assert b.grad == pytest.approx(0.0 if tb.grad is None else tb.grad.item(), abs=1e-12), name
    for name in ("exp", "log", "tanh", "sigmoid", "relu"):
        v = Value(x)
        getattr(v, name)().backward()
        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        getattr(torch, name)(t).backward()
        assert v.grad == pytest.approx(t.grad.item(), abs=1e-12), name


def test_gradcheck_agrees_with_finite_differences():
    def f(a, b):
        return ((a * b).tanh() + (a / (1 + b**2)).exp()).sigmoid()

    a, b = Value(0.3), Value(-0.8)
    f(a, b).backward()
    ta = torch.tensor([0.3], dtype=torch.float64, requires_grad=True)
    tb = torch.tensor([-0.8], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(f, (ta, tb))  # torch's own gradients are right ...
    f(ta, tb).backward()
    assert a.grad == pytest.approx(ta.grad.item(), abs=1e-12)  # ... and ours equal them
    assert b.grad == pytest.approx(tb.grad.item(), abs=1e-12)


def test_reused_value_accumulates_gradient():
    a = Value(3.0)
    (a * a + a).backward()
    assert a.grad == 7.0


def test_deep_graph_does_not_hit_the_recursion_limit():
    x = Value(0.5)
    out = x
    for _ in range(20_000):
        out = out * 1.0 + 0.0
    out.backward()
    assert x.grad == 1.0


def test_powers_at_the_edges_of_their_domain():
    x = Value(0.0)
    y = x**0 + x**2 + x**1
    y.backward()
    assert (y.data, x.grad) == (1.0, 1.0)  # d/dx (1 + x^2 + x) at 0
    z = Value(-2.0)
    (z**3 + z**-1).backward()
    assert z.grad == pytest.approx(3 * 4 - 1 / 4)


def test_bad_inputs_are_clear_errors():
    with pytest.raises(TypeError, match="constant exponent"):
        Value(2.0) ** Value(3.0)
    with pytest.raises(ValueError, match="non-positive"):
        Value(-1.0).log()
    with pytest.raises(ValueError, match="non-negative base"):
        Value(-4.0) ** 0.5
    with pytest.raises(ValueError, match="infinite slope"):
        Value(0.0) ** 0.5
    with pytest.raises(ZeroDivisionError, match="divides by zero"):
        Value(1.0) / Value(0.0)
    with pytest.raises(ValueError, match="expected an input of 2 numbers, got 3"):
        MLP([2, 4, 1])([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="input and an output size"):
        MLP([2])


def test_mlp_gradients_match_the_same_network_in_torch():
    mlp = MLP([2, 5, 3, 1], seed=7)
    x = [0.4, -1.1]
    out = mlp(x)[0]
    out.backward()
    params = []
    h = torch.tensor(x, dtype=torch.float64)
    for i, layer in enumerate(mlp.layers):
        w = torch.tensor([[p.data for p in n.w] for n in layer], dtype=torch.float64, requires_grad=True)
        b = torch.tensor([n.b.data for n in layer], dtype=torch.float64, requires_grad=True)
        params.append((layer, w, b))
        h = w @ h + b
        if i < len(mlp.layers) - 1:
            h = torch.tanh(h)
    h.sum().backward()
    assert out.data == pytest.approx(h.item(), abs=1e-12)
    for layer, w, b in params:
        for j, neuron in enumerate(layer):
            assert [p.grad for p in neuron.w] == pytest.approx(w.grad[j].tolist(), abs=1e-12)
            assert neuron.b.grad == pytest.approx(b.grad[j].item(), abs=1e-12)


def test_scalar_mlp_learns_xor():
    mlp = MLP([2, 4, 1], seed=1)
    data = [([0.0, 0.0], -1.0), ([0.0, 1.0], 1.0), ([1.0, 0.0], 1.0), ([1.0, 1.0], -1.0)]
    for _ in range(300):
        loss = sum(((-t * mlp(x)[0]).exp() + 1).log() for x, t in data) / 4
        mlp.zero_grad()
        loss.backward()
        for p in mlp.parameters():
            p.data -= 0.5 * p.grad
    assert all(math.copysign(1, mlp(x)[0].data) == t for x, t in data)


def test_sigmoid_is_stable_and_exp_overflow_is_explained():
    far_left, far_right = Value(-1000.0).sigmoid(), Value(1000.0).sigmoid()
    assert far_left.data == 0.0 and far_right.data == 1.0
    x = Value(-30.0)
    y = x.sigmoid()
    y.backward()
    torch_x = torch.tensor(-30.0, dtype=torch.float64, requires_grad=True)
    torch.sigmoid(torch_x).backward()
    assert y.data == pytest.approx(torch.sigmoid(torch_x).item(), rel=1e-12)
    assert x.grad == pytest.approx(torch_x.grad.item(), rel=1e-12)
    with pytest.raises(ValueError, match=r"exp\(1000\) is too large for a float"):
        Value(1000.0).exp()


def test_backward_twice_accumulates_into_inputs_only():
    a, b = Value(2.0), Value(3.0)
    out = (a * b) * 1.0
    out.backward()
    out.backward()  # as torch with retain_graph=True: the inputs' gradients add up
    ta, tb = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (2.0, 3.0))
    tout = (ta * tb) * 1.0
    tout.backward(retain_graph=True)
    tout.backward()
    assert (a.grad, b.grad) == (ta.grad.item(), tb.grad.item()) == (6.0, 4.0)


def test_relu_slope_at_zero_is_zero_as_in_torch():
    x = Value(0.0)
    x.relu().backward()
    t = torch.zeros((), requires_grad=True)
    torch.relu(t).backward()
    assert x.grad == t.grad.item() == 0.0


def test_scalar_mlp_parameters_initialisation_and_zero_grad():
    net = MLP([3, 4, 2], seed=0)
    params = net.parameters()
    assert len(params) == (3 + 1) * 4 + (4 + 1) * 2  # weights and biases
    assert all(abs(p.data) <= 3**-0.5 for p in params[:16])  # first layer: fan-in 3
    assert all(abs(p.data) <= 4**-0.5 for p in params[16:])
    assert [p.data for p in MLP([3, 4, 2], seed=0).parameters()] == [p.data for p in params]
    assert [p.data for p in MLP([3, 4, 2], seed=1).parameters()] != [p.data for p in params]
    sum(net([1.0, -2.0, 0.5])).backward()
    assert all(p.grad != 0 for p in params[-5:])  # the last layer's weights and bias all got gradient
    net.zero_grad()
    assert all(p.grad == 0.0 for p in params)


def test_random_programs_compose_operations():
    programs = [random_program(n_inputs=2, n_steps=6, seed=s) for s in range(10)]
    used = [i for program in programs for _, idx in program for i in idx]
    assert any(i >= 2 for i in used), "programs must reuse earlier results, or the chain rule goes untested"
