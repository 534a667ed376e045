"""Returns, value iteration, Q-learning and REINFORCE of chapter 4.7."""

from __future__ import annotations

import math
import random

import pytest
import torch

from kbook.scratch import rl


def test_returns_by_definition_and_by_recursion_agree():
    rewards = [1.0, 0.0, -2.0, 3.0]
    assert rl.discounted_return(rewards, 0.5) == pytest.approx(1 - 0.5 + 0.375)
    assert rl.returns_to_go(rewards, 0.5) == pytest.approx(
        [rl.discounted_return(rewards[t:], 0.5) for t in range(4)])
    assert rl.discounted_return([1.0] * 200, 0.9) == pytest.approx(1 / (1 - 0.9), rel=1e-8)


def test_gridworld_is_a_valid_mdp():
    for slip in (0.0, 0.2, 1.0):
        world = rl.gridworld(slip=slip)
        torch.testing.assert_close(world.P.sum(-1), torch.ones(world.n_states, world.n_actions,
                                                               dtype=torch.float64))
    world = rl.gridworld(("S+",))
    assert world.P[0, 1, 1] == 1 and world.R[0, 1, 1] == 1  # moving right enters the +1 cell
    assert world.P[0, 3, 0] == 1  # moving left off the grid stays put


def test_value_iteration_fixed_point_satisfies_bellman():
    world = rl.gridworld(slip=0.2)
    V, Q, changes = rl.value_iteration(world, 0.9)
    residual = (rl.bellman_backup(world, V, 0.9).max(dim=1).values - V).abs().max()
    assert residual < 1e-9
    torch.testing.assert_close(Q.max(dim=1).values, V)
    # the backup is a gamma-contraction: each sweep shrinks the change by at least gamma
    assert all(b <= 0.9 * a + 1e-12 for a, b in zip(changes, changes[1:], strict=False))


def test_value_iteration_on_a_corridor_matches_hand_values():
    # S . . + : the values are gamma^2, gamma, 1 and 0 for the terminal cell.
    V, _, _ = rl.value_iteration(rl.gridworld(("S..+",)), 0.9)
    torch.testing.assert_close(V, torch.tensor([0.81, 0.9, 1.0, 0.0], dtype=torch.float64))


def test_q_learning_converges_to_value_iteration():
    world = rl.gridworld()
    _, Q_star, _ = rl.value_iteration(world, 0.9)
    Q = rl.q_learning(world, 0.9, episodes=2000, alpha=0.5, epsilon=0.5, rng=random.Random(0))
    assert (Q - Q_star)[~world.terminal].abs().max() < 1e-3


def test_seed_000_q_update():
    # Fact-check B6: alpha = 0.1, gamma = 0.9, r = 1, max Q(s', .) = 2.5.
    assert rl.q_update(1.0, 1.0, 2.5, alpha=0.1, gamma=0.9) == pytest.approx(1.225)
    assert rl.q_update(0.0, 1.0, 2.5, alpha=0.1, gamma=0.9) == pytest.approx(0.325)
    assert rl.q_update(1.0, 1.0, 2.5, alpha=1.0, gamma=0.9) == pytest.approx(3.25)  # alpha = 1: the target


def test_score_matches_autograd_and_exact_gradient_matches_finite_differences():
    theta = torch.tensor([0.3, -1.0, 0.5], dtype=torch.float64, requires_grad=True)
    actions = torch.tensor([0, 2, 2, 1])
    log_probs = torch.distributions.Categorical(logits=theta).log_prob(actions)
    for i, row in enumerate(rl.score(theta.detach(), actions)):
        (grad,) = torch.autograd.grad(log_probs[i], theta, retain_graph=True)
        torch.testing.assert_close(row, grad)
    means = torch.tensor([0.2, 0.5, 0.8], dtype=torch.float64)
    theta = theta.detach()
    pi = rl.softmax_policy(theta)
    exact = pi * (means - rl.expected_reward(theta, means))
    fd = rl.finite_difference_gradient(lambda t: rl.expected_reward(t, means), theta)
    torch.testing.assert_close(fd, exact, rtol=0, atol=1e-9)


