"""A character-level language model with a vanilla RNN or an LSTM, in the spirit of char-rnn.

Karpathy's char-rnn (Lua/Torch, May 2015, released with the blog post "The Unreasonable
Effectiveness of Recurrent Neural Networks", Karpathy 2015) trains a multi-layer RNN or LSTM
to predict the next character of a text, then samples from it one character at a time. The
LSTM is Hochreiter and Schmidhuber's (1997) with the forget gate of Gers, Schmidhuber and
Cummins (2000); the recurrent steps are PyTorch's ``nn.RNN``
and ``nn.LSTM``, whose single step the book derives from scratch in ``kbook.scratch.recurrent``.

Shapes: token ids ``idx`` (batch, time), integer -> logits (batch, time, vocab_size). The
recurrent state is carried between calls for truncated backpropagation through time: a
tensor ``h`` of shape (n_layers, batch, hidden_size) for the RNN, a pair ``(h, c)`` of such
tensors for the LSTM.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .language_model import check_sampling, check_token_ids, language_model_loss, sample_next

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]
CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM}


@dataclass
class CharRNNConfig:
    """Sizes of a :class:`CharRNN`. The defaults are small enough for a CPU."""

    vocab_size: int = 65       # tiny Shakespeare has 65 distinct characters
    cell: str = "lstm"         # "rnn" (tanh) or "lstm"
    n_embd: int = 32           # size of each character's embedding
    hidden_size: int = 128     # size of the recurrent state of each layer
    n_layers: int = 2          # stacked recurrent layers
    dropout: float = 0.0       # between layers and before the output head

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {self.cell!r}")
        for name in ("vocab_size", "n_embd", "hidden_size", "n_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")


class CharRNN(nn.Module):
    """Embedding -> stacked RNN or LSTM -> dropout -> linear head over the vocabulary."""

    def __init__(self, config: CharRNNConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.n_embd)
        self.rnn = CELLS[config.cell](
            config.n_embd, config.hidden_size, num_layers=config.n_layers, batch_first=True,
            dropout=config.dropout if config.n_layers > 1 else 0.0,  # PyTorch drops between layers only
        )
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, config.vocab_size)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                state: State | None = None) -> tuple[torch.Tensor, torch.Tensor | None, State]:
        """Return ``(logits, loss, state)`` for token ids ``idx`` of shape (batch, time).

        ``loss`` is the mean cross-entropy against ``targets`` (same shape as ``idx``; ids equal
        to -1 are ignored), or None without targets. ``state`` is the state left by the previous
        chunk (None starts from zeros); the returned state continues from the last time step.
        For truncated backpropagation through time pass ``detach_state(state)`` to the next
        chunk, so that gradients stop at the chunk boundary. The state has the weights' dtype (float32
        for a float32 model, also under autocast).
        """
        batch, _ = check_token_ids(idx, self.config.vocab_size)
        if state is not None:
            self._check_state(state, batch)
        # The recurrence runs in float32 even under autocast: rounding errors compound over time
        # steps, and cuDNN's recurrent kernels accept bfloat16 only since cuDNN 9.13.
        with torch.autocast(device_type=idx.device.type, enabled=False):
            out, state = self.rnn(self.embedding(idx), state)
        logits = self.head(self.drop(out))
        loss = None if targets is None else language_model_loss(logits, targets, idx)
        return logits, loss, state

    def _check_state(self, state: State, batch: int) -> None:
        """Raise ValueError unless ``state`` has the layout this model's cell returns."""
        shape = (self.config.n_layers, batch, self.config.hidden_size)
        if self.config.cell == "lstm":
            if not (isinstance(state, tuple) and len(state) == 2):
                raise ValueError(f"an LSTM state must be a pair (h, c) of tensors of shape {shape}, "
                                 f"got {type(state).__name__}")
            tensors = {"h": state[0], "c": state[1]}
        else:
            if not isinstance(state, torch.Tensor):
                raise ValueError(f"an RNN state must be one tensor h of shape {shape}, "
                                 f"got {type(state).__name__}")
            tensors = {"h": state}
        for name, tensor in tensors.items():
            if tuple(tensor.shape) != shape:
                raise ValueError(f"expected state {name} of shape (n_layers, batch, hidden_size) = {shape}, "
                                 f"got {tuple(tensor.shape)}")

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None) -> torch.Tensor:
        """Continue each prompt in ``idx`` (batch, time) by ``max_new_tokens`` sampled tokens.

        The prompt is read once; each new token is then fed alone together with the carried
        state, so a step costs the same however long the text grows. Returns
        (batch, time + max_new_tokens). Dropout is off while sampling.
        """
        check_sampling(max_new_tokens, temperature, top_k, self.config.vocab_size)
        was_training = self.training
        self.eval()
        try:  # restore the mode also when sampling is interrupted
            logits, _, state = self(idx)
            pieces = [idx]
            for _ in range(max_new_tokens):
                next_id = sample_next(logits[:, -1, :], temperature, top_k)
                pieces.append(next_id.to(idx.dtype))
                logits, _, state = self(next_id, state=state)
        finally:
            self.train(was_training)
        return torch.cat(pieces, dim=1)


def detach_state(state: State) -> State:
    """The same state cut from the graph that produced it (the "truncated" in truncated BPTT)."""
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()
