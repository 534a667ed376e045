"""Reinforcement-learning math from scratch (chapter 4.7).

Returns and discounting; a small gridworld as a tabular Markov decision process (MDP); the
Bellman optimality backup and value iteration; tabular Q-learning and its one-line update;
and, on a multi-armed bandit with a softmax policy, the REINFORCE (score-function) gradient
estimate next to a finite-difference gradient of the exact expected reward.

An MDP here holds three tensors: ``P[s, a, s']`` (transition probabilities), ``R[s, a, s']``
(reward for that transition) and ``terminal[s]``. Terminal states absorb with reward 0, so
their value is 0 and value iteration needs no special case for them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

# Moves in (row, column) steps, in the order the actions are numbered.
ACTIONS = {"up": (-1, 0), "right": (0, 1), "down": (1, 0), "left": (0, -1)}


def _check_gamma(gamma: float, allow_one: bool = True) -> None:
    upper_ok = gamma <= 1 if allow_one else gamma < 1
    if not (0 <= gamma and upper_ok):
        interval = "[0, 1]" if allow_one else "[0, 1) (with gamma = 1 the backup is not a contraction)"
        raise ValueError(f"gamma must lie in {interval}, got {gamma!r}")


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha <= 1:
        raise ValueError(f"the learning rate alpha must lie in (0, 1], got {alpha!r}")


def discounted_return(rewards: Sequence[float], gamma: float) -> float:
    """``G_0 = r_0 + gamma r_1 + gamma^2 r_2 + ...``, straight from the definition."""
    _check_gamma(gamma)
    return sum(gamma**k * r for k, r in enumerate(rewards))


def returns_to_go(rewards: Sequence[float], gamma: float) -> list[float]:
    """Every ``G_t``, by the backward recursion ``G_t = r_t + gamma G_{t+1}`` with ``G_T = 0``."""
    _check_gamma(gamma)
    out, g = [], 0.0
    for r in reversed(rewards):
        g = r + gamma * g
        out.append(g)
    return out[::-1]


@dataclass
class GridWorld:
    """A tabular MDP on a grid; states are the free cells, numbered row by row."""

    P: torch.Tensor  # (S, A, S) transition probabilities
    R: torch.Tensor  # (S, A, S) reward of each transition
    terminal: torch.Tensor  # (S,) bool
    start: int
    cells: list[tuple[int, int]]  # (row, column) of each state
    layout: tuple[str, ...]

    @property
    def n_states(self) -> int:
        return self.P.shape[0]

    @property
    def n_actions(self) -> int:
        return self.P.shape[1]


def gridworld(layout: Sequence[str] = ("...+", ".#.-", "S..."), slip: float = 0.0,
              step_reward: float = 0.0) -> GridWorld:
    """Build a gridworld from a list of equal-length strings.

    ``.`` free cell, ``#`` wall, ``S`` start, ``+`` terminal cell worth +1, ``-`` terminal cell
    worth -1 (the reward is paid on entering it). Each action moves one cell; with probability
    ``slip`` the agent instead moves to one of the two perpendicular directions (half each).
    Moving into a wall or off the grid leaves the agent where it is. Every move into a
    non-terminal cell pays ``step_reward``.
    """
    rows = len(layout)
    if rows == 0 or any(len(line) != len(layout[0]) for line in layout):
        raise ValueError(f"layout must be a non-empty list of equal-length strings, got {list(layout)}")
    bad = {ch for line in layout for ch in line} - set(".#S+-")
    if bad:
        raise ValueError(f"layout may only contain '.', '#', 'S', '+', '-'; found {sorted(bad)}")
    if sum(line.count("S") for line in layout) != 1:
        raise ValueError("layout must contain exactly one start cell 'S'")
    if not 0 <= slip <= 1:
        raise ValueError(f"slip is a probability and must lie in [0, 1], got {slip!r}")

    cells = [(r, c) for r in range(rows) for c in range(len(layout[0])) if layout[r][c] != "#"]
    index = {cell: s for s, cell in enumerate(cells)}
    n, moves = len(cells), list(ACTIONS.values())
    P = torch.zeros(n, len(moves), n, dtype=torch.float64)
    R = torch.zeros(n, len(moves), n, dtype=torch.float64)
    terminal = torch.tensor([layout[r][c] in "+-" for r, c in cells])
    reward_of = {"+": 1.0, "-": -1.0}
    for s, (r, c) in enumerate(cells):
        for a, (dr, dc) in enumerate(moves):
            if terminal[s]:
                P[s, a, s] = 1.0  # absorbing, reward 0
                continue
            perpendicular = [m for m in moves if m[0] * dr + m[1] * dc == 0]
            for (mr, mc), p in [((dr, dc), 1 - slip)] + [(m, slip / 2) for m in perpendicular]:
                s_next = index.get((r + mr, c + mc), s)
                P[s, a, s_next] += p
                R[s, a, s_next] = reward_of.get(layout[cells[s_next][0]][cells[s_next][1]], step_reward)
    start = next(index[(r, c)] for (r, c) in cells if layout[r][c] == "S")
    return GridWorld(P, R, terminal, start, cells, tuple(layout))


def bellman_backup(world: GridWorld, V: torch.Tensor, gamma: float) -> torch.Tensor:
    """``Q(s, a) = sum_s' P(s'|s, a) [R(s, a, s') + gamma V(s')]`` for every (s, a)."""
    _check_gamma(gamma)
    if tuple(V.shape) != (world.n_states,):
        raise ValueError(f"V must have shape ({world.n_states},), got shape {tuple(V.shape)}")
    return (world.P * (world.R + gamma * V)).sum(dim=-1)


def value_iteration(world: GridWorld, gamma: float, tol: float = 1e-10,
                    max_iters: int = 10_000) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """Iterate ``V <- max_a Q(s, a)`` until the largest change is below ``tol``.

    Returns ``(V, Q, changes)``: the optimal values, the optimal action values and the
    sup-norm change of ``V`` at every sweep.
    """
    _check_gamma(gamma, allow_one=False)
    V = torch.zeros(world.n_states, dtype=torch.float64)
    changes = []
    for _ in range(max_iters):
        V_new = bellman_backup(world, V, gamma).max(dim=1).values
        changes.append((V_new - V).abs().max().item())
        V = V_new
        if changes[-1] < tol:
            return V, bellman_backup(world, V, gamma), changes
    raise RuntimeError(f"value iteration did not converge to {tol} in {max_iters} sweeps")


def q_update(q_sa: float, reward: float, max_q_next: float, alpha: float, gamma: float) -> float:
    """``Q(s,a) + alpha [r + gamma max_a' Q(s',a') - Q(s,a)]``; pass ``max_q_next = 0`` at a terminal s'."""
    _check_alpha(alpha)
    _check_gamma(gamma)
    return q_sa + alpha * (reward + gamma * max_q_next - q_sa)


def q_learning(world: GridWorld, gamma: float, episodes: int, alpha: float, epsilon: float,
               rng: random.Random, Q: torch.Tensor | None = None, max_steps: int = 200) -> torch.Tensor:
    """Tabular Q-learning with an epsilon-greedy behaviour policy, episodes from ``world.start``.

    Continues from ``Q`` when given (so a caller can measure progress between calls) and
    returns the updated table as a new ``(S, A)`` float64 tensor.
    """
    _check_alpha(alpha)
    _check_gamma(gamma)
    if not 0 <= epsilon <= 1:
        raise ValueError(f"epsilon is a probability and must lie in [0, 1], got {epsilon!r}")
    shape = (world.n_states, world.n_actions)
    if Q is not None and tuple(Q.shape) != shape:
        raise ValueError(f"Q must have shape {shape}, got shape {tuple(Q.shape)}")
    q = Q.tolist() if Q is not None else [[0.0] * shape[1] for _ in range(shape[0])]
    P, R, terminal = world.P.tolist(), world.R.tolist(), world.terminal.tolist()
    states, actions = range(shape[0]), range(shape[1])
    for _ in range(episodes):
        s = world.start
        for _ in range(max_steps):
            if rng.random() < epsilon:
                a = rng.randrange(shape[1])
            else:
                best = max(q[s])
                a = rng.choice([b for b in actions if q[s][b] == best])  # break ties at random
            s_next = rng.choices(states, weights=P[s][a])[0]
            max_next = 0.0 if terminal[s_next] else max(q[s_next])
            q[s][a] = q_update(q[s][a], R[s][a][s_next], max_next, alpha, gamma)
            s = s_next
            if terminal[s]:
                break
    return torch.tensor(q, dtype=torch.float64)


def softmax_policy(theta: torch.Tensor) -> torch.Tensor:
    """``pi(a) = exp(theta_a) / sum_b exp(theta_b)`` for a vector of preferences ``theta``."""
    if theta.dim() != 1:
        raise ValueError(f"theta must have shape (K,), got shape {tuple(theta.shape)}")
    z = theta - theta.max()
    return z.exp() / z.exp().sum()


def expected_reward(theta: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
    """``J(theta) = sum_a pi(a) mu_a``: the exact objective of a bandit with arm means ``means``."""
    if means.shape != theta.shape:
        raise ValueError(f"means must have shape {tuple(theta.shape)} like theta, got {tuple(means.shape)}")
    return (softmax_policy(theta) * means).sum()


def score(theta: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """``grad_theta log pi(a) = onehot(a) - pi`` for each action in ``actions``; shape ``(N, K)``."""
    pi = softmax_policy(theta)
    in_range = actions.numel() == 0 or (0 <= int(actions.min()) and int(actions.max()) < len(pi))
    if actions.dim() != 1 or not in_range:
        raise ValueError(f"actions must be a 1-D tensor of arm indices in [0, {len(pi)}), got {actions}")
    return torch.nn.functional.one_hot(actions, len(pi)).to(pi.dtype) - pi


def reinforce_samples(theta: torch.Tensor, means: torch.Tensor, n: int, generator: torch.Generator,
                      baseline: float = 0.0) -> torch.Tensor:
    """``n`` single-sample REINFORCE estimates ``(r - b) grad log pi(a)``; shape ``(n, K)``.

    Each row samples an arm ``a ~ pi``, pays a Bernoulli reward with probability
    ``means[a]``, and is an unbiased estimate of ``grad J``; their mean is the estimator.
    """
    if means.shape != theta.shape:
        raise ValueError(f"means must have shape {tuple(theta.shape)} like theta, got {tuple(means.shape)}")
    if not ((means >= 0) & (means <= 1)).all():
        raise ValueError(f"Bernoulli arm means must lie in [0, 1], got {means.tolist()}")
    pi = softmax_policy(theta)
    actions = torch.multinomial(pi, n, replacement=True, generator=generator)
    rewards = torch.bernoulli(means[actions], generator=generator)
    return (rewards - baseline).unsqueeze(1) * score(theta, actions)


def finite_difference_gradient(f: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor,
                               h: float = 1e-5) -> torch.Tensor:
    """Central differences ``(f(theta + h e_k) - f(theta - h e_k)) / 2h`` for every coordinate k."""
    if h <= 0:
        raise ValueError(f"step h must be positive, got {h!r}")
    grad = torch.zeros_like(theta)
    for k in range(len(theta)):
        step = torch.zeros_like(theta)
        step[k] = h
        grad[k] = (f(theta + step) - f(theta - step)) / (2 * h)
    return grad
