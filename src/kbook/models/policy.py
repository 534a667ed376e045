"""A categorical policy network trained with REINFORCE (policy gradients).

REINFORCE (Williams, 1992) raises the log-probability of each action taken in proportion to
the return that followed it. Its gradient estimate for one episode is

    grad J  ~  sum_t  grad log pi(a_t | s_t) * (G_t - b)

with G_t the discounted return from step t on and b a baseline that lowers the variance
without adding bias. Karpathy's "Deep Reinforcement Learning: Pong from Pixels" (2016) trains a
two-layer policy network this way and standardises the discounted returns to zero mean and
unit variance. This file does the same for any discrete action set: the network maps an
observation to the logits of a ``torch.distributions.Categorical``, and

    loss = - sum_t log pi(a_t | s_t) * (G_t - b)

is the quantity whose gradient is the (negated) estimate above.

Shapes: observations (batch, obs_size) float -> a Categorical with batch_shape (batch,) over
n_actions actions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.distributions import Categorical

from kbook.scratch.rl import returns_to_go

from .mlp import MLP, MLPConfig


@dataclass
class PolicyConfig:
    """Sizes of a :class:`PolicyNetwork`: observation length, number of actions, hidden layers."""

    obs_size: int = 4
    n_actions: int = 2
    hidden_sizes: tuple[int, ...] = (128,)


class PolicyNetwork(nn.Module):
    """An MLP from an observation to action logits, returned as a Categorical distribution."""

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        if config.obs_size < 1 or config.n_actions < 1 or any(h < 1 for h in config.hidden_sizes):
            raise ValueError(f"obs_size, n_actions and hidden sizes must be positive, got {config}")
        self.config = config
        self.net = MLP(MLPConfig(config.obs_size, tuple(config.hidden_sizes), config.n_actions, "relu"))

    def forward(self, obs: torch.Tensor) -> Categorical:
        """(batch, obs_size) observations -> pi(. | s), a Categorical with batch_shape (batch,).

        The logits are cast to float32, so probabilities and log-probabilities stay accurate
        under bf16 autocast.
        """
        if obs.ndim != 2 or obs.shape[1] != self.config.obs_size or not obs.is_floating_point():
            raise ValueError(f"expected float observations of shape (batch, {self.config.obs_size}), "
                             f"got {obs.dtype} of shape {tuple(obs.shape)}")
        weights = next(self.parameters()).dtype
        if obs.dtype != weights and not torch.is_autocast_enabled(obs.device.type):
            raise TypeError(f"observation dtype {obs.dtype} differs from the network's {weights}: convert "
                            f"with obs.to({weights}) (gymnasium returns float32 for CartPole)")
        return Categorical(logits=self.net(obs).float())


def discounted_returns(rewards: Sequence[float] | torch.Tensor, gamma: float) -> torch.Tensor:
    """The return-to-go G_t = r_t + gamma G_{t+1} of every step of ONE episode; float32, shape (T,).

    Wraps :func:`kbook.scratch.rl.returns_to_go`. For several episodes, call it once per
    episode and concatenate: a return never runs past the end of its own episode. A tensor of
    rewards gives returns on its device; a list, returns on the CPU.
    """
    device = None
    if isinstance(rewards, torch.Tensor):
        if rewards.ndim != 1:
            raise ValueError(f"expected rewards of shape (T,), got {tuple(rewards.shape)}")
        rewards, device = rewards.tolist(), rewards.device
    return torch.tensor(returns_to_go(rewards, gamma), dtype=torch.float32, device=device)


def normalize_returns(returns: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Standardise to zero mean and unit variance: (G - mean) / (std + eps), std over the batch.

    Subtracting the mean acts as a constant baseline; dividing by the standard deviation
    keeps the gradient's scale the same from batch to batch.
    """
    if returns.ndim != 1 or returns.numel() == 0:
        raise ValueError(f"expected a non-empty 1-D tensor of returns of shape (T,), got "
                         f"{tuple(returns.shape)}")
    return (returns - returns.mean()) / (returns.std(correction=0) + eps)


def reinforce_loss(log_probs: torch.Tensor, returns: torch.Tensor,
                   baseline: float | torch.Tensor = 0.0) -> torch.Tensor:
    """- sum_t log pi(a_t | s_t) * (G_t - b): its gradient is minus the REINFORCE estimate.

    ``log_probs`` (T,) must carry gradient; ``returns`` (T,) and ``baseline`` (a number or a
    (T,) tensor, e.g. a value network's estimates) are treated as constants.
    """
    if log_probs.ndim != 1 or returns.shape != log_probs.shape:
        raise ValueError(f"expected log_probs and returns of the same shape (T,), got "
                         f"{tuple(log_probs.shape)} and {tuple(returns.shape)}")
    baseline = torch.as_tensor(baseline, dtype=returns.dtype, device=returns.device)
    if baseline.ndim != 0 and baseline.shape != returns.shape:
        raise ValueError(f"expected a scalar baseline or one of shape {tuple(returns.shape)}, got "
                         f"{tuple(baseline.shape)}")
    advantages = (returns - baseline).detach().to(log_probs.device)  # returns may come from the CPU
    return -(log_probs.float() * advantages.float()).sum()
