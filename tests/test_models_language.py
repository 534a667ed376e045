"""kbook.models.char_rnn and kbook.models.gpt: shapes, learning, causality, sampling, state carry."""

from __future__ import annotations

import copy

import pytest
import torch

import kbook
from kbook.models.char_rnn import CharRNN, CharRNNConfig, detach_state
from kbook.models.gpt import GPT, GPTConfig
from kbook.models.language_model import language_model_loss, sample_next
from kbook.scratch.attention import scaled_dot_product_attention as scratch_attention

VOCAB = 11
CELLS = ["rnn", "lstm"]


@pytest.fixture(autouse=True, scope="module")
def one_cpu_thread():
    """The models here are tiny: one thread is fastest, and does not slow down when the CPU is busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_rnn(cell: str, **overrides) -> CharRNN:
    torch.manual_seed(0)
    return CharRNN(CharRNNConfig(**{"vocab_size": VOCAB, "cell": cell, "n_embd": 16, "hidden_size": 32,
                                    "n_layers": 2, **overrides}))


def tiny_gpt(**overrides) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(**{"vocab_size": VOCAB, "block_size": 16, "n_layer": 2, "n_head": 2, "n_embd": 32,
                            **overrides}))


def random_ids(*shape: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, VOCAB, shape, generator=torch.Generator().manual_seed(seed))


def learnable_batch(batch: int = 4, time: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Random sequences whose first tokens all differ, so every prefix fixes its next token."""
    seq = random_ids(batch, time + 1)
    seq[:, 0] = torch.arange(batch)
    return seq[:, :-1], seq[:, 1:]


def overfit(model: torch.nn.Module, steps: int, lr: float) -> tuple[float, float]:
    x, y = learnable_batch()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    first = None
    for _ in range(steps):
        loss = model(x, y)[1]
        first = loss.item() if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return first, model(x, y)[1].item()


# --- shapes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS)
def test_char_rnn_shapes(cell):
    model = tiny_rnn(cell)
    logits, loss, state = model(random_ids(3, 7))
    assert logits.shape == (3, 7, VOCAB) and loss is None
    states = state if cell == "lstm" else (state,)
    assert len(states) == (2 if cell == "lstm" else 1)
    assert all(s.shape == (2, 3, 32) for s in states)
    _, loss, _ = model(random_ids(3, 7), random_ids(3, 7, seed=2))
    assert loss.dim() == 0 and torch.isfinite(loss)


def test_gpt_shapes():
    model = tiny_gpt()
    logits, loss = model(random_ids(3, 16))
    assert logits.shape == (3, 16, VOCAB) and loss is None
    logits, loss = model(random_ids(2, 1), random_ids(2, 1, seed=2))
    assert logits.shape == (2, 1, VOCAB) and loss.dim() == 0


def test_loss_is_cross_entropy_and_ignores_minus_one():
    model = tiny_gpt()
    x, y = learnable_batch()
    logits, loss = model(x, y)
    manual = -torch.log_softmax(logits, -1).gather(-1, y[..., None]).mean()
    torch.testing.assert_close(loss, manual)
    y_masked = y.clone()
    y_masked[:, 8:] = -1
    manual_half = -torch.log_softmax(logits[:, :8], -1).gather(-1, y[:, :8, None]).mean()
    torch.testing.assert_close(model(x, y_masked)[1], manual_half)


# --- learning ------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS)
def test_char_rnn_overfits_one_batch(cell):
    first, last = overfit(tiny_rnn(cell), steps=150, lr=1e-2)
    assert first > 2.0  # about ln(11) = 2.4 at the start
    assert last < 0.05, f"{cell} did not memorise one batch: loss {last:.4f}"


def test_loss_is_float32_for_bfloat16_logits():
    logits = torch.randn(2, 5, VOCAB, generator=torch.Generator().manual_seed(0))
    targets = random_ids(2, 5)
    loss = language_model_loss(logits.bfloat16(), targets, targets)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, language_model_loss(logits.bfloat16().float(), targets, targets))


def test_gpt_overfits_one_batch():
    first, last = overfit(tiny_gpt(), steps=100, lr=3e-3)
    assert first > 2.0
    assert last < 0.05, f"GPT did not memorise one batch: loss {last:.4f}"


