"""Deep Q-network (DQN) for small observation vectors such as CartPole's.

DQN (Mnih et al., "Playing Atari with Deep Reinforcement Learning", 2013; "Human-level control
through deep reinforcement learning", Nature 2015) learns the action values Q(s, a) with a neural
network trained on the temporal-difference (TD) target

    y = r + gamma * max_a' Q(s', a'; theta_target)         (y = r when s' is terminal)

using two stabilisers: an experience *replay buffer* that breaks the correlation between
consecutive transitions (both papers), and, added in the Nature paper, a *target network*
theta_target, a lagged copy of the online network, replaced there by a hard copy after every C
parameter updates (C = 10,000); a common smooth alternative is Polyak averaging (Lillicrap et
al., 2016). The 2013 paper computed its targets with the online network itself.
Double DQN (van Hasselt, Guez & Silver, 2016) lets the online network choose the next action
and the target network value it, which reduces the max operator's overestimation:

    y = r + gamma * Q(s', argmax_a' Q(s', a'; theta); theta_target)

Shapes: observations (batch, obs_size) float -> Q-values (batch, n_actions).
The TD error is penalised with the Huber (smooth L1) loss, whose gradient is the TD error
clipped to [-1, 1]: the Nature paper's error clipping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .mlp import MLP, MLPConfig


@dataclass
class DQNConfig:
    """Sizes of a :class:`QNetwork`: observation length, number of actions, hidden layers."""

    obs_size: int = 4  # CartPole: cart position, cart velocity, pole angle, pole angular velocity
    n_actions: int = 2  # CartPole: push left, push right
    hidden_sizes: tuple[int, ...] = (128, 128)


class QNetwork(nn.Module):
    """An MLP from an observation to one Q-value per action: Linear -> ReLU -> ... -> Linear."""

    def __init__(self, config: DQNConfig) -> None:
        super().__init__()
        if config.obs_size < 1 or config.n_actions < 1 or any(h < 1 for h in config.hidden_sizes):
            raise ValueError(f"obs_size, n_actions and hidden sizes must be positive, got {config}")
        self.config = config
        self.net = MLP(MLPConfig(config.obs_size, tuple(config.hidden_sizes), config.n_actions, "relu"))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """(batch, obs_size) observations -> (batch, n_actions) Q-values, in float32 also under autocast.

        bfloat16 keeps 8 significant bits: a Q-value near 100 (CartPole's range) would be rounded to
        a multiple of 0.5, as large as the TD errors being learned; a network this small gains
        nothing from lower precision.
        """
        if obs.ndim != 2 or obs.shape[1] != self.config.obs_size or not obs.is_floating_point():
            raise ValueError(f"expected float observations of shape (batch, {self.config.obs_size}), "
                             f"got {obs.dtype} of shape {tuple(obs.shape)}")
        with torch.autocast(device_type=obs.device.type, enabled=False):
            return self.net(obs.float())


class Transitions(NamedTuple):
    """A batch of transitions (s, a, r, s', terminated), one row per transition."""

    obs: torch.Tensor  # (batch, obs_size) float32
    actions: torch.Tensor  # (batch,) int64
    rewards: torch.Tensor  # (batch,) float32
    next_obs: torch.Tensor  # (batch, obs_size) float32
    terminated: torch.Tensor  # (batch,) bool


class ReplayBuffer:
    """A fixed-capacity ring buffer of transitions in preallocated tensors.

    When full, each new transition overwrites the oldest one. Store gymnasium's ``terminated``
    flag (the episode really ended), not ``truncated`` (a time limit cut it short): only a
    terminal state has value 0, so a truncated step must still bootstrap from Q(s', .).
    """

    def __init__(self, capacity: int, obs_size: int, device: torch.device | str = "cpu") -> None:
        for name, value in (("capacity", capacity), ("obs_size", obs_size)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r} (write 100_000, not 1e5)")
        self.capacity, self.obs_size, self.device = capacity, obs_size, torch.device(device)
        self.obs = torch.zeros(capacity, obs_size, device=self.device)
        self.actions = torch.zeros(capacity, dtype=torch.long, device=self.device)
        self.rewards = torch.zeros(capacity, device=self.device)
        self.next_obs = torch.zeros(capacity, obs_size, device=self.device)
        self.terminated = torch.zeros(capacity, dtype=torch.bool, device=self.device)
        self.position = 0  # the slot the next transition goes into
        self.size = 0

    def _as_obs(self, name: str, value: torch.Tensor | Sequence[float]) -> torch.Tensor:
        tensor = torch.as_tensor(value, dtype=torch.float32)
        if tuple(tensor.shape) != (self.obs_size,):
            raise ValueError(f"expected {name} of shape ({self.obs_size},), got {tuple(tensor.shape)}")
        return tensor

    def add(self, obs: torch.Tensor | Sequence[float], action: int, reward: float,
            next_obs: torch.Tensor | Sequence[float], terminated: bool) -> None:
        """Store one transition, overwriting the oldest when the buffer is full."""
        i = self.position
        self.obs[i] = self._as_obs("obs", obs)
        self.next_obs[i] = self._as_obs("next_obs", next_obs)
        self.actions[i] = int(action)
        self.rewards[i] = float(reward)
        self.terminated[i] = bool(terminated)
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Transitions:
        """``batch_size`` stored transitions drawn uniformly at random (with replacement).

        Pass a CPU ``torch.Generator`` for a reproducible draw.
        """
        if self.size == 0:
            raise ValueError("the replay buffer is empty: add transitions before sampling")
        if not 1 <= batch_size <= self.size:
            raise ValueError(f"batch_size must lie in [1, {self.size}] (the number of stored "
                             f"transitions), got {batch_size}")
        idx = torch.randint(self.size, (batch_size,), generator=generator).to(self.device)
        return Transitions(self.obs[idx], self.actions[idx], self.rewards[idx], self.next_obs[idx],
                           self.terminated[idx])

    def __len__(self) -> int:
        return self.size


def epsilon_greedy(q_values: torch.Tensor, epsilon: float,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """(batch, n_actions) Q-values -> (batch,) actions: random with probability epsilon, else argmax."""
    if not 0 <= epsilon <= 1:
        raise ValueError(f"epsilon is a probability and must lie in [0, 1], got {epsilon!r}")
    if q_values.ndim != 2:
        raise ValueError(f"expected Q-values of shape (batch, n_actions), got {tuple(q_values.shape)}")
    batch, n_actions = q_values.shape
    explore = torch.rand(batch, generator=generator) < epsilon
    random_actions = torch.randint(n_actions, (batch,), generator=generator)
    greedy = q_values.argmax(dim=1).cpu()
    return torch.where(explore, random_actions, greedy).to(q_values.device)


def linear_epsilon(step: int, start: float = 1.0, end: float = 0.05, decay_steps: int = 10_000) -> float:
    """Anneal epsilon linearly from ``start`` to ``end`` over ``decay_steps`` steps, then hold it."""
    if decay_steps < 1:
        raise ValueError(f"decay_steps must be positive, got {decay_steps}")
    fraction = min(max(step, 0) / decay_steps, 1.0)
    return start + fraction * (end - start)


def td_target(rewards: torch.Tensor, terminated: torch.Tensor, next_q_target: torch.Tensor, gamma: float,
              next_q_online: torch.Tensor | None = None) -> torch.Tensor:
    """The TD target y for each transition; shape (batch,).

    ``next_q_target`` holds Q(s', .) from the target network, (batch, n_actions). Vanilla DQN
    takes its max. Given ``next_q_online`` (the online network's Q(s', .)), Double DQN takes the
    target network's value of the online network's argmax. Terminal transitions get y = r.
    """
    if not 0 <= gamma <= 1:
        raise ValueError(f"gamma must lie in [0, 1], got {gamma!r}")
    if rewards.ndim != 1 or terminated.shape != rewards.shape:
        raise ValueError(f"expected rewards and terminated of the same shape (batch,), got "
                         f"{tuple(rewards.shape)} and {tuple(terminated.shape)}")
    batch = rewards.shape[0]
    if next_q_target.ndim != 2 or next_q_target.shape[0] != batch:
        raise ValueError(f"expected next_q_target of shape ({batch}, n_actions), got "
                         f"{tuple(next_q_target.shape)}")
    if next_q_online is None:
        next_value = next_q_target.max(dim=1).values
    else:
        if next_q_online.shape != next_q_target.shape:
            raise ValueError(f"expected next_q_online of shape {tuple(next_q_target.shape)} like "
                             f"next_q_target, got {tuple(next_q_online.shape)}")
        best = next_q_online.argmax(dim=1, keepdim=True)
        next_value = next_q_target.gather(1, best).squeeze(1)
    return rewards + gamma * next_value * (~terminated.bool()).to(next_value.dtype)


def dqn_loss(online: QNetwork, target: QNetwork, batch: Transitions, gamma: float,
             double: bool = False) -> torch.Tensor:
    """Huber loss between Q(s, a) from the online network and the TD target; a float32 scalar.

    The target is computed without gradient, so only Q(s, a) is trained. ``double=True`` uses
    Double DQN targets. Actions must lie in [0, n_actions).
    """
    actions = batch.actions.long()
    if actions.shape != batch.obs.shape[:1] or batch.next_obs.shape != batch.obs.shape:
        raise ValueError(f"expected actions of shape (batch,) = {tuple(batch.obs.shape[:1])} and "
                         f"next_obs shaped like obs {tuple(batch.obs.shape)}, got actions "
                         f"{tuple(actions.shape)} and next_obs {tuple(batch.next_obs.shape)} "
                         "(squeeze a trailing dimension of 1)")
    if actions.numel() and (int(actions.min()) < 0 or int(actions.max()) >= online.config.n_actions):
        raise ValueError(f"actions must lie in [0, {online.config.n_actions}) (n_actions), got values from "
                         f"{int(actions.min())} to {int(actions.max())}")
    q_sa = online(batch.obs).gather(1, actions.unsqueeze(1)).squeeze(1)
    with torch.no_grad():
        next_q_target = target(batch.next_obs)
        next_q_online = online(batch.next_obs) if double else None
        y = td_target(batch.rewards.float(), batch.terminated, next_q_target, gamma, next_q_online)
    return F.smooth_l1_loss(q_sa, y)


def _check_same_architecture(target: nn.Module, online: nn.Module) -> None:
    t, o = target.state_dict(), online.state_dict()
    if t.keys() != o.keys() or any(t[k].shape != o[k].shape for k in t):
        raise ValueError("target and online networks must have the same architecture "
                         "(identical parameter names and shapes)")


@torch.no_grad()
def hard_update(target: nn.Module, online: nn.Module) -> None:
    """Copy every parameter and buffer of ``online`` into ``target``."""
    _check_same_architecture(target, online)
    target.load_state_dict(online.state_dict())


@torch.no_grad()
def soft_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """Polyak averaging, in place: theta_target <- (1 - tau) theta_target + tau theta_online."""
    if not 0 <= tau <= 1:
        raise ValueError(f"tau must lie in [0, 1], got {tau!r}")
    _check_same_architecture(target, online)
    online_state = online.state_dict()
    for name, value in target.state_dict().items():
        if value.is_floating_point():
            value.lerp_(online_state[name], tau)
        else:
            value.copy_(online_state[name])
