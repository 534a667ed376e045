"""The DQN, REINFORCE policy and neural-style-transfer models of Part 3 (kbook.models)."""

from __future__ import annotations

import sys
import types
import urllib.error
import warnings

import pytest
import torch

from kbook.models import dqn, policy
from kbook.models import style_transfer as st
from kbook.scratch import rl
from kbook.scratch import style as sc

BF16 = dict(device_type="cpu", dtype=torch.bfloat16)


# ---------------------------------------------------------------------------------------------- DQN


def test_q_network_shapes_and_wrong_shape_errors():
    torch.manual_seed(0)
    net = dqn.QNetwork(dqn.DQNConfig(obs_size=4, n_actions=3, hidden_sizes=(8, 8)))
    assert net(torch.randn(5, 4)).shape == (5, 3)
    with pytest.raises(ValueError, match=r"shape \(batch, 4\).*\(5, 3\)"):
        net(torch.randn(5, 3))
    with pytest.raises(ValueError, match=r"shape \(batch, 4\)"):
        net(torch.randn(4))
    with pytest.raises(ValueError, match="float"):
        net(torch.ones(5, 4, dtype=torch.long))


def fill(buffer: dqn.ReplayBuffer, values: range) -> None:
    """Transition i: obs [i, i, ...], action i % 2, reward i, next_obs obs + 0.5, terminated if i % 3 == 0."""
    for i in values:
        obs = [float(i)] * buffer.obs_size
        buffer.add(obs, i % 2, float(i), [x + 0.5 for x in obs], i % 3 == 0)


def test_replay_buffer_overwrites_the_oldest_transitions():
    buffer = dqn.ReplayBuffer(capacity=3, obs_size=2)
    fill(buffer, range(2))
    assert len(buffer) == 2
    fill(buffer, range(2, 5))
    assert len(buffer) == 3
    assert sorted(buffer.rewards.tolist()) == [2.0, 3.0, 4.0]  # 0 and 1 were overwritten
    assert buffer.rewards[0] == 3.0 and buffer.rewards[1] == 4.0 and buffer.position == 2
    with pytest.raises(ValueError, match=r"obs of shape \(2,\), got \(3,\)"):
        buffer.add([0.0, 0.0, 0.0], 0, 0.0, [0.0, 0.0], False)


def test_replay_buffer_samples_only_stored_transitions_reproducibly():
    buffer = dqn.ReplayBuffer(capacity=10, obs_size=4)
    fill(buffer, range(1, 7))  # slots 6 to 9 stay empty (all zeros, reward 0)
    batch = buffer.sample(6, generator=torch.Generator().manual_seed(0))
    expected = {"obs": ((6, 4), torch.float32), "actions": ((6,), torch.int64),
                "rewards": ((6,), torch.float32), "next_obs": ((6, 4), torch.float32),
                "terminated": ((6,), torch.bool)}
    for name, (shape, dtype) in expected.items():
        assert getattr(batch, name).shape == shape and getattr(batch, name).dtype == dtype, name
    generator = torch.Generator().manual_seed(1)
    many = [buffer.sample(6, generator=generator) for _ in range(50)]
    seen = {r for b in many for r in b.rewards.tolist()}
    assert seen == {1.0, 2.0, 3.0, 4.0, 5.0, 6.0}  # stored ones only, and each of them
    for b in many:  # each row is one whole transition, never a mix of slots
        assert torch.equal(b.obs, b.rewards[:, None].expand(6, 4))
        assert torch.equal(b.next_obs, b.obs + 0.5)
        assert torch.equal(b.actions, b.rewards.long() % 2)
        assert torch.equal(b.terminated, b.rewards.long() % 3 == 0)
    again = buffer.sample(6, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(batch, again, strict=True))
    assert not torch.equal(batch.rewards, many[0].rewards)  # another seed, another draw
    with pytest.raises(ValueError, match=r"batch_size must lie in \[1, 6\]"):
        buffer.sample(7)
    with pytest.raises(ValueError, match="empty: add transitions before sampling"):
        dqn.ReplayBuffer(4, 2).sample(1)