@pytest.mark.parametrize("model", [tiny_rnn("rnn", dropout=0.5), tiny_rnn("lstm", dropout=0.5),
                                   tiny_rnn("lstm", dropout=0.5, n_layers=1), tiny_gpt(dropout=0.5)],
                         ids=["rnn", "lstm", "lstm-1-layer", "gpt"])
def test_dropout_acts_in_training_only(model):
    x = random_ids(2, 8)
    assert not torch.equal(model(x)[0], model(x)[0])
    model.eval()
    assert torch.equal(model(x)[0], model(x)[0])


def test_gpt_drops_out_attention_weights_in_training_only():
    attention = tiny_gpt(dropout=0.5).blocks[0].attn
    attention.resid_dropout = torch.nn.Identity()  # leave only the dropout on the attention weights
    x = torch.randn(2, 8, 32)
    assert not torch.equal(attention(x), attention(x))
    attention.eval()
    assert torch.equal(attention(x), attention(x))


def test_char_rnn_drops_out_between_its_layers():
    assert tiny_rnn("lstm", dropout=0.3).rnn.dropout == 0.3  # PyTorch applies it between stacked layers
    assert tiny_rnn("lstm", dropout=0.3, n_layers=1).rnn.dropout == 0.0  # none to apply it between


# --- GPT: causality, attention, tying, parameters, optimizer ------------------------------------

@pytest.mark.parametrize("position", [1, 2, 7, 15])  # position 0 has no earlier logits to check
def test_gpt_future_tokens_never_change_earlier_logits(position):
    model = tiny_gpt().eval()
    x = random_ids(2, 16)
    changed = x.clone()
    changed[:, position] = (changed[:, position] + 1) % VOCAB
    before, after = model(x)[0], model(changed)[0]
    torch.testing.assert_close(after[:, :position], before[:, :position], atol=0, rtol=0)
    assert (after[:, position] - before[:, position]).abs().max() > 1e-4  # the change itself is seen


def test_gpt_attention_equals_explicit_causal_softmax_attention():
    model = tiny_gpt().eval()
    attn = model.blocks[0].attn
    x = torch.randn(2, 9, 32, generator=torch.Generator().manual_seed(3))
    q, k, v = (t.view(2, 9, 2, 16).transpose(1, 2) for t in attn.c_attn(x).split(32, dim=2))
    y, weights = scratch_attention(q, k, v, causal=True)
    expected = attn.c_proj(y.transpose(1, 2).reshape(2, 9, 32))
    torch.testing.assert_close(attn(x), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, 9))  # each row is a distribution
    assert (weights.triu(diagonal=1) == 0).all()  # and puts no weight on the future


def test_gpt_weight_tying_shares_storage():
    model = tiny_gpt()
    assert model.lm_head.weight is model.wte.weight
    assert model.lm_head.weight.data_ptr() == model.wte.weight.data_ptr()
    for moved in (copy.deepcopy(model), model.to(torch.float64)):
        assert moved.lm_head.weight.data_ptr() == moved.wte.weight.data_ptr()
    with torch.no_grad():
        model.wte.weight[3] += 1.0  # editing the embedding edits the output head
    assert (model.lm_head.weight[3] == model.wte.weight[3]).all()


def test_gpt_init_scales_residual_projections():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=VOCAB, block_size=16, n_layer=8, n_head=2, n_embd=256))
    proj = model.blocks[0].mlp.c_proj.weight.std().item()
    fc = model.blocks[0].mlp.c_fc.weight.std().item()
    assert abs(fc - 0.02) < 0.001
    assert abs(proj - 0.02 / 4) < 0.0005  # 0.02 / sqrt(2 * 8 layers)
    assert abs(model.blocks[0].attn.c_proj.weight.std().item() - 0.02 / 4) < 0.0005  # both residual writers
    assert all((b.attn.c_attn.bias == 0).all() for b in model.blocks)


def test_gpt_parameter_count_matches_formula_and_shakespeare_char_builds():
    model = GPT(GPTConfig(vocab_size=65, block_size=256, n_layer=6, n_head=6, n_embd=384, dropout=0.2,
                          bias=False))
    C, L, V, T = 384, 6, 65, 256
    per_block = 12 * C * C + 2 * C  # attention 4C^2, MLP 8C^2, two LayerNorm gains
    expected = L * per_block + C + V * C  # + final LayerNorm gain + token embedding (= head)
    assert model.num_params() == expected
    assert model.num_params(include_position=True) == expected + T * C
    print(f"shakespeare_char GPT: {model.num_params():,} parameters without position embeddings, "
          f"{model.num_params(include_position=True):,} with")
    logits, loss = model(torch.randint(0, 65, (2, 256)), torch.randint(0, 65, (2, 256)))
    assert logits.shape == (2, 256, 65) and torch.isfinite(loss)
    with_bias = GPT(GPTConfig(vocab_size=V, block_size=16, n_layer=2, n_head=2, n_embd=32))
    C, L = 32, 2
    assert with_bias.num_params() == L * (12 * C * C + 13 * C) + 2 * C + V * C