def test_reinforce_is_unbiased_within_its_standard_error():
    theta = torch.tensor([0.5, 0.0, -0.5], dtype=torch.float64)
    means = torch.tensor([0.2, 0.5, 0.8], dtype=torch.float64)
    fd = rl.finite_difference_gradient(lambda t: rl.expected_reward(t, means), theta)
    gen = torch.Generator().manual_seed(0)
    for baseline in (0.0, rl.expected_reward(theta, means).item()):
        samples = rl.reinforce_samples(theta, means, 20_000, gen, baseline)
        stderr = samples.std(dim=0) / math.sqrt(len(samples))
        assert ((samples.mean(dim=0) - fd).abs() < 4 * stderr).all()
    # the estimate is not trivially close: with few samples it is visibly noisy
    assert (rl.reinforce_samples(theta, means, 10, gen).mean(0) - fd).abs().max() > 1e-3


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match=r"gamma must lie in \[0, 1\]"):
        rl.discounted_return([1.0], 1.5)
    with pytest.raises(ValueError, match=r"gamma must lie in \[0, 1\)"):
        rl.value_iteration(rl.gridworld(), 1.0)
    with pytest.raises(ValueError, match="alpha"):
        rl.q_update(0.0, 1.0, 0.0, alpha=0.0, gamma=0.9)
    with pytest.raises(ValueError, match=r"V must have shape \(11,\)"):
        rl.bellman_backup(rl.gridworld(), torch.zeros(3, dtype=torch.float64), 0.9)
    with pytest.raises(ValueError, match="exactly one start"):
        rl.gridworld(("..+",))
    with pytest.raises(ValueError, match="equal-length"):
        rl.gridworld(("S.+", ".."))
    with pytest.raises(ValueError, match=r"Q must have shape \(11, 4\)"):
        rl.q_learning(rl.gridworld(), 0.9, 1, 0.5, 0.1, random.Random(0), Q=torch.zeros(4, 4))
    with pytest.raises(ValueError, match=r"theta must have shape \(K,\)"):
        rl.softmax_policy(torch.zeros(2, 2))
    with pytest.raises(ValueError, match=r"arm indices in \[0, 3\)"):
        rl.score(torch.zeros(3), torch.tensor([0, 3]))


def test_reinforce_samples_reject_means_of_the_wrong_length():
    with pytest.raises(ValueError, match=r"means must have shape \(2,\) like theta, got \(3,\)"):
        rl.reinforce_samples(torch.zeros(2), torch.tensor([0.1, 0.5, 0.9]), 4,
                             torch.Generator().manual_seed(0))


def test_gridworld_slips_sideways_and_charges_the_step_reward():
    world = rl.gridworld(("S.+",), slip=0.2, step_reward=-0.1)
    up, right, down = 0, 1, 2
    # right: the intended move with 0.8; the sideways moves (up, down) leave the one-row grid: stay
    torch.testing.assert_close(world.P[0, right], torch.tensor([0.2, 0.8, 0.0], dtype=torch.float64))
    # down: blocked (stay, 0.8); sideways are left (blocked, stay) and right (0.1 each)
    torch.testing.assert_close(world.P[0, down], torch.tensor([0.9, 0.1, 0.0], dtype=torch.float64))
    torch.testing.assert_close(world.P[0, up], world.P[0, down])
    assert world.R[0, right, 1] == -0.1 and world.R[0, down, 0] == -0.1  # every non-terminal move costs
    assert world.R[1, right, 2] == 1.0  # entering '+' pays +1 instead


def test_q_learning_acts_greedily_on_the_table_it_is_given():
    world = rl.gridworld(("S..+",))
    Q0 = torch.zeros(world.n_states, world.n_actions, dtype=torch.float64)
    Q0[:, 1] = 0.5  # "right" looks best everywhere
    Q = rl.q_learning(world, 0.9, episodes=1, alpha=0.5, epsilon=0.0, rng=random.Random(0), Q=Q0)
    others = [0, 2, 3]
    assert (Q[:, others] == 0).all(), "with epsilon 0 only the greedy action may be tried"
    assert Q[2, 1] == 0.5 + 0.5 * (1.0 - 0.5)  # reward 1 on entering '+', terminal: no bootstrap
    assert Q[0, 1] == 0.5 + 0.5 * (0.9 * 0.5 - 0.5)
    assert torch.equal(rl.q_learning(world, 0.9, 0, 0.5, 0.0, random.Random(0), Q=Q0), Q0)


def test_q_learning_breaks_ties_at_random():
    world = rl.gridworld(("S..+",), step_reward=-0.1)  # the tried action is the one whose Q moves
    first = set()
    for seed in range(20):
        Q = rl.q_learning(world, 0.9, episodes=1, alpha=0.5, epsilon=0.0, rng=random.Random(seed),
                          max_steps=1)
        first.add(int(Q[world.start].argmin()))
    assert len(first) > 1, "an all-zero table must not always pick the same action"


def test_softmax_policy_takes_large_preferences():
    torch.testing.assert_close(rl.softmax_policy(torch.tensor([1000.0, 0.0])), torch.tensor([1.0, 0.0]))


def test_reinforce_samples_are_bernoulli_rewards_times_the_score():
    theta = torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64)
    means = torch.tensor([0.5, 0.5, 0.5], dtype=torch.float64)
    pi = rl.softmax_policy(theta)
    plain = rl.reinforce_samples(theta, means, 200, torch.Generator().manual_seed(3))
    shifted = rl.reinforce_samples(theta, means, 200, torch.Generator().manual_seed(3), baseline=0.25)
    # a reward of 0 gives a zero row, a reward of 1 the score onehot(a) - pi
    rewarded = plain.abs().sum(dim=1) > 0
    assert 0 < rewarded.sum() < 200
    top = (plain[rewarded] + pi).max(dim=1).values
    torch.testing.assert_close(top, torch.ones_like(top))
    # the same draws with a baseline b give (r - b) score: the difference is b * score, and
    # every row of score + pi is one-hot
    onehot = (plain - shifted) / 0.25 + pi
    torch.testing.assert_close(onehot.sum(dim=1), torch.ones(200, dtype=torch.float64))
    torch.testing.assert_close(onehot.max(dim=1).values, torch.ones(200, dtype=torch.float64))
