"""One step of a vanilla RNN and of an LSTM, from scratch (chapter 4.6).

Both functions follow the weight layout of PyTorch's ``nn.RNNCell`` and ``nn.LSTMCell``, so
a cell's parameters can be passed in unchanged: ``W_ih`` is ``(G*H, I)``, ``W_hh`` is
``(G*H, H)`` and the biases are ``(G*H,)``, with ``G = 1`` for the RNN and ``G = 4`` for the
LSTM, whose gates are stacked in the order input, forget, cell candidate, output
(``i, f, g, o``). Inputs are ``(B, I)`` for a batch or ``(I,)`` for a single example, and the
states have the matching shape ``(B, H)`` or ``(H,)``.
"""

from __future__ import annotations

import torch

NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu}


def _check_shapes(x: torch.Tensor, states: dict[str, torch.Tensor], W_ih: torch.Tensor, W_hh: torch.Tensor,
                  b_ih: torch.Tensor | None, b_hh: torch.Tensor | None, gates: int) -> None:
    """Raise ``ValueError`` naming the expected shape of the first argument that is wrong."""
    if x.dim() not in (1, 2):
        raise ValueError(f"x must have shape (B, I) or (I,), got shape {tuple(x.shape)}")
    if W_hh.dim() != 2 or W_hh.shape[0] != gates * W_hh.shape[1]:
        raise ValueError(f"W_hh must have shape ({gates}*H, H), got shape {tuple(W_hh.shape)}")
    hidden, inputs = W_hh.shape[1], x.shape[-1]
    expected = {"W_ih": (gates * hidden, inputs), "b_ih": (gates * hidden,), "b_hh": (gates * hidden,)}
    for name, tensor in (("W_ih", W_ih), ("b_ih", b_ih), ("b_hh", b_hh)):
        if tensor is not None and tuple(tensor.shape) != expected[name]:
            raise ValueError(f"{name} must have shape {expected[name]} for H={hidden} and I={inputs}, "
                             f"got shape {tuple(tensor.shape)}")
    state_shape = (*x.shape[:-1], hidden)
    for name, state in states.items():
        if tuple(state.shape) != state_shape:
            raise ValueError(f"{name} must have shape {state_shape} to match x of shape {tuple(x.shape)} "
                             f"and H={hidden}, got shape {tuple(state.shape)}")


def _affine(x: torch.Tensor, h: torch.Tensor, W_ih: torch.Tensor, W_hh: torch.Tensor,
            b_ih: torch.Tensor | None, b_hh: torch.Tensor | None) -> torch.Tensor:
    """``x W_ih^T + b_ih + h W_hh^T + b_hh``, the pre-activation shared by both cells."""
    z = x @ W_ih.T + h @ W_hh.T
    if b_ih is not None:
        z = z + b_ih
    if b_hh is not None:
        z = z + b_hh
    return z


def rnn_step(x: torch.Tensor, h: torch.Tensor, W_ih: torch.Tensor, W_hh: torch.Tensor,
             b_ih: torch.Tensor | None = None, b_hh: torch.Tensor | None = None,
             nonlinearity: str = "tanh") -> torch.Tensor:
    """One vanilla RNN step: ``h' = phi(W_ih x + b_ih + W_hh h + b_hh)``, as ``nn.RNNCell``.

    ``nonlinearity`` is ``"tanh"`` (the usual choice) or ``"relu"``. Biases may be ``None``.
    """
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {sorted(NONLINEARITIES)}, got {nonlinearity!r}")
    _check_shapes(x, {"h": h}, W_ih, W_hh, b_ih, b_hh, gates=1)
    return NONLINEARITIES[nonlinearity](_affine(x, h, W_ih, W_hh, b_ih, b_hh))


def lstm_step(x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor], W_ih: torch.Tensor,
              W_hh: torch.Tensor, b_ih: torch.Tensor | None = None,
              b_hh: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step, as ``nn.LSTMCell``; ``state`` is ``(h, c)`` and so is the result.

    ``i, f, o = sigmoid(.)`` and ``g = tanh(.)`` from the four stacked blocks of the
    pre-activation; then ``c' = f * c + i * g`` and ``h' = o * tanh(c')``.
    """
    if not (isinstance(state, tuple) and len(state) == 2):
        raise ValueError(f"state must be a tuple (h, c) of two tensors, got {type(state).__name__}"
                         + (f" of length {len(state)}" if isinstance(state, (tuple, list)) else ""))
    h, c = state
    _check_shapes(x, {"h": h, "c": c}, W_ih, W_hh, b_ih, b_hh, gates=4)
    z_i, z_f, z_g, z_o = _affine(x, h, W_ih, W_hh, b_ih, b_hh).chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(z_i), torch.sigmoid(z_f), torch.tanh(z_g), torch.sigmoid(z_o)
    c_next = f * c + i * g
    return o * torch.tanh(c_next), c_next