def test_gpt_optimizer_groups_cover_each_parameter_once():
    model = tiny_gpt()
    optimizer = model.configure_optimizers(weight_decay=0.1, lr=0.0123, betas=(0.9, 0.99))
    decay, no_decay = optimizer.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    seen = [id(p) for group in optimizer.param_groups for p in group["params"]]
    assert len(seen) == len(set(seen))  # nothing twice (the tied matrix included)
    assert set(seen) == {id(p) for p in model.parameters()}  # nothing left out
    assert all(p.dim() >= 2 for p in decay["params"]) and all(p.dim() < 2 for p in no_decay["params"])
    assert any(p is model.wte.weight for p in decay["params"])
    assert optimizer.defaults["betas"] == (0.9, 0.99)
    assert [group["lr"] for group in optimizer.param_groups] == [0.0123, 0.0123]


# --- generation -----------------------------------------------------------------------------------

def models():
    return [tiny_rnn("rnn"), tiny_rnn("lstm"), tiny_gpt()]


@pytest.mark.parametrize("temperature,top_k", [(1.0, None), (0.5, None), (2.0, None), (1.0, 3)])
def test_sample_next_follows_the_tempered_top_k_distribution(temperature, top_k):
    logits = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0])
    expected = torch.softmax(logits / temperature, dim=0)
    if top_k is not None:
        expected[top_k:] = 0
        expected /= expected.sum()
    torch.manual_seed(0)
    draws = sample_next(logits.expand(40_000, 5), temperature, top_k)
    assert draws.shape == (40_000, 1)
    frequency = torch.bincount(draws.flatten(), minlength=5) / 40_000
    torch.testing.assert_close(frequency, expected, atol=0.01, rtol=0)  # about 4 standard errors


@pytest.mark.parametrize("model", models(), ids=["rnn", "lstm", "gpt"])
def test_generate_length_and_valid_ids(model):
    prompt = random_ids(3, 5)
    torch.manual_seed(0)
    out = model.generate(prompt, max_new_tokens=20, temperature=1.5, top_k=4)
    assert out.shape == (3, 25) and out.dtype == prompt.dtype
    assert model.generate(prompt, max_new_tokens=2, top_k=VOCAB).shape == (3, 7)  # top_k may be all
    assert torch.equal(out[:, :5], prompt)
    assert out.min() >= 0 and out.max() < VOCAB
    assert model.training  # generate restores the mode it found


