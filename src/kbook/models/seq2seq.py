"""A GRU encoder-decoder with additive attention, for translating one token sequence into another.

From Bahdanau, Cho and Bengio (2015), "Neural Machine Translation by Jointly Learning to Align
and Translate" (ICLR 2015, arXiv 1409.0473). The choices, following that paper:

- Encoder: a bidirectional GRU. The annotation of source position ``j`` is
  ``h_j = [forward h_j ; backward h_j]`` (size ``2 * hidden_dim``), so it summarises the words
  on both sides of ``j``. Padded positions are skipped with ``pack_padded_sequence``, so the
  backward direction starts at each sequence's last real token.
- Initial decoder state: ``s_0 = tanh(W_s backward h_1)``, the backward state at the first position.
- Attention (``AdditiveAttention``): ``e_ij = v^T tanh(W s_{i-1} + U h_j)``, ``alpha_ij =
  softmax_j(e_ij)`` over the real (unpadded) source positions, context ``c_i = sum_j alpha_ij h_j``.
- Decoder step: ``s_i = GRU([E y_{i-1} ; c_i], s_{i-1})`` and logits from a linear layer on
  ``[s_i ; c_i ; E y_{i-1}]`` (the paper puts a maxout layer there; a linear layer keeps it small).

Shapes: ``src`` (B, S) and ``tgt_in`` (B, T) are int64 token ids padded on the right with
``config.pad_id``; ``src_lengths`` (B,) counts the real source tokens (``None``: no padding).
``forward`` returns logits (B, T, tgt_vocab_size) and attention weights (B, T, S).
``greedy_decode`` returns token ids (B, T') and attention weights (B, T', S) with T' <= max_len.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


@dataclass
class Seq2SeqConfig:
    """Sizes of a :class:`Seq2Seq` translator and the id of its padding token."""

    src_vocab_size: int = 64
    tgt_vocab_size: int = 64
    embed_dim: int = 32
    hidden_dim: int = 64  # per encoder direction, and the decoder state
    attn_dim: int = 64  # size of W s and U h inside the attention score
    dropout: float = 0.0  # on embeddings and on the output layer's input
    pad_id: int = 0  # padding token id, in both vocabularies

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "embed_dim", "hidden_dim", "attn_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not 0 <= self.pad_id < min(self.src_vocab_size, self.tgt_vocab_size):
            raise ValueError(f"pad_id must be a valid id in both vocabularies, got {self.pad_id}")


def _check_ids(ids: Tensor, vocab_size: int, name: str) -> None:
    """Raise ValueError for ids outside [0, vocab_size) (on a GPU they would be an opaque device assert)."""
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(f"{name} ids must lie in [0, {vocab_size}), got values from {int(ids.min())} "
                         f"to {int(ids.max())}")


class AdditiveAttention(nn.Module):
    """Bahdanau's attention: ``score(s, h_j) = v^T tanh(W s + U h_j)``, softmax over unmasked j."""

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int):
        super().__init__()
        self.W = nn.Linear(query_dim, attn_dim, bias=False)
        self.U = nn.Linear(key_dim, attn_dim, bias=False)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor,
                projected_keys: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Attend from ``query`` (B, query_dim) over ``keys`` (B, S, key_dim).

        ``mask`` (B, S) is boolean, True at real positions; each row needs at least one True.
        ``projected_keys`` is ``U keys`` (B, S, attn_dim) when the caller has computed it once for
        all decoder steps. Returns the context ``sum_j alpha_j keys_j`` (B, key_dim) and the
        weights ``alpha`` (B, S), which are exactly 0 where ``mask`` is False.
        """
        if query.dim() != 2 or query.shape[1] != self.W.in_features:
            raise ValueError(f"expected query of shape (batch, {self.W.in_features}), "
                             f"got {tuple(query.shape)}")
        batch = query.shape[0]
        if keys.dim() != 3 or keys.shape[0] != batch or keys.shape[2] != self.U.in_features:
            raise ValueError(f"expected keys of shape ({batch}, src_len, {self.U.in_features}), "
                             f"got {tuple(keys.shape)}")
        if mask.dtype != torch.bool or tuple(mask.shape) != tuple(keys.shape[:2]):
            raise ValueError(f"expected a boolean mask of shape {tuple(keys.shape[:2])}, "
                             f"got {mask.dtype} {tuple(mask.shape)}")
        if projected_keys is None:
            projected_keys = self.U(keys)
        scores = self.v(torch.tanh(self.W(query).unsqueeze(1) + projected_keys)).squeeze(-1)  # (B, S)
        if scores.dtype in (torch.float16, torch.bfloat16):
            scores = scores.float()  # softmax in float32 under autocast
        weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)  # exp(-inf) = 0 exactly
        context = torch.bmm(weights.unsqueeze(1).to(keys.dtype), keys).squeeze(1)
        return context, weights


class Encoded(NamedTuple):
    """What the decoder needs from the source, computed once per batch."""

    states: Tensor  # (B, S, 2 * hidden_dim) the annotations h_j
    keys: Tensor  # (B, S, attn_dim) U h_j, the part of the attention score that does not change
    mask: Tensor  # (B, S) True at real source tokens


class Seq2Seq(nn.Module):
    """Bidirectional GRU encoder, GRU decoder with additive attention."""

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        self.config = config
        E, H = config.embed_dim, config.hidden_dim
        self.src_embed = nn.Embedding(config.src_vocab_size, E, padding_idx=config.pad_id)
        self.tgt_embed = nn.Embedding(config.tgt_vocab_size, E, padding_idx=config.pad_id)
        self.encoder = nn.GRU(E, H, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(H, H)  # s_0 = tanh(W_s backward h_1)
        self.attention = AdditiveAttention(query_dim=H, key_dim=2 * H, attn_dim=config.attn_dim)
        self.decoder = nn.GRUCell(E + 2 * H, H)
        self.out = nn.Linear(H + 2 * H + E, config.tgt_vocab_size)
        self.dropout = nn.Dropout(config.dropout)

    def _check_src(self, src: Tensor, src_lengths: Tensor | None) -> Tensor:
        """Validate ``src`` (B, S) and ``src_lengths`` (B,); return the lengths on the CPU."""
        if src.dim() != 2 or src.dtype not in (torch.int32, torch.int64):
            raise ValueError(f"expected source token ids of shape (batch, src_len) and an integer dtype, "
                             f"got {src.dtype} {tuple(src.shape)}")
        _check_ids(src, self.config.src_vocab_size, "source token")
        batch, src_len = src.shape
        if src_lengths is None:
            return torch.full((batch,), src_len, dtype=torch.int64)
        if tuple(src_lengths.shape) != (batch,) or src_lengths.is_floating_point():
            raise ValueError(f"expected integer src_lengths of shape ({batch},), got {src_lengths.dtype} "
                             f"{tuple(src_lengths.shape)}")
        lengths = src_lengths.cpu().long()  # pack_padded_sequence wants them on the CPU
        if lengths.min() < 1 or lengths.max() > src_len:
            raise ValueError(f"src_lengths must lie in [1, {src_len}] (src_len), got {lengths.tolist()}")
        return lengths

    def encode(self, src: Tensor, src_lengths: Tensor | None = None) -> tuple[Encoded, Tensor]:
        """Run the encoder; return the ``Encoded`` source and the first decoder state s_0 (B, H)."""
        lengths = self._check_src(src, src_lengths)
        packed = pack_padded_sequence(self.dropout(self.src_embed(src)), lengths, batch_first=True,
                                      enforce_sorted=False)
        # The recurrences run in float32 also under autocast, as in CharRNN: rounding errors
        # compound over time steps, and cuDNN's recurrent kernels accept bfloat16 only since 9.13.
        with torch.autocast(src.device.type, enabled=False):
            packed_states, final = self.encoder(packed)  # final: (2, B, H), [forward h_S, backward h_1]
        states, _ = pad_packed_sequence(packed_states, batch_first=True, total_length=src.shape[1])
        mask = torch.arange(src.shape[1], device=src.device) < lengths.to(src.device)[:, None]
        hidden = torch.tanh(self.bridge(final[1]))
        return Encoded(states, self.attention.U(states), mask), hidden

    def decode_step(self, prev_token: Tensor, hidden: Tensor,
                    encoded: Encoded) -> tuple[Tensor, Tensor, Tensor]:
        """One decoder step from ``prev_token`` (B,) and state ``hidden`` (B, H).

        Returns logits (B, tgt_vocab_size) for the next token, the new state (B, H) and the
        attention weights (B, S) used for it.
        """
        batch = encoded.states.shape[0]
        if tuple(prev_token.shape) != (batch,):
            raise ValueError(f"expected prev_token of shape ({batch},), got {tuple(prev_token.shape)}")
        if tuple(hidden.shape) != (batch, self.config.hidden_dim):
            raise ValueError(f"expected hidden of shape ({batch}, {self.config.hidden_dim}), "
                             f"got {tuple(hidden.shape)}")
        embedded = self.dropout(self.tgt_embed(prev_token))  # E y_{i-1}
        context, weights = self.attention(hidden, encoded.states, encoded.mask, encoded.keys)  # from s_{i-1}
        with torch.autocast(hidden.device.type, enabled=False):  # s_i, in float32
            hidden = self.decoder(torch.cat([embedded, context], dim=-1).float(), hidden.float())
        features = torch.cat([hidden, context, embedded], dim=-1)
        return self.out(self.dropout(features)), hidden, weights

    def forward(self, src: Tensor, src_lengths: Tensor | None, tgt_in: Tensor) -> tuple[Tensor, Tensor]:
        """Teacher forcing: decoder input ``t`` is the true token ``tgt_in[:, t]`` (BOS first).

        Returns logits (B, T, tgt_vocab_size) and attention weights (B, T, S).
        """
        encoded, hidden = self.encode(src, src_lengths)
        batch = src.shape[0]
        if tgt_in.dim() != 2 or tgt_in.shape[0] != batch or tgt_in.dtype not in (torch.int32, torch.int64):
            raise ValueError(f"expected target token ids of shape ({batch}, tgt_len) and an integer dtype, "
                             f"got {tgt_in.dtype} {tuple(tgt_in.shape)}")
        _check_ids(tgt_in, self.config.tgt_vocab_size, "target token")
        logits, weights = [], []
        for t in range(tgt_in.shape[1]):
            step_logits, hidden, step_weights = self.decode_step(tgt_in[:, t], hidden, encoded)
            logits.append(step_logits)
            weights.append(step_weights)
        return torch.stack(logits, dim=1), torch.stack(weights, dim=1)

    def loss(self, logits: Tensor, tgt_out: Tensor) -> Tensor:
        """Mean cross-entropy of ``logits`` (B, T, V) against ``tgt_out`` (B, T), ignoring padding."""
        if logits.dim() != 3 or tuple(tgt_out.shape) != tuple(logits.shape[:2]):
            raise ValueError(f"expected tgt_out of shape {tuple(logits.shape[:2])} to match logits "
                             f"(batch, tgt_len, vocab) {tuple(logits.shape)}, got {tuple(tgt_out.shape)}")
        _check_ids(tgt_out, self.config.tgt_vocab_size, "target token")  # on a GPU: an opaque assert
        return F.cross_entropy(logits.flatten(0, 1).float(), tgt_out.flatten(),
                               ignore_index=self.config.pad_id)

    @torch.no_grad()
    def greedy_decode(self, src: Tensor, max_len: int, bos_id: int, eos_id: int,
                      src_lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Translate by feeding back the most likely token, starting from ``bos_id``.

        Returns token ids (B, T') without the BOS, each row ending at its first ``eos_id`` and
        ``pad_id`` after it, and the attention weights (B, T', S) of every step (for a heat-map);
        T' <= ``max_len``, shorter when every row has produced ``eos_id``. Dropout is off while
        decoding; the model's training mode is restored afterwards.
        """
        if not isinstance(max_len, int) or max_len < 1:
            raise ValueError(f"max_len must be a positive int, got {max_len!r}")
        for name, token_id in (("bos_id", bos_id), ("eos_id", eos_id)):
            if not 0 <= token_id < self.config.tgt_vocab_size:
                raise ValueError(f"{name} must be a target token id in [0, {self.config.tgt_vocab_size}), "
                                 f"got {token_id}")
        was_training = self.training
        self.eval()  # dropout off, so that greedy decoding is deterministic
        try:  # restore the mode also when decoding is interrupted
            encoded, hidden = self.encode(src, src_lengths)
            token = torch.full((src.shape[0],), bos_id, dtype=torch.long, device=src.device)
            finished = torch.zeros_like(token, dtype=torch.bool)
            tokens, weights = [], []
            for _ in range(max_len):
                logits, hidden, step_weights = self.decode_step(token, hidden, encoded)
                token = logits.argmax(dim=-1).masked_fill(finished, self.config.pad_id)
                tokens.append(token)
                weights.append(step_weights)
                finished |= token == eos_id
                if finished.all():
                    break
        finally:
            self.train(was_training)
        return torch.stack(tokens, dim=1), torch.stack(weights, dim=1)