def test_epsilon_greedy_and_its_schedule():
    q = torch.tensor([[0.0, 1.0, 0.5]]).repeat(4000, 1)
    assert (dqn.epsilon_greedy(q, 0.0) == 1).all()
    actions = dqn.epsilon_greedy(q, 1.0, generator=torch.Generator().manual_seed(0))
    frequencies = torch.bincount(actions, minlength=3) / 4000
    assert ((frequencies - 1 / 3).abs() < 0.03).all(), frequencies
    half = dqn.epsilon_greedy(q, 0.5, generator=torch.Generator().manual_seed(0))
    assert abs((half == 1).float().mean().item() - (0.5 + 0.5 / 3)) < 0.03  # greedy, or random and lucky
    assert torch.equal(half, dqn.epsilon_greedy(q, 0.5, generator=torch.Generator().manual_seed(0)))
    schedule = [dqn.linear_epsilon(s, 1.0, 0.1, 100) for s in (-5, 0, 50, 100, 1000)]
    assert schedule == pytest.approx([1, 1, 0.55, 0.1, 0.1])  # before step 0 it stays at the start
    with pytest.raises(ValueError, match="epsilon"):
        dqn.epsilon_greedy(q, 1.5)


def test_double_dqn_target_differs_from_vanilla_and_matches_hand_computation():
    rewards, terminated = torch.tensor([1.0, 0.5]), torch.tensor([False, False])
    next_q_target = torch.tensor([[5.0, 2.0], [0.0, 4.0]])
    next_q_online = torch.tensor([[1.0, 3.0], [2.0, 1.0]])  # the online net prefers actions 1 and 0
    vanilla = dqn.td_target(rewards, terminated, next_q_target, 0.9)
    double = dqn.td_target(rewards, terminated, next_q_target, 0.9, next_q_online)
    torch.testing.assert_close(vanilla, torch.tensor([1 + 0.9 * 5, 0.5 + 0.9 * 4]))
    torch.testing.assert_close(double, torch.tensor([1 + 0.9 * 2, 0.5 + 0.9 * 0]))
    with pytest.raises(ValueError, match=r"next_q_online of shape \(2, 2\)"):
        dqn.td_target(rewards, terminated, next_q_target, 0.9, next_q_online[:, :1])


def test_terminal_transitions_do_not_bootstrap():
    rewards, terminated = torch.tensor([1.0, 1.0]), torch.tensor([True, False])
    next_q = torch.tensor([[7.0, 9.0], [7.0, 9.0]])
    for online in (None, next_q):
        y = dqn.td_target(rewards, terminated, next_q, 0.99, online)
        assert y[0] == 1.0 and y[1] == pytest.approx(1 + 0.99 * 9)


def small_batch(generator: torch.Generator, n: int = 16) -> dqn.Transitions:
    g = generator
    return dqn.Transitions(torch.randn(n, 4, generator=g), torch.randint(2, (n,), generator=g),
                           torch.randn(n, generator=g), torch.randn(n, 4, generator=g),
                           torch.rand(n, generator=g) < 0.25)


def test_dqn_loss_is_huber_on_q_sa_and_never_trains_through_the_target():
    torch.manual_seed(0)
    config = dqn.DQNConfig(hidden_sizes=(16,))
    online, target = dqn.QNetwork(config), dqn.QNetwork(config)
    batch = small_batch(torch.Generator().manual_seed(1))
    for double in (False, True):
        online.zero_grad()
        loss = dqn.dqn_loss(online, target, batch, 0.9, double=double)
        loss.backward()
        grads = [p.grad.clone() for p in online.parameters()]
        assert all(p.grad is None for p in target.parameters())
        # by hand: targets are constants, the loss is the mean Huber loss of q(s, a) - y
        online.zero_grad()
        q_sa = online(batch.obs)[torch.arange(16), batch.actions]
        with torch.no_grad():
            nq = target(batch.next_obs)
            best = online(batch.next_obs).argmax(1) if double else nq.argmax(1)
            y = batch.rewards + 0.9 * nq[torch.arange(16), best] * (~batch.terminated)
        err = (q_sa - y).abs()
        manual = torch.where(err < 1, 0.5 * err**2, err - 0.5).mean()
        manual.backward()
        torch.testing.assert_close(loss, manual)
        for g, p in zip(grads, online.parameters(), strict=True):
            torch.testing.assert_close(g, p.grad)
    assert not torch.allclose(dqn.dqn_loss(online, target, batch, 0.9, double=True),
                              dqn.dqn_loss(online, target, batch, 0.9, double=False))


