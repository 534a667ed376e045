"""The from-scratch RNN and LSTM steps of chapter 4.6 against PyTorch's cells."""

from __future__ import annotations

import pytest
import torch

from kbook.scratch.recurrent import lstm_step, rnn_step


def cell_weights(cell: torch.nn.Module) -> tuple[torch.Tensor, ...]:
    return cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("batch", [(5,), ()])
def test_rnn_step_matches_rnncell(nonlinearity, batch):
    torch.manual_seed(0)
    cell = torch.nn.RNNCell(3, 4, nonlinearity=nonlinearity).double()
    x, h = torch.randn(*batch, 3, dtype=torch.float64), torch.randn(*batch, 4, dtype=torch.float64)
    torch.testing.assert_close(rnn_step(x, h, *cell_weights(cell), nonlinearity=nonlinearity), cell(x, h),
                               rtol=0, atol=1e-12)


def test_lstm_step_matches_lstmcell_values_and_gradients():
    torch.manual_seed(1)
    cell = torch.nn.LSTMCell(3, 4).double()
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    h, c = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    ours = lstm_step(x, (h, c), *cell_weights(cell))
    theirs = cell(x, (h, c))
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    g_ours = torch.autograd.grad(ours[0].sum() + ours[1].sum(), [x, cell.weight_hh])
    g_theirs = torch.autograd.grad(theirs[0].sum() + theirs[1].sum(), [x, cell.weight_hh])
    for a, b in zip(g_ours, g_theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_lstm_gate_order_is_i_f_g_o():
    # With all weights zero, only the biases act: open the forget gate (block 2) fully and
    # close the input gate (block 1); then the cell state must be carried over unchanged.
    H = 2
    W_ih, W_hh = torch.zeros(4 * H, 1), torch.zeros(4 * H, H)
    closed, open_ = torch.full((H,), -50.0), torch.full((H,), 50.0)
    bias = torch.cat([closed, open_, torch.zeros(H), open_])  # i, f, g, o
    c = torch.tensor([[0.3, -0.7]])
    h_next, c_next = lstm_step(torch.ones(1, 1), (torch.zeros(1, H), c), W_ih, W_hh, bias, None)
    torch.testing.assert_close(c_next, c)
    torch.testing.assert_close(h_next, torch.tanh(c))


def test_seed_004_rnn_example():
    # Independent expectations from the fact-check (B6): the seed's rule h_t = ReLU(h_{t-1} + W*x_t + b)
    # with W = b = [1, 1], h_0 = [0, 0] is an RNN cell with W_hh = I, W_ih = diag(W), ReLU.
    eye, ones = torch.eye(2), torch.ones(2)
    h = torch.zeros(2)
    states = []
    for x in ([1.0, 2.0], [2.0, 3.0], [3.0, 3.0]):  # the vectors the seed's steps use
        h = rnn_step(torch.tensor(x), h, eye, eye, ones, None, nonlinearity="relu")
        states.append(h.tolist())
    assert states == [[2.0, 3.0], [5.0, 7.0], [9.0, 11.0]]
    h = torch.zeros(2)
    for x in (1.0, 2.0, 3.0):  # the scalar inputs the seed states
        h = rnn_step(torch.tensor([x]), h, ones.unsqueeze(1), eye, ones, None, nonlinearity="relu")
    assert h.tolist() == [9.0, 9.0]


def test_bad_shapes_name_the_expected_shape():
    W_ih, W_hh = torch.zeros(4, 3), torch.zeros(4, 4)
    with pytest.raises(ValueError, match=r"h must have shape \(5, 4\)"):
        rnn_step(torch.zeros(5, 3), torch.zeros(5, 3), W_ih, W_hh)
    with pytest.raises(ValueError, match=r"W_ih must have shape \(4, 2\)"):
        rnn_step(torch.zeros(5, 2), torch.zeros(5, 4), W_ih, W_hh)
    with pytest.raises(ValueError, match=r"W_hh must have shape \(4\*H, H\)"):
        lstm_step(torch.zeros(5, 3), (torch.zeros(5, 4), torch.zeros(5, 4)), torch.zeros(16, 3), W_hh)
    with pytest.raises(ValueError, match=r"b_ih must have shape \(16,\)"):
        lstm_step(torch.zeros(5, 3), (torch.zeros(5, 4), torch.zeros(5, 4)), torch.zeros(16, 3),
                  torch.zeros(16, 4), torch.zeros(4))
    with pytest.raises(ValueError, match=r"c must have shape \(5, 4\)"):
        lstm_step(torch.zeros(5, 3), (torch.zeros(5, 4), torch.zeros(4)), torch.zeros(16, 3),
                  torch.zeros(16, 4))
    with pytest.raises(ValueError, match="nonlinearity"):
        rnn_step(torch.zeros(3), torch.zeros(4), W_ih, W_hh, nonlinearity="sigmoid")


def test_steps_pass_gradcheck_in_every_input():
    g = torch.Generator().manual_seed(4)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)

    x, h, c = rand(2, 3), rand(2, 4), rand(2, 4)
    assert torch.autograd.gradcheck(rnn_step, (x, h, rand(4, 3), rand(4, 4), rand(4), rand(4)))
    assert torch.autograd.gradcheck(lambda x, h, c, *w: lstm_step(x, (h, c), *w),
                                    (x, h, c, rand(16, 3), rand(16, 4), rand(16), rand(16)))


def test_lstm_step_names_a_bad_state():
    x, h, c = torch.zeros(1, 2), torch.zeros(1, 3), torch.zeros(1, 3)
    W_ih, W_hh = torch.zeros(12, 2), torch.zeros(12, 3)
    with pytest.raises(ValueError, match="tuple \\(h, c\\) of two tensors, got list of length 2"):
        lstm_step(x, [h, c], W_ih, W_hh)
