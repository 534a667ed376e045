"""A GPT: a decoder-only Transformer language model, in the spirit of nanoGPT's model.py.

The architecture is GPT-2's (Radford et al., 2019, "Language Models are Unsupervised
Multitask Learners"): learned token and position embeddings, a stack of pre-LayerNorm blocks
of causal multi-head self-attention (Vaswani et al., 2017, "Attention Is All You Need") and a
GELU MLP, a final LayerNorm, and an output head that shares its weights with the token
embedding. Karpathy's nanoGPT (2022) is the readable reference this file follows in spirit;
the code here is written for the book.

Shapes: token ids ``idx`` (batch, time) with time <= block_size -> logits
(batch, time, vocab_size).

The book's gpu profile trains nanoGPT's character-level Shakespeare shape
(config/train_shakespeare_char.py): ``GPTConfig(vocab_size=65, block_size=256, n_layer=6,
n_head=6, n_embd=384, dropout=0.2, bias=False)``. The small defaults below are for a CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .language_model import check_sampling, check_token_ids, language_model_loss, sample_next


@dataclass
class GPTConfig:
    """Sizes of a :class:`GPT`. The defaults are small enough for a CPU."""

    vocab_size: int = 65    # tiny Shakespeare has 65 distinct characters
    block_size: int = 64    # the longest context the model can see
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128       # width of the residual stream; a multiple of n_head
    dropout: float = 0.0
    bias: bool = True       # biases in Linear and LayerNorm layers, as in GPT-2

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd must be a multiple of n_head, got n_embd={self.n_embd} "
                             f"and n_head={self.n_head}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position t attends only to positions <= t."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.dropout = config.dropout
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v at once
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, time, n_embd) -> (batch, time, n_embd)."""
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        # (B, T, C) -> (B, n_head, T, head_size): every head attends independently
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side again
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    """Position-wise feed-forward network: widen 4x, GELU, project back."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """A pre-LayerNorm Transformer block: ``x + attn(ln(x))``, then ``x + mlp(ln(x))``."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """Token + position embeddings -> n_layer blocks -> LayerNorm -> head tied to the token embedding."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying: one matrix reads and writes tokens
        self.apply(self._init_weights)
        # GPT-2 scales the layers that write into the residual stream by 1/sqrt(number of such
        # layers, two per block), so the stream's variance does not grow with depth.
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        """nanoGPT's initialisation: N(0, 0.02) weights, zero biases (GPT-2 drew positions with std 0.01)."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx: torch.Tensor,
                targets: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return ``(logits, loss)`` for token ids ``idx`` of shape (batch, time), time <= block_size.

        ``loss`` is the mean cross-entropy against ``targets`` (same shape as ``idx``; ids equal
        to -1 are ignored), or None without targets.
        """
        _, T = check_token_ids(idx, self.config.vocab_size, max_time=self.config.block_size)
        position = torch.arange(T, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(position))  # (B, T, C) + (T, C)
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        loss = None if targets is None else language_model_loss(logits, targets, idx)
        return logits, loss

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None) -> torch.Tensor:
        """Continue each prompt in ``idx`` (batch, time) by ``max_new_tokens`` sampled tokens.

        The model sees at most the last ``block_size`` tokens, so prompts and outputs may be
        longer than that. Returns (batch, time + max_new_tokens). Dropout is off while sampling.
        """
        check_sampling(max_new_tokens, temperature, top_k, self.config.vocab_size)
        check_token_ids(idx, self.config.vocab_size)
        was_training = self.training
        self.eval()
        try:  # restore the mode also when sampling is interrupted
            for _ in range(max_new_tokens):
                logits, _ = self(idx[:, -self.config.block_size:])
                next_id = sample_next(logits[:, -1, :], temperature, top_k)
                idx = torch.cat([idx, next_id.to(idx.dtype)], dim=1)
        finally:
            self.train(was_training)
        return idx

    def num_params(self, include_position: bool = False) -> int:
        """Number of parameters, each tied matrix counted once.

        Like nanoGPT, leave out the position embeddings by default (they do no computation
        beyond a lookup); the token embedding stays in because it is also the output head.
        """
        n = sum(p.numel() for p in self.parameters())
        return n if include_position else n - self.wpe.weight.numel()

    def configure_optimizers(self, weight_decay: float, lr: float,
                             betas: tuple[float, float] = (0.9, 0.95)) -> torch.optim.AdamW:
        """AdamW that decays only the weight matrices and embeddings (tensors with >= 2 dims).

        Biases and LayerNorm gains (1-D) are not decayed: shrinking them toward zero does not
        make the model simpler, it only shifts or shrinks activations.
        """
        if not weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
        if not lr > 0:
            raise ValueError(f"lr must be a positive number, got {lr!r}")
        params = list(self.parameters())  # parameters() yields a tied tensor once
        groups = [
            {"params": [p for p in params if p.requires_grad and p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.requires_grad and p.dim() < 2], "weight_decay": 0.0},
        ]
        return torch.optim.AdamW(groups, lr=lr, betas=betas)