def test_soft_update_interpolates_and_hard_update_copies():
    torch.manual_seed(0)
    config = dqn.DQNConfig(hidden_sizes=(8,))
    online, target = dqn.QNetwork(config), dqn.QNetwork(config)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    online_state = {k: v.clone() for k, v in online.state_dict().items()}
    dqn.soft_update(target, online, tau=0.25)
    for k, v in target.state_dict().items():
        torch.testing.assert_close(v, 0.75 * before[k] + 0.25 * online_state[k], rtol=0, atol=1e-6)
        assert not torch.equal(v, before[k])
        assert torch.equal(online.state_dict()[k], online_state[k])  # the online net is untouched
    dqn.hard_update(target, online)
    assert all(torch.equal(v, online_state[k]) for k, v in target.state_dict().items())
    with pytest.raises(ValueError, match="same architecture"):
        dqn.soft_update(dqn.QNetwork(dqn.DQNConfig(hidden_sizes=(9,))), online, 0.5)


def test_soft_update_copies_the_buffers_it_cannot_interpolate():
    def net() -> torch.nn.Sequential:
        return torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    torch.manual_seed(0)
    online, target = net().train(), net()
    for _ in range(2):
        online(torch.randn(4, 2))
    dqn.soft_update(target, online, tau=0.5)
    assert target[1].num_batches_tracked.item() == 2  # an integer count: copied, not averaged


def test_q_network_overfits_one_batch():
    torch.manual_seed(0)
    config = dqn.DQNConfig(hidden_sizes=(64, 64))
    online, target = dqn.QNetwork(config), dqn.QNetwork(config)
    batch = small_batch(torch.Generator().manual_seed(2))
    optimizer = torch.optim.Adam(online.parameters(), lr=3e-3)
    for _ in range(300):  # gamma = 0: the targets are the fixed rewards, a plain regression
        loss = dqn.dqn_loss(online, target, batch, gamma=0.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 1e-6


def test_dqn_under_bf16_autocast():
    torch.manual_seed(0)
    config = dqn.DQNConfig(hidden_sizes=(16,))
    online, target = dqn.QNetwork(config), dqn.QNetwork(config)
    batch = small_batch(torch.Generator().manual_seed(3))
    with torch.autocast(**BF16):
        q = online(batch.obs)
        loss = dqn.dqn_loss(online, target, batch, 0.99, double=True)
    assert q.shape == (16, 2) and q.dtype == torch.float32  # Q-values are never rounded to bfloat16
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    with torch.no_grad():
        output_layer = [m for m in online.modules() if isinstance(m, torch.nn.Linear)][-1]
        output_layer.bias.fill_(90.0)  # Q near 100, where bfloat16's steps are 0.5
        exact = online(batch.obs)
        with torch.autocast(**BF16):
            assert (online(batch.obs) - exact).abs().max() < 1e-4
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in online.parameters())


# ------------------------------------------------------------------------------------------ policy


def test_policy_shapes_and_wrong_shape_error():
    torch.manual_seed(0)
    net = policy.PolicyNetwork(policy.PolicyConfig(obs_size=4, n_actions=3, hidden_sizes=(8,)))
    dist = net(torch.randn(5, 4))
    assert isinstance(dist, torch.distributions.Categorical)
    assert dist.probs.shape == (5, 3) and dist.sample().shape == (5,)
    torch.testing.assert_close(dist.probs.sum(1), torch.ones(5))
    with pytest.raises(ValueError, match=r"shape \(batch, 4\).*\(2, 5\)"):
        net(torch.randn(2, 5))


