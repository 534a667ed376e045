"""Softmax, attention and positional encoding from scratch (chapter 4.5).

A numerically stable softmax with a temperature, scaled dot-product attention with an
optional mask (Vaswani et al., 2017), the additive attention score of Bahdanau et al. (2015),
and the sinusoidal positional encoding of the Transformer.
"""

from __future__ import annotations

import math

import torch


def softmax(x: torch.Tensor, dim: int = -1, temperature: float = 1.0) -> torch.Tensor:
    """``exp(x_i / T) / sum_j exp(x_j / T)`` along ``dim``, computed without overflow.

    Subtracting the maximum first changes nothing mathematically (the factor ``exp(-max)``
    cancels) but keeps every exponent <= 0, so ``exp`` never overflows.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    z = x / temperature
    z = z - z.amax(dim=dim, keepdim=True)
    e = z.exp()
    return e / e.sum(dim=dim, keepdim=True)


def causal_mask(n_queries: int, n_keys: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean ``(n_queries, n_keys)`` mask, True where query ``i`` may attend key ``j`` (``j <= i``)."""
    return torch.ones(n_queries, n_keys, dtype=torch.bool, device=device).tril()


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 mask: torch.Tensor | None = None, causal: bool = False,
                                 scale: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``softmax(q k^T / sqrt(d)) v`` for ``q`` (..., L, d), ``k`` (..., S, d), ``v`` (..., S, d_v).

    ``mask`` is boolean, broadcastable to (..., L, S), True where attending is allowed (the
    convention of ``torch.nn.functional.scaled_dot_product_attention``); ``causal`` adds
    ``causal_mask(L, S)``. ``scale`` defaults to ``1/sqrt(d)``. Returns the output
    (..., L, d_v) and the attention weights (..., L, S). Every query must be allowed at least
    one key: a fully masked row has no softmax, and raises ValueError.
    """
    if q.dim() < 2 or k.dim() != q.dim() or v.dim() != q.dim():
        raise ValueError(f"q, k, v must have shapes (..., L, d), (..., S, d), (..., S, d_v) with the same "
                         f"number of dimensions (at least 2), got {tuple(q.shape)}, {tuple(k.shape)}, "
                         f"{tuple(v.shape)}")
    if k.shape[-1] != q.shape[-1]:
        raise ValueError(f"k must have shape (..., S, {q.shape[-1]}) to match q {tuple(q.shape)}, "
                         f"got {tuple(k.shape)}")
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(f"v must have shape (..., {k.shape[-2]}, d_v): one value per key, got "
                         f"{tuple(v.shape)} for k {tuple(k.shape)}")
    scores = q @ k.transpose(-2, -1) * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    allowed = torch.ones_like(scores, dtype=torch.bool)
    if mask is not None:
        if mask.dtype != torch.bool:
            raise ValueError(f"mask must be a boolean tensor (True = may attend), got dtype {mask.dtype}")
        try:
            torch.broadcast_shapes(mask.shape, scores.shape)
        except RuntimeError as error:
            raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to the scores' shape "
                             f"{tuple(scores.shape)} (..., L, S)") from error
        allowed = allowed & mask.to(scores.device)
    if causal:
        allowed = allowed & causal_mask(q.shape[-2], k.shape[-2], scores.device)
    if not allowed.any(dim=-1).all():
        raise ValueError("the mask leaves some query with no key to attend to (a row of all False); "
                         "allow at least one key per query")
    weights = softmax(scores.masked_fill(~allowed, float("-inf")))
    return weights @ v, weights


def additive_scores(query: torch.Tensor, keys: torch.Tensor, w_query: torch.Tensor, w_key: torch.Tensor,
                    v: torch.Tensor) -> torch.Tensor:
    """Bahdanau's score of one query against each key: ``e_j = v . tanh(W_q query + W_k key_j)``.

    ``query`` (d_q,), ``keys`` (S, d_k), ``w_query`` (h, d_q), ``w_key`` (h, d_k), ``v`` (h,).
    Returns the S scores; ``softmax`` of them gives the attention weights over the keys.
    """
    if (query.dim(), keys.dim(), w_query.dim(), w_key.dim(), v.dim()) != (1, 2, 2, 2, 1):
        raise ValueError(f"expected query (d_q,), keys (S, d_k), w_query (h, d_q), w_key (h, d_k), v (h,); "
                         f"got {tuple(query.shape)}, {tuple(keys.shape)}, {tuple(w_query.shape)}, "
                         f"{tuple(w_key.shape)}, {tuple(v.shape)}")
    h = v.shape[0]
    if tuple(w_query.shape) != (h, query.shape[0]):
        raise ValueError(f"w_query must have shape ({h}, {query.shape[0]}) for v {tuple(v.shape)} and query "
                         f"{tuple(query.shape)}, got {tuple(w_query.shape)}")
    if tuple(w_key.shape) != (h, keys.shape[1]):
        raise ValueError(f"w_key must have shape ({h}, {keys.shape[1]}) for v {tuple(v.shape)} and keys "
                         f"{tuple(keys.shape)}, got {tuple(w_key.shape)}")
    return torch.tanh(w_query @ query + keys @ w_key.T) @ v


def sinusoidal_positional_encoding(n_positions: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """The Transformer's encoding, shape ``(n_positions, d_model)``.

    ``PE[pos, 2i] = sin(pos / base**(2i/d_model))`` and ``PE[pos, 2i+1] = cos(pos / base**(2i/d_model))``.
    """
    if not isinstance(n_positions, int) or n_positions < 1:
        raise ValueError(f"n_positions must be a positive int, got {n_positions!r}")
    if not isinstance(d_model, int) or d_model < 2 or d_model % 2:
        raise ValueError(f"d_model must be an even int >= 2 (sine and cosine come in pairs), got {d_model!r}")
    position = torch.arange(n_positions, dtype=torch.float64)[:, None]
    frequency = base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)  # 1 / base**(2i/d)
    pe = torch.empty(n_positions, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(position * frequency)
    pe[:, 1::2] = torch.cos(position * frequency)
    return pe