@pytest.mark.parametrize("model", models(), ids=["rnn", "lstm", "gpt"])
def test_generate_top_k_1_is_greedy_and_deterministic(model):
    model.eval()
    prompt = random_ids(2, 3)
    torch.manual_seed(0)
    first = model.generate(prompt, max_new_tokens=10, top_k=1)
    assert not model.training, "generate put a model in evaluation mode back into training mode"
    torch.manual_seed(123)
    second = model.generate(prompt, max_new_tokens=10, top_k=1, temperature=2.0)
    assert torch.equal(first, second)
    greedy = prompt  # recompute each step from the whole text: no state carried
    for _ in range(10):
        greedy = torch.cat([greedy, model(greedy)[0][:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(first, greedy)
    torch.manual_seed(0)
    sampled = [model.generate(prompt, max_new_tokens=10, temperature=2.0) for _ in range(3)]
    assert not all(torch.equal(s, first) for s in sampled)  # without top_k it really samples


def test_gpt_generate_crops_context_to_block_size():
    model = tiny_gpt().eval()
    long_prompt = random_ids(2, 40)  # longer than block_size = 16
    out = model.generate(long_prompt, max_new_tokens=5, top_k=1)
    assert out.shape == (2, 45) and torch.equal(out[:, :40], long_prompt)
    from_tail = model.generate(long_prompt[:, -16:], max_new_tokens=5, top_k=1)
    assert torch.equal(out[:, 40:], from_tail[:, 16:])  # it sees the last 16 tokens, not the first


# --- recurrent state --------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS)
def test_carried_state_equals_one_pass(cell):
    model = tiny_rnn(cell).eval()
    x = random_ids(3, 12)
    whole, _, state_whole = model(x)
    first, _, state = model(x[:, :5])
    second, _, state_end = model(x[:, 5:], state=state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole, atol=1e-6, rtol=1e-5)
    for a, b in zip(state_end if cell == "lstm" else (state_end,),
                    state_whole if cell == "lstm" else (state_whole,), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    fresh, _, _ = model(x[:, 5:])
    assert (fresh - second).abs().max() > 1e-3  # the state really matters


@pytest.mark.parametrize("cell", CELLS)
def test_truncated_bptt_needs_and_accepts_detached_state(cell):
    model = tiny_rnn(cell)
    x, y = learnable_batch()
    _, loss, state = model(x[:, :8], y[:, :8])
    loss.backward()
    _, loss, _ = model(x[:, 8:], y[:, 8:], state=detach_state(state))
    loss.backward()  # gradients stop at the chunk boundary
    _, loss, state = model(x[:, :8], y[:, :8])
    loss.backward()
    _, loss, _ = model(x[:, 8:], y[:, 8:], state=state)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()


# --- bf16 autocast ------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", models(), ids=["rnn", "lstm", "gpt"])
def test_bf16_autocast_on_cpu(model):
    x, y = learnable_batch()
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        out = model(x, y)
    logits, loss = out[0], out[1]
    assert logits.shape == (4, 16, VOCAB)
    assert logits.dtype == torch.bfloat16 and loss.dtype == torch.float32
    assert torch.isfinite(loss) and abs(loss.item() - model(x, y)[1].item()) < 0.05
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        assert model.generate(x[:, :2], max_new_tokens=3).shape == (4, 5)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_recurrent_state_stays_float32_under_autocast(cell):
    model = tiny_rnn(cell)
    x, y = learnable_batch()
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        _, _, state = model(x[:, :8], y[:, :8])
        _, loss, state = model(x[:, 8:], y[:, 8:], state=detach_state(state))
    for tensor in state if isinstance(state, tuple) else (state,):
        assert tensor.dtype == torch.float32
    loss.backward()


@pytest.mark.parametrize("cell", CELLS)
def test_char_rnn_runs_in_the_weights_dtype(cell):
    model = tiny_rnn(cell).double()
    x, y = learnable_batch()
    logits, loss, state = model(x, y)
    assert logits.dtype == torch.float64 and loss.dtype == torch.float64
    assert all(t.dtype == torch.float64 for t in (state if isinstance(state, tuple) else (state,)))


@pytest.mark.parametrize("model", models(), ids=["rnn", "lstm", "gpt"])
def test_interrupted_generate_restores_training_mode(model, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(f"{type(model).__module__}.sample_next", interrupt)
    model.train()
    with pytest.raises(KeyboardInterrupt):
        model.generate(random_ids(1, 2), max_new_tokens=3)
    assert model.training, "generate left the model in eval mode: dropout would be off in later training"


# --- bad input ----------------------------------------------------------------------------------------

def test_gpt_rejects_sequences_longer_than_block_size():
    with pytest.raises(ValueError, match=r"shape \(batch, time\) with 1 <= time <= 16, got \(2, 17\): "
                                         r"keep the last 16 tokens"):
        tiny_gpt()(random_ids(2, 17))


@pytest.mark.parametrize("model", models(), ids=["rnn", "lstm", "gpt"])
def test_bad_token_ids_are_rejected(model):
    with pytest.raises(ValueError, match=r"expected token ids of shape \(batch, time\).*got \(5,\)"):
        model(random_ids(5))
    with pytest.raises(ValueError, match=r"got \(2, 3, 4\)"):
        model(random_ids(2, 3, 4))
    with pytest.raises(ValueError, match="integer token ids.*torch.float32"):
        model(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=rf"token ids in \[0, {VOCAB}\).*from 0 to {VOCAB}"):
        model(torch.tensor([[0, VOCAB]]))
    with pytest.raises(ValueError, match=rf"token ids in \[0, {VOCAB}\).*from -1 to 3"):
        model(torch.tensor([[0, -1, 3]]))
    with pytest.raises(ValueError, match=r"targets of shape \(batch, time\) = \(2, 3\).*got \(2, 4\)"):
        model(random_ids(2, 3), random_ids(2, 4))
    for bad in (VOCAB, -2):
        with pytest.raises(ValueError, match=rf"targets in \[0, {VOCAB}\) or -1 \(ignored\), got values"):
            model(random_ids(1, 3), torch.tensor([[0, bad, 1]]))
    with pytest.raises(ValueError, match="top_k must be None or an int in"):
        model.generate(random_ids(1, 2), max_new_tokens=1, top_k=VOCAB + 1)
    with pytest.raises(ValueError, match="temperature must be a positive"):
        model.generate(random_ids(1, 2), max_new_tokens=1, temperature=0.0)


@pytest.mark.parametrize("cell", CELLS)
def test_char_rnn_rejects_a_wrong_state(cell):
    model = tiny_rnn(cell)
    good = model(random_ids(3, 4))[2]
    expected = r"shape \(n_layers, batch, hidden_size\) = \(2, 2, 32\), got \(2, 3, 32\)"
    with pytest.raises(ValueError, match=expected):
        model(random_ids(2, 4), state=good)
    if cell == "lstm":
        h, c = good
        with pytest.raises(ValueError, match=r"expected state c of shape .*, got \(2, 2, 32\)"):
            model(random_ids(3, 4), state=(h, c[:, :2]))
    wrong_kind = good[0] if cell == "lstm" else (good, good)
    with pytest.raises(ValueError, match=f"an {cell.upper()} state must be"):
        model(random_ids(3, 4), state=wrong_kind)


def test_configs_reject_nonsense():
    with pytest.raises(ValueError, match="cell must be one of"):
        CharRNNConfig(cell="gru")
    with pytest.raises(ValueError, match="hidden_size must be a positive int"):
        CharRNNConfig(hidden_size=0)
    with pytest.raises(ValueError, match="n_embd must be a multiple of n_head"):
        GPTConfig(n_embd=30, n_head=4)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        GPTConfig(dropout=1.0)


# ------------------------------------------------------------------------------------ devices


@pytest.mark.parametrize("make", [
    lambda: GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16)),
    lambda: CharRNN(CharRNNConfig(vocab_size=11, cell="lstm", n_embd=8, hidden_size=16, n_layers=2)),
    lambda: CharRNN(CharRNNConfig(vocab_size=11, cell="rnn", n_embd=8, hidden_size=16, n_layers=1)),
], ids=["gpt", "lstm", "rnn"])
def test_language_models_train_and_generate_on_every_available_device(make, dev):
    torch.manual_seed(0)
    model = make().to(dev)
    x = torch.randint(0, 11, (2, 8), device=dev)
    with kbook.autocast(dev):  # bf16 on a CUDA GPU that has it, a no-op elsewhere
        logits, loss = model(x, x)[:2]  # the GPT returns (logits, loss); a CharRNN also its state
    loss.backward()
    assert logits.shape == (2, 8, 11) and torch.isfinite(loss)
    assert all(p.grad is not None and p.grad.device.type == dev for p in model.parameters())
    out = model.generate(x[:, :3], max_new_tokens=4, temperature=0.8, top_k=5)
    assert out.shape == (2, 7) and out.device.type == dev and int(out.max()) < 11


@pytest.mark.parametrize("make", [lambda: tiny_rnn("lstm", dropout=0.5), lambda: tiny_gpt(dropout=0.5)],
                         ids=["lstm", "gpt"])
def test_generate_samples_with_dropout_off(make):
    model = make()  # in training mode, with heavy dropout
    prompt = random_ids(2, 4)
    torch.manual_seed(0)
    first = model.generate(prompt, max_new_tokens=12, top_k=1)
    torch.manual_seed(1)
    again = model.generate(prompt, max_new_tokens=12, top_k=1)
    assert torch.equal(first, again) and model.training
    assert torch.equal(first, model.eval().generate(prompt, max_new_tokens=12, top_k=1))


def test_gpt_blocks_are_pre_layernorm_residual():
    block = tiny_gpt(bias=True).blocks[0]
    with torch.no_grad():
        for proj in (block.attn.c_proj, block.mlp.c_proj):  # the two writes into the residual stream
            proj.weight.zero_()
            proj.bias.zero_()
    x = torch.randn(2, 5, 32)
    # x + attn(ln(x)) + mlp(ln(...)): with both writes zeroed the block passes x through untouched
    torch.testing.assert_close(block(x), x)