def test_discounted_returns_reuse_the_scratch_recursion():
    by_hand = torch.tensor([1 + 0.9 + 0.81, 1 + 0.9, 1.0])
    torch.testing.assert_close(policy.discounted_returns([1.0, 1.0, 1.0], 0.9), by_hand)
    rewards = torch.tensor([0.0, -1.0, 2.0, 0.5])
    expected = torch.tensor(rl.returns_to_go(rewards.tolist(), 0.5), dtype=torch.float32)
    torch.testing.assert_close(policy.discounted_returns(rewards, 0.5), expected)
    with pytest.raises(ValueError, match=r"shape \(T,\)"):
        policy.discounted_returns(torch.zeros(2, 3), 0.9)


def test_normalize_returns():
    g = policy.normalize_returns(torch.tensor([1.0, 2.0, 3.0, 10.0]))
    assert g.mean().abs() < 1e-6 and (g.std(correction=0) - 1).abs() < 1e-6
    assert torch.equal(policy.normalize_returns(torch.full((3,), 5.0)), torch.zeros(3))  # no NaN


def test_reinforce_gradient_is_the_score_function_estimate():
    theta = torch.tensor([0.3, -1.0, 0.5], requires_grad=True)
    actions, returns = torch.tensor([0, 2, 2, 1]), torch.tensor([1.0, -2.0, 0.5, 3.0], requires_grad=True)
    log_probs = torch.distributions.Categorical(logits=theta.expand(4, 3)).log_prob(actions)
    loss = policy.reinforce_loss(log_probs, returns, baseline=0.5)
    loss.backward()
    estimate = ((returns.detach() - 0.5)[:, None] * rl.score(theta.detach(), actions)).sum(0)
    torch.testing.assert_close(theta.grad, -estimate)
    assert returns.grad is None  # returns are constants
    with pytest.raises(ValueError, match=r"scalar baseline or one of shape \(4,\)"):
        policy.reinforce_loss(log_probs, returns, baseline=torch.zeros(3))
    with pytest.raises(ValueError, match=r"same shape \(T,\)"):
        policy.reinforce_loss(log_probs, returns[:3])


def test_reinforce_on_a_fixed_batch_learns_the_rewarded_action():
    torch.manual_seed(0)
    net = policy.PolicyNetwork(policy.PolicyConfig(obs_size=4, n_actions=3, hidden_sizes=(16,)))
    states = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    rewarded = torch.tensor([0, 1, 2, 0, 1, 2])  # each state has its own rewarded action
    obs, wanted = states.repeat(16, 1), rewarded.repeat(16)  # the fixed batch: 16 copies of each state
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(200):  # one-step episodes: act, get reward 1 for the rewarded action, else 0
        dist = net(obs)
        actions = dist.sample()
        returns = policy.normalize_returns((actions == wanted).float())
        loss = policy.reinforce_loss(dist.log_prob(actions), returns)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    p = net(states).probs[torch.arange(6), rewarded]
    assert p.min() > 0.98, p


def test_policy_under_bf16_autocast():
    torch.manual_seed(0)
    net = policy.PolicyNetwork(policy.PolicyConfig(hidden_sizes=(16,)))
    with torch.autocast(**BF16):
        dist = net(torch.randn(8, 4))
        actions = dist.sample()
        loss = policy.reinforce_loss(dist.log_prob(actions), torch.randn(8))
    assert dist.probs.dtype == torch.float32 and actions.shape == (8,)
    assert torch.isfinite(loss)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())


# ---------------------------------------------------------------------------------- style transfer


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    """An empty torch hub cache, and a download function that records calls and fails like no network."""
    calls = []

    def no_network(*args, **kwargs):
        calls.append(args)
        raise urllib.error.URLError("simulated: no network")

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    return tmp_path / "hub", calls


