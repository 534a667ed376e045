"""What every autoregressive language model in kbook shares: input checks, the loss, sampling.

Both ``char_rnn.CharRNN`` and ``gpt.GPT`` read token ids of shape (batch, time), predict the
next token at every position, and generate text one sampled token at a time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def language_model_loss(logits: torch.Tensor, targets: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy of ``logits`` (batch, time, vocab) against ``targets`` (batch, time).

    Targets equal to -1 are ignored (padding); any other id outside [0, vocab) raises ValueError.
    The loss is computed in at least float32, also when the logits come out of bfloat16 autocast.
    """
    if tuple(targets.shape) != tuple(idx.shape):
        raise ValueError(f"expected targets of shape (batch, time) = {tuple(idx.shape)} like the inputs, "
                         f"got {tuple(targets.shape)}")
    if targets.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"expected integer targets (torch.long), got dtype {targets.dtype}")
    vocab_size = logits.shape[-1]
    if not torch.compiler.is_compiling():  # as in check_token_ids: a bad id is an opaque assert on a GPU
        low, high = torch.stack(torch.aminmax(targets)).tolist()  # one device sync
        if low < -1 or high >= vocab_size:
            raise ValueError(f"expected targets in [0, {vocab_size}) or -1 (ignored), "
                             f"got values from {low} to {high}")
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))  # bf16 -> float32; float64 stays
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten().long(), ignore_index=-1)


def check_token_ids(idx: torch.Tensor, vocab_size: int, max_time: int | None = None) -> tuple[int, int]:
    """Raise ValueError unless ``idx`` is (batch, time) integer ids in [0, vocab_size); return its shape.

    Out-of-range ids would otherwise fail inside the embedding, on a GPU as an opaque
    device-side assert. Under ``torch.compile`` only the shape and dtype are checked.
    """
    longest = "time >= 1" if max_time is None else f"1 <= time <= {max_time}"
    if not isinstance(idx, torch.Tensor) or idx.dim() != 2 or idx.shape[0] < 1 or idx.shape[1] < 1 or (
            max_time is not None and idx.shape[1] > max_time):
        got = tuple(idx.shape) if isinstance(idx, torch.Tensor) else type(idx).__name__
        too_long = isinstance(idx, torch.Tensor) and idx.dim() == 2 and max_time is not None and (
            idx.shape[1] > max_time)
        hint = (f": keep the last {max_time} tokens (idx[:, -{max_time}:]) or build the model with a "
                "longer context") if too_long else ""
        raise ValueError(f"expected token ids of shape (batch, time) with {longest}, got {got}{hint}")
    if idx.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"expected integer token ids (torch.long), got dtype {idx.dtype}")
    if torch.compiler.is_compiling():  # reading values would split the compiled graph; eager runs check
        return idx.shape[0], idx.shape[1]
    low, high = torch.stack(torch.aminmax(idx)).tolist()  # one device sync
    if low < 0 or high >= vocab_size:
        raise ValueError(f"expected token ids in [0, {vocab_size}) for vocab_size={vocab_size}, "
                         f"got values from {low} to {high}")
    return idx.shape[0], idx.shape[1]


def check_sampling(max_new_tokens: int, temperature: float, top_k: int | None, vocab_size: int) -> None:
    """Raise ValueError for a sampling setting that makes no sense."""
    if not isinstance(max_new_tokens, int) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    if top_k is not None and not (isinstance(top_k, int) and 1 <= top_k <= vocab_size):
        raise ValueError(f"top_k must be None or an int in [1, {vocab_size}], got {top_k!r}")


def sample_next(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None) -> torch.Tensor:
    """Draw one token id per row of ``logits`` (batch, vocab); returns (batch, 1).

    Dividing by ``temperature`` sharpens (< 1) or flattens (> 1) the distribution; ``top_k``
    keeps only the k most likely tokens, so ``top_k=1`` always picks the most likely one.
    """
    logits = logits.float() / temperature
    if top_k is not None:
        kth_largest = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth_largest, float("-inf"))
    return torch.multinomial(torch.softmax(logits, dim=-1), num_samples=1)
