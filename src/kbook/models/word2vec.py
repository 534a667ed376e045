"""word2vec: the skip-gram model trained with negative sampling.

From Mikolov, Sutskever, Chen, Corrado and Dean (2013), "Distributed Representations of Words
and Phrases and their Compositionality" (NIPS 2013). Every word ``w`` has two vectors: an
input vector ``v_w`` (used when ``w`` is the centre word) and an output vector ``u_w`` (used
when ``w`` is a context word). For a centre word ``c``, one observed context word ``o`` and
``K`` noise words ``k_1..k_K`` drawn from the unigram distribution raised to the power 3/4,
the loss is

    -log sigmoid(u_o . v_c) - sum_k log sigmoid(-u_k . v_c)

which pulls ``v_c`` towards the vectors of words seen near it and pushes it away from random
words. The input vectors are the word embeddings one keeps.

The pieces, in the order a training run uses them:

- ``discard_probability`` / ``subsample``: drop very frequent words (the paper's subsampling);
- ``skipgram_pairs``: every (centre, context) pair within a window of a token-id sequence;
- ``UnigramSampler``: draws the noise words;
- ``Word2Vec``: ``forward(center (B,), context (B,), negatives (B, K))`` returns the mean loss,
  a scalar; ``nearest(word_ids (N,), k)`` returns the ``k`` most cosine-similar words, (N, k).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class Word2VecConfig:
    """Sizes of a :class:`Word2Vec` model: vocabulary and vector length."""

    vocab_size: int = 1000
    embed_dim: int = 64

    def __post_init__(self) -> None:
        for name in ("vocab_size", "embed_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")


def _check_counts(counts: Tensor) -> None:
    if counts.dim() != 1 or counts.numel() == 0:
        raise ValueError(f"expected word counts of shape (vocab_size,), got {tuple(counts.shape)}")
    if (counts < 0).any() or counts.sum() <= 0:
        raise ValueError("word counts must be non-negative with a positive total")


def discard_probability(counts: Tensor, t: float = 1e-5) -> Tensor:
    """Probability of dropping each occurrence of a word: ``max(0, 1 - sqrt(t / f))``.

    ``counts`` (vocab_size,) are corpus counts and ``f = count / total`` the word's frequency,
    so only words with ``f > t`` are ever dropped; the paper suggests ``t`` around 1e-5.
    Words with count 0 never occur; their probability comes out as 0.
    """
    _check_counts(counts)
    if not t > 0:
        raise ValueError(f"t must be a positive threshold, got {t!r}")
    f = counts.detach().cpu().double() / counts.sum().item()  # float64 on the CPU: MPS has no float64
    return (1 - torch.sqrt(t / f)).clamp(min=0)  # f = 0 gives 1 - inf, clamped to 0


def subsample(token_ids: Tensor, counts: Tensor, t: float = 1e-5,
              generator: torch.Generator | None = None) -> Tensor:
    """Keep each token of ``token_ids`` (length,) with probability ``1 - discard_probability``.

    The random draws are made on the CPU (``generator``, if given, is a CPU generator); the
    kept tokens stay on ``token_ids``' device.
    """
    if token_ids.dim() != 1:
        raise ValueError(f"expected token ids of shape (length,), got {tuple(token_ids.shape)}")
    keep = 1 - discard_probability(counts, t)[token_ids.cpu()]  # float64, drawn on the CPU
    kept = torch.rand(keep.shape, generator=generator, dtype=keep.dtype) < keep
    return token_ids[kept.to(token_ids.device)]


def skipgram_pairs(token_ids: Tensor, window: int) -> Tensor:
    """All (centre, context) pairs with the context at most ``window`` positions from the centre.

    Returns an int64 tensor of shape (n_pairs, 2), ordered by centre position and then by
    offset (-window .. -1, 1 .. window). For ids ``[a, b, c]`` and ``window=1`` that is
    ``[[a, b], [b, a], [b, c], [c, b]]``. Memory is ``2 * window`` pairs per token.
    """
    if token_ids.dim() != 1:
        raise ValueError(f"expected token ids of shape (length,), got {tuple(token_ids.shape)}")
    if not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be a positive int, got {window!r}")
    token_ids = token_ids.long()
    offsets = torch.cat([torch.arange(-window, 0), torch.arange(1, window + 1)]).to(token_ids.device)
    center = torch.arange(len(token_ids), device=token_ids.device)[:, None]  # (length, 1)
    context = center + offsets  # (length, 2 * window)
    inside = (context >= 0) & (context < len(token_ids))
    return torch.stack([token_ids[center.expand_as(context)[inside]], token_ids[context[inside]]], dim=1)


class UnigramSampler:
    """Draws noise words with probability ``count^power / sum(count^power)`` (power 3/4 in the paper).

    It draws on the CPU whatever device ``counts`` is on, so a seeded generator gives the same words
    on every machine; move the drawn ids to the model's device (``kbook.fit`` does).
    """

    def __init__(self, counts: Tensor, power: float = 0.75):
        _check_counts(counts)
        weights = counts.detach().cpu().double() ** power  # float64 on the CPU: MPS has no float64
        self.probs = (weights / weights.sum()).float()

    def sample(self, batch: int, k: int, generator: torch.Generator | None = None) -> Tensor:
        """``k`` noise word ids for each of ``batch`` pairs, shape (batch, k), drawn with replacement."""
        for name, value in (("batch", batch), ("k", k)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        ids = torch.multinomial(self.probs, batch * k, replacement=True, generator=generator)
        return ids.view(batch, k)


def negative_sampling_loss(v_center: Tensor, u_context: Tensor, u_negative: Tensor) -> Tensor:
    """``-log sigmoid(u_o . v_c) - sum_k log sigmoid(-u_k . v_c)``, averaged over the batch.

    ``v_center`` and ``u_context`` are (B, D), ``u_negative`` is (B, K, D). ``logsigmoid`` is
    ``log(sigmoid(x))`` computed without overflow for large ``|x|``.
    """
    if v_center.ndim != 2 or u_context.shape != v_center.shape:
        raise ValueError(f"v_center and u_context must both be (B, D), got {tuple(v_center.shape)} and "
                         f"{tuple(u_context.shape)}")
    batch, dim = v_center.shape
    if u_negative.ndim != 3 or (u_negative.shape[0], u_negative.shape[2]) != (batch, dim):
        raise ValueError(f"u_negative must be (B, K, D) = ({batch}, K, {dim}), got {tuple(u_negative.shape)}")
    positive = (u_context * v_center).sum(-1)  # (B,)     u_o . v_c
    # (B, K) u_k . v_c; a product and a sum rather than a matmul, so that bf16 autocast leaves it
    # in float32: at the start (zero output vectors) bf16 would round log sigmoid(0) = -ln 2.
    negative = (u_negative * v_center.unsqueeze(1)).sum(-1)
    loss = -F.logsigmoid(positive) - F.logsigmoid(-negative).sum(-1)
    return loss.mean()


class Word2Vec(nn.Module):
    """Skip-gram with negative sampling: an input and an output embedding table."""

    def __init__(self, config: Word2VecConfig):
        super().__init__()
        self.config = config
        self.input_embed = nn.Embedding(config.vocab_size, config.embed_dim)  # v_w, the word vectors
        self.output_embed = nn.Embedding(config.vocab_size, config.embed_dim)  # u_w
        # As in the reference C implementation: small uniform input vectors and zero output
        # vectors, so every word starts equally likely and the first loss is (1 + K) log 2.
        nn.init.uniform_(self.input_embed.weight, -0.5 / config.embed_dim, 0.5 / config.embed_dim)
        nn.init.zeros_(self.output_embed.weight)

    def forward(self, center: Tensor, context: Tensor, negatives: Tensor) -> Tensor:
        """Mean negative-sampling loss for ``center`` (B,), ``context`` (B,) and ``negatives`` (B, K)."""
        for name, ids in (("center", center), ("context", context), ("negatives", negatives)):
            if ids.dtype not in (torch.int32, torch.int64):
                raise ValueError(f"expected {name} to hold integer word ids, got dtype {ids.dtype}")
            if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.config.vocab_size):
                raise ValueError(f"{name} ids must lie in [0, {self.config.vocab_size}), got values from "
                                 f"{int(ids.min())} to {int(ids.max())}")
        if center.dim() != 1:
            raise ValueError(f"expected center word ids of shape (batch,), got {tuple(center.shape)}")
        batch = center.shape[0]
        if tuple(context.shape) != (batch,):
            raise ValueError(f"expected context word ids of shape ({batch},), got {tuple(context.shape)}")
        if negatives.dim() != 2 or negatives.shape[0] != batch:
            raise ValueError(f"expected negative word ids of shape ({batch}, k), "
                             f"got {tuple(negatives.shape)}")
        return negative_sampling_loss(self.input_embed(center), self.output_embed(context),
                                      self.output_embed(negatives))

    @torch.no_grad()
    def nearest(self, word_ids: Tensor, k: int = 5) -> tuple[Tensor, Tensor]:
        """The ``k`` words whose input vectors have the highest cosine similarity to each query.

        ``word_ids`` (N,); returns ``(ids, similarities)``, both (N, k), most similar first.
        A word is never returned as its own neighbour.
        """
        if word_ids.dim() != 1:
            raise ValueError(f"expected word ids of shape (n,), got {tuple(word_ids.shape)}")
        if word_ids.numel() and (int(word_ids.min()) < 0 or int(word_ids.max()) >= self.config.vocab_size):
            raise ValueError(f"word ids must lie in [0, {self.config.vocab_size}), got values from "
                             f"{int(word_ids.min())} to {int(word_ids.max())}")
        if not isinstance(k, int) or not 1 <= k < self.config.vocab_size:
            raise ValueError(f"k must be an int in [1, {self.config.vocab_size - 1}], got {k!r}")
        vectors = F.normalize(self.input_embed.weight.float(), dim=-1)  # (V, D), unit length
        similarity = vectors[word_ids] @ vectors.T  # (N, V) cosine similarities
        similarity[torch.arange(len(word_ids), device=similarity.device), word_ids] = float("-inf")
        top = similarity.topk(k, dim=-1)
        return top.indices, top.values