FALLBACK_SHAPES = {"relu1_1": (1, 16, 32, 32), "relu2_1": (1, 32, 16, 16), "relu3_1": (1, 64, 8, 8),
                   "relu4_1": (1, 128, 4, 4), "relu4_2": (1, 128, 4, 4), "relu5_1": (1, 128, 2, 2)}


def test_extractor_falls_back_offline_when_weights_are_not_cached(empty_hub):
    _, calls = empty_hub
    rng_state = torch.random.get_rng_state()
    with pytest.warns(UserWarning, match="randomly initialised"):
        extractor = st.FeatureExtractor(download=False)
    assert calls == []  # download=False never tries the network
    assert extractor.source == st.FALLBACK and "random-vgg-fallback" in str(extractor)
    assert "not in the torch hub cache" in extractor.fallback_reason
    assert torch.equal(torch.random.get_rng_state(), rng_state)  # its own seeded generator
    again = st.FeatureExtractor(pretrained=False)
    assert again.fallback_reason == "pretrained=False"
    assert all(torch.equal(a, b) for a, b in zip(extractor.parameters(), again.parameters(), strict=True))
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    features = extractor(image)
    assert {name: tuple(f.shape) for name, f in features.items()} == FALLBACK_SHAPES
    assert all(not p.requires_grad for p in extractor.parameters())


def test_extractor_falls_back_when_the_download_fails(empty_hub):
    _, calls = empty_hub
    with pytest.warns(UserWarning, match="simulated: no network"):
        extractor = st.FeatureExtractor(download=True)
    assert len(calls) == 1 and extractor.source == st.FALLBACK
    assert "simulated: no network" in extractor.fallback_reason


def test_extractor_falls_back_without_torchvision(empty_hub, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision.models", None)  # makes the import fail
    with pytest.warns(UserWarning, match="torchvision could not be imported"):
        extractor = st.FeatureExtractor(download=True)
    assert extractor.source == st.FALLBACK


def test_extractor_falls_back_when_torchvision_is_built_for_another_torch(empty_hub, monkeypatch):
    class Broken(types.ModuleType):  # what a torch/torchvision version mismatch raises on import
        def __getattr__(self, name):
            raise RuntimeError("operator torchvision::nms does not exist")

    monkeypatch.setitem(sys.modules, "torchvision.models", Broken("torchvision.models"))
    with pytest.warns(UserWarning, match="RuntimeError: operator torchvision::nms does not exist"):
        extractor = st.FeatureExtractor(download=True)
    assert extractor.source == st.FALLBACK


def test_extractor_loads_cached_weights_into_the_named_layers(empty_hub):
    hub, calls = empty_hub
    # A stand-in for torchvision's file: its keys ("features.<index>.weight") and shapes, random values.
    torch.manual_seed(0)
    state = {f"features.{i}.{p}": torch.randn(getattr(layer, p).shape)
             for i, layer in enumerate(st.vgg_layers()) if isinstance(layer, torch.nn.Conv2d)
             for p in ("weight", "bias")}
    (hub / "checkpoints").mkdir(parents=True)
    _, path = st.vgg19_weights_path()
    assert path.parent == hub / "checkpoints" and path.name == "vgg19-dcbb9e9d.pth"
    torch.save(state, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        extractor = st.FeatureExtractor(download=False)
    assert calls == [] and extractor.source == st.PRETRAINED and extractor.fallback_reason is None
    # torchvision's indices: conv1_1 is features.0, conv4_2 features.21, conv5_1 features.28
    for name, index in (("conv1_1", 0), ("conv4_2", 21), ("conv5_1", 28)):
        layer = getattr(extractor.layers, name)
        assert torch.equal(layer.weight, state[f"features.{index}.weight"])
        assert torch.equal(layer.bias, state[f"features.{index}.bias"])
    assert len(extractor.layers) == st.VGG19_LAYERS.index("relu5_1") + 1  # nothing after the deepest layer
    path.unlink()  # 80 MB: do not leave it in pytest's kept temporary folders


def test_extractor_keeps_pre_relu_features_and_normalises_with_imagenet_statistics():
    config = st.StyleTransferConfig(content_layers=("conv1_1",), style_layers=("relu1_1",))
    extractor = st.FeatureExtractor(config, pretrained=False)
    assert len(extractor.layers) == 2
    image = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    features = extractor(image)
    assert (features["conv1_1"] < 0).any()  # the ReLU did not overwrite it in place
    torch.testing.assert_close(features["relu1_1"], features["conv1_1"].clamp(min=0))
    mean, std = (torch.tensor(stat).view(1, 3, 1, 1) for stat in (st.IMAGENET_MEAN, st.IMAGENET_STD))
    torch.testing.assert_close(features["conv1_1"], extractor.layers.conv1_1((image - mean) / std))


def test_extractor_rejects_bad_layers_and_shapes():
    with pytest.raises(ValueError, match="relu9_9"):
        st.FeatureExtractor(st.StyleTransferConfig(style_layers=("relu9_9",)), pretrained=False)
    extractor = st.FeatureExtractor(pretrained=False)
    with pytest.raises(ValueError, match=r"shape \(batch, 3, H, W\) with H, W >= 16, got .*\(3, 32, 32\)"):
        extractor(torch.rand(3, 32, 32))
    with pytest.raises(ValueError, match=r"H, W >= 16, got .*\(1, 3, 8, 8\)"):
        extractor(torch.rand(1, 3, 8, 8))
    assert extractor(torch.rand(1, 3, 16, 16))["relu5_1"].shape[-2:] == (1, 1)  # the smallest allowed


def test_random_fallback_features_are_he_scaled():
    """He-normal weights keep the features' scale from layer to layer; smaller ones would shrink
    relu5_1 about a hundredfold, and the style loss with it."""
    for module in st.FeatureExtractor(pretrained=False).layers:
        if isinstance(module, torch.nn.Conv2d):
            fan_in = module.in_channels * 3 * 3
            assert module.weight.std().item() == pytest.approx((2 / fan_in) ** 0.5, rel=0.1)
            assert not module.bias.any()


def images() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    content = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 36, 36, generator=g), 5, stride=1)[0]  # smooth
    content[:, :4], content[:, -4:] = 0.0, 1.0  # black and white bands, at the edges of the valid range
    stripes = (torch.arange(40) // 4 % 2).float()
    colour = torch.tensor([1.0, 0.3, 0.1])[:, None, None]
    style = (0.2 + 0.6 * stripes[None, :, None] * colour).expand(3, 40, 40)
    return content, style.contiguous()


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_stylize_lowers_the_total_loss(optimizer):
    torch.manual_seed(0)
    content, style = images()
    extractor = st.FeatureExtractor(pretrained=False)
    image, history = st.stylize(content, style, steps=10, progress=False, extractor=extractor,
                                optimizer=optimizer)
    assert image.shape == content.shape == (3, 32, 32)
    assert image.min() >= 0 and image.max() <= 1 and not image.requires_grad
    assert all(len(v) == 11 for v in history.values())
    assert history["content"][0] == 0.0  # it starts from the content image
    total = torch.tensor(history["total"])
    torch.testing.assert_close(total, torch.tensor(history["content"]) + 1e3 * torch.tensor(history["style"]))
    assert total[-1] < 0.9 * total[0], history["total"]
    assert history["style"][-1] < 0.75 * history["style"][0], history["style"]


def test_stylize_lbfgs_takes_one_iteration_per_step():
    content, style = images()
    extractor = st.FeatureExtractor(pretrained=False)
    calls = []
    extractor.register_forward_hook(lambda *args: calls.append(1))
    counts = []
    for steps in (2, 6):
        calls.clear()
        st.stylize(content, style, steps=steps, progress=False, extractor=extractor, optimizer="lbfgs")
        counts.append(len(calls))
    assert counts[1] - counts[0] <= 2 * 4, f"{counts}: more than two loss evaluations per L-BFGS step"


def test_stylize_weighs_the_losses_as_documented():
    content, style = images()
    torch.manual_seed(0)
    extractor = st.FeatureExtractor(pretrained=False)
    start, history = st.stylize(content, style, steps=0, content_weight=2.0, style_weight=5.0, init="noise",
                                progress=False, extractor=extractor,
                                generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        f, fc, fs = extractor(start[None]), extractor(content[None]), extractor(style[None])
        s = sum(sc.style_layer_loss(f[n], sc.gram_matrix(fs[n])) for n in extractor.style_layers) / 5
        c = sc.content_loss(f["relu4_2"], fc["relu4_2"])  # the one content layer
    assert history["style"][0] == pytest.approx(s.item(), rel=1e-5)  # each style layer weighted 1/5
    assert history["content"][0] == pytest.approx(c.item(), rel=1e-5)
    assert history["total"][0] == pytest.approx(2 * c.item() + 5 * s.item(), rel=1e-5)


def test_stylize_noise_start_follows_the_generator_alone():
    content, style = images()
    torch.manual_seed(0)
    extractor = st.FeatureExtractor(pretrained=False)
    starts = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        start, _ = st.stylize(content, style, steps=0, init="noise", progress=False, extractor=extractor,
                              generator=torch.Generator().manual_seed(7))
        starts.append(start)
    assert torch.equal(*starts)
    other, _ = st.stylize(content, style, steps=0, init="noise", progress=False, extractor=extractor,
                          generator=torch.Generator().manual_seed(8))
    assert not torch.equal(other, starts[0])


def test_stylize_with_content_only_reconstructs_the_features_from_noise():
    content, style = images()
    torch.manual_seed(0)
    _, history = st.stylize(content, style, steps=100, style_weight=0.0, init="noise", progress=False,
                            extractor=st.FeatureExtractor(pretrained=False),
                            generator=torch.Generator().manual_seed(0))
    assert history["content"][-1] < 0.02 * history["content"][0], history["content"][::20]


def test_stylize_under_bf16_autocast_and_from_noise():
    content, style = images()
    extractor = st.FeatureExtractor(pretrained=False)
    with torch.autocast(**BF16):
        image, history = st.stylize(content[None], style, steps=3, progress=False, extractor=extractor,
                                    init="noise", generator=torch.Generator().manual_seed(0))
    assert image.shape == (1, 3, 32, 32) and image.dtype == torch.float32
    assert all(torch.isfinite(torch.tensor(v)).all() for v in history.values())
    assert history["content"][0] > 0  # noise is not the content image


def test_stylize_rejects_bad_inputs():
    content, style = images()
    extractor = st.FeatureExtractor(pretrained=False)
    with pytest.raises(ValueError, match=r"content .*\(3, H, W\) or \(1, 3, H, W\), got .*\(4, 32, 32\)"):
        st.stylize(torch.rand(4, 32, 32), style, extractor=extractor)
    with pytest.raises(ValueError, match=r"style pixel values in \[0, 1\]"):
        st.stylize(content, style * 255, extractor=extractor)
    with pytest.raises(ValueError, match=r"content pixel values in \[0, 1\]"):
        st.stylize(content - 0.5, style, extractor=extractor)
    with pytest.raises(ValueError, match="optimizer 'adam' or 'lbfgs'"):
        st.stylize(content, style, extractor=extractor, optimizer="sgd")


# ------------------------------------------------------------------------------------ devices


def test_dqn_pieces_run_on_every_available_device(dev):
    torch.manual_seed(0)
    config = dqn.DQNConfig(hidden_sizes=(16,))
    online, target = dqn.QNetwork(config).to(dev), dqn.QNetwork(config).to(dev)
    dqn.hard_update(target, online)
    buffer = dqn.ReplayBuffer(capacity=16, obs_size=4, device=dev)
    for i in range(10):
        buffer.add(torch.randn(4), i % 2, 1.0, torch.randn(4), i == 9)
    batch = buffer.sample(8, generator=torch.Generator().manual_seed(0))
    assert all(t.device.type == dev for t in batch)
    actions = dqn.epsilon_greedy(online(batch.obs), epsilon=0.5, generator=torch.Generator().manual_seed(0))
    assert actions.shape == (8,) and actions.device.type == dev
    for double in (False, True):
        loss = dqn.dqn_loss(online, target, batch, gamma=0.99, double=double)
        loss.backward()
        assert torch.isfinite(loss) and all(p.grad.device.type == dev for p in online.parameters())
    dqn.soft_update(target, online, tau=0.5)


def test_policy_and_style_transfer_run_on_every_available_device(dev):
    torch.manual_seed(0)
    net = policy.PolicyNetwork(policy.PolicyConfig(hidden_sizes=(16,))).to(dev)
    dist = net(torch.randn(5, 4, device=dev))
    actions = dist.sample()
    returns = policy.discounted_returns(torch.ones(5, device=dev), gamma=0.9)
    policy.reinforce_loss(dist.log_prob(actions), returns).backward()
    assert returns.device.type == dev and all(p.grad.device.type == dev for p in net.parameters())

    extractor = st.FeatureExtractor(pretrained=False).to(dev)
    content, style = (torch.rand(3, 32, 32, device=dev) for _ in range(2))
    image, history = st.stylize(content, style, steps=3, progress=False, extractor=extractor)
    assert image.device.type == dev and image.shape == (3, 32, 32) and len(history["total"]) == 4


def test_dqn_loss_and_replay_buffer_reject_bad_shapes_and_sizes():
    config = dqn.DQNConfig(hidden_sizes=(8,))
    online, target = dqn.QNetwork(config), dqn.QNetwork(config)
    batch = small_batch(torch.Generator().manual_seed(5))
    with pytest.raises(ValueError, match=r"actions of shape \(batch,\) = \(16,\).*got actions \(16, 1\)"):
        dqn.dqn_loss(online, target, batch._replace(actions=batch.actions.unsqueeze(1)), 0.99)
    with pytest.raises(ValueError, match="capacity must be a positive int, got 100000.0"):
        dqn.ReplayBuffer(capacity=1e5, obs_size=4)
    negative = batch.actions.clamp(0, 1).index_fill(0, torch.tensor([3]), -1)
    with pytest.raises(ValueError, match=r"actions must lie in \[0, 2\) \(n_actions\), got .* -1 to 1"):
        dqn.dqn_loss(online, target, batch._replace(actions=negative), 0.99)
    too_big = batch.actions.clamp(0, 1).index_fill(0, torch.tensor([3]), 2)  # n_actions is 2
    with pytest.raises(ValueError, match=r"actions must lie in \[0, 2\) \(n_actions\), got .* 0 to 2"):
        dqn.dqn_loss(online, target, batch._replace(actions=too_big), 0.99)
    for gamma in (-0.1, 1.5):
        with pytest.raises(ValueError, match="gamma must lie in"):
            dqn.dqn_loss(online, target, batch, gamma)
    torch.testing.assert_close(dqn.td_target(torch.ones(2), torch.tensor([False, True]),
                                             torch.ones(2, 2), gamma=1.0), torch.tensor([2.0, 1.0]))
    with pytest.raises(ValueError, match="same architecture"):
        dqn.hard_update(target, dqn.QNetwork(dqn.DQNConfig(hidden_sizes=(9,))))


def test_policy_dtype_and_stylize_nan_errors():
    net = policy.PolicyNetwork(policy.PolicyConfig(obs_size=4, n_actions=2, hidden_sizes=(8,)))
    with pytest.raises(TypeError, match="observation dtype torch.float64 differs from the network's"):
        net(torch.zeros(1, 4, dtype=torch.float64))
    content, style = images()
    content = content.clone()
    content[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"expected content pixel values in \[0, 1\] \(no NaN or inf\)"):
        st.stylize(content, style, steps=1, progress=False, extractor=st.FeatureExtractor(pretrained=False))
