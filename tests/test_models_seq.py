"""kbook.models.word2vec and kbook.models.seq2seq: shapes, exact formulas, masks, overfitting, bf16."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from kbook.models.seq2seq import AdditiveAttention, Seq2Seq, Seq2SeqConfig
from kbook.models.word2vec import (
    UnigramSampler,
    Word2Vec,
    Word2VecConfig,
    discard_probability,
    negative_sampling_loss,
    skipgram_pairs,
    subsample,
)
from kbook.scratch.attention import additive_scores

PAD, BOS, EOS = 0, 1, 2


@pytest.fixture(autouse=True)
def one_thread():
    """These models are tiny: one thread is faster than two and immune to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---------------------------------------------------------------- word2vec: data preparation

def test_skipgram_pairs_on_a_known_sequence():
    ids = torch.tensor([10, 11, 12, 13])
    assert skipgram_pairs(ids, window=1).tolist() == [
        [10, 11], [11, 10], [11, 12], [12, 11], [12, 13], [13, 12]]
    assert skipgram_pairs(ids, window=2).tolist() == [
        [10, 11], [10, 12],
        [11, 10], [11, 12], [11, 13],
        [12, 10], [12, 11], [12, 13],
        [13, 11], [13, 12]]
    # a window wider than the sequence pairs every position with every other one
    assert skipgram_pairs(torch.tensor([5, 6, 7]), window=9).tolist() == [
        [5, 6], [5, 7], [6, 5], [6, 7], [7, 5], [7, 6]]
    assert skipgram_pairs(torch.tensor([4]), window=2).shape == (0, 2)


def test_skipgram_pairs_rejects_bad_input():
    with pytest.raises(ValueError, match=r"shape \(length,\)"):
        skipgram_pairs(torch.zeros(2, 3, dtype=torch.long), window=1)
    with pytest.raises(ValueError, match="window must be a positive int"):
        skipgram_pairs(torch.arange(5), window=0)


def test_noise_distribution_is_proportional_to_count_to_the_three_quarters():
    counts = torch.tensor([1, 16, 81, 0, 256])  # count^0.75 = 1, 8, 27, 0, 64 exactly
    sampler = UnigramSampler(counts)
    expected = torch.tensor([1, 8, 27, 0, 64]) / 100
    torch.testing.assert_close(sampler.probs, expected)
    samples = sampler.sample(1000, 100, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (1000, 100) and samples.dtype == torch.int64
    frequency = torch.bincount(samples.flatten(), minlength=5) / samples.numel()
    assert frequency[3] == 0  # a word never seen is never drawn
    torch.testing.assert_close(frequency, expected, atol=0.005, rtol=0)  # 3+ standard errors
    with pytest.raises(ValueError, match=r"shape \(vocab_size,\)"):
        UnigramSampler(torch.ones(2, 3))
    with pytest.raises(ValueError, match="k must be a positive int, got 0"):
        sampler.sample(4, 0)
    with pytest.raises(ValueError, match="batch must be a positive int, got 2.5"):
        sampler.sample(2.5, 3)


def test_discard_probability_matches_the_formula():
    counts = torch.tensor([900, 90, 10, 0])  # frequencies 0.9, 0.09, 0.01, 0
    p = discard_probability(counts, t=0.01)
    # 1 - sqrt(0.01 / 0.9), 1 - sqrt(1 / 9), and 0 where f <= t (the formula would go negative)
    expected = torch.tensor([1 - math.sqrt(0.01 / 0.9), 2 / 3, 0.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(p, expected)
    corpus = torch.tensor([0] * 9000 + [1] * 900 + [2] * 100)
    kept = subsample(corpus, counts, t=0.01, generator=torch.Generator().manual_seed(0))
    kept_fraction = torch.bincount(kept, minlength=4)[:3] / torch.tensor([9000, 900, 100])
    torch.testing.assert_close(kept_fraction.double(), 1 - expected[:3], atol=0.03, rtol=0)
    assert kept_fraction[2] == 1  # rare words are always kept
    with pytest.raises(ValueError, match="t must be a positive"):
        discard_probability(counts, t=0)


# ---------------------------------------------------------------- word2vec: the model

def test_negative_sampling_loss_equals_its_formula_in_float64():
    torch.manual_seed(0)
    model = Word2Vec(Word2VecConfig(vocab_size=20, embed_dim=6)).double()
    with torch.no_grad():
        model.input_embed.weight.normal_()
        model.output_embed.weight.normal_()
    center, context = torch.tensor([0, 3, 7]), torch.tensor([1, 4, 19])
    negatives = torch.tensor([[2, 5, 5, 9], [0, 11, 12, 13], [8, 7, 6, 1]])
    v = model.input_embed.weight.tolist()
    u = model.output_embed.weight.tolist()

    def dot(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    def log_sigmoid(x):
        return math.log(1 / (1 + math.exp(-x)))

    per_pair = [-log_sigmoid(dot(u[o], v[c])) - sum(log_sigmoid(-dot(u[k], v[c])) for k in ks)
                for c, o, ks in zip(center.tolist(), context.tolist(), negatives.tolist(), strict=True)]
    loss = model(center, context, negatives)
    assert loss.dtype == torch.float64
    assert abs(loss.item() - sum(per_pair) / 3) < 1e-12


def test_first_loss_is_k_plus_one_times_log_two():
    # zero output vectors give u . v = 0 for every word, and -log sigmoid(0) = log 2 per term
    model = Word2Vec(Word2VecConfig(vocab_size=10, embed_dim=4))
    loss = model(torch.tensor([1, 2]), torch.tensor([3, 4]), torch.tensor([[5, 6, 7], [8, 9, 0]]))
    assert abs(loss.item() - 4 * math.log(2)) < 1e-6


def test_nearest_returns_the_most_cosine_similar_other_words():
    model = Word2Vec(Word2VecConfig(vocab_size=4, embed_dim=2))
    with torch.no_grad():  # directions 0, 10, 90 and 180 degrees; lengths must not matter
        model.input_embed.weight.copy_(torch.tensor(
            [[1.0, 0.0], [5 * math.cos(0.1745), 5 * math.sin(0.1745)], [0.0, 0.3], [-2.0, 0.0]]))
    ids, similarity = model.nearest(torch.tensor([0, 3]), k=3)
    assert ids.tolist() == [[1, 2, 3], [2, 1, 0]]
    torch.testing.assert_close(similarity[0], torch.tensor([math.cos(0.1745), 0.0, -1.0]), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match=r"k must be an int in \[1, 3\]"):
        model.nearest(torch.tensor([0]), k=4)
    with pytest.raises(ValueError, match=r"shape \(n,\)"):
        model.nearest(torch.tensor([[0]]), k=1)


def topic_corpus(generator: torch.Generator, n_topics: int = 4, per_topic: int = 4) -> torch.Tensor:
    """200 eight-word sentences, each using only the words of one topic (topic t owns 4t .. 4t+3)."""
    topic = torch.randint(0, n_topics, (200,), generator=generator)
    return (topic[:, None] * per_topic + torch.randint(0, per_topic, (200, 8), generator=generator)).flatten()


def test_word2vec_learns_that_cooccurring_words_are_similar():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    corpus = topic_corpus(g)
    pairs = skipgram_pairs(corpus, window=2)
    sampler = UnigramSampler(torch.bincount(corpus, minlength=16))
    model = Word2Vec(Word2VecConfig(vocab_size=16, embed_dim=16))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(150):
        batch = pairs[torch.randint(0, len(pairs), (256,), generator=g)]
        loss = model(batch[:, 0], batch[:, 1], sampler.sample(256, 5, generator=g))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert abs(losses[0] - 6 * math.log(2)) < 1e-5
    # The loss cannot reach 0 (a word's context is a random topic-mate), but it halves.
    assert sum(losses[-20:]) / 20 < 0.55 * losses[0]
    topic = torch.arange(16) // 4
    ids, _ = model.nearest(torch.arange(16), k=3)
    assert (topic[ids] == topic[:, None]).all(), "each word's 3 nearest words should be its topic-mates"
    vectors = F.normalize(model.input_embed.weight.detach(), dim=-1)
    cosine = vectors @ vectors.T
    same = topic[:, None] == topic[None, :]
    assert cosine[same & ~torch.eye(16, dtype=torch.bool)].min() > cosine[~same].max() + 0.2


def test_word2vec_under_bf16_autocast():
    torch.manual_seed(0)
    model = Word2Vec(Word2VecConfig(vocab_size=50, embed_dim=8))
    with torch.no_grad():
        model.output_embed.weight.normal_()
    center, context = torch.randint(0, 50, (32,)), torch.randint(0, 50, (32,))
    negatives = torch.randint(0, 50, (32, 5))
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        loss = model(center, context, negatives)
        ids, _ = model.nearest(torch.tensor([0, 1]), k=4)
    assert loss.shape == () and torch.isfinite(loss)
    assert abs(loss.item() - model(center, context, negatives).item()) < 0.05 * loss.item()
    loss.backward()
    assert torch.isfinite(model.input_embed.weight.grad).all()
    assert ids.shape == (2, 4)
    fresh = Word2Vec(Word2VecConfig(vocab_size=50, embed_dim=8))  # zero output vectors: loss (1 + K) ln 2
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        first = fresh(center, context, negatives).item()
    assert abs(first - 6 * math.log(2)) < 1e-4, "the dot products must stay in float32 under autocast"


def test_word2vec_wrong_shapes_name_the_expected_shape():
    model = Word2Vec(Word2VecConfig(vocab_size=10, embed_dim=4))
    ok_center, ok_context, ok_negatives = torch.tensor([1, 2]), torch.tensor([3, 4]), torch.zeros(2, 3).long()
    with pytest.raises(ValueError, match=r"center word ids of shape \(batch,\), got \(2, 1\)"):
        model(ok_center[:, None], ok_context, ok_negatives)
    with pytest.raises(ValueError, match=r"context word ids of shape \(2,\), got \(3,\)"):
        model(ok_center, torch.tensor([3, 4, 5]), ok_negatives)
    with pytest.raises(ValueError, match=r"negative word ids of shape \(2, k\), got \(6,\)"):
        model(ok_center, ok_context, ok_negatives.flatten())
    with pytest.raises(ValueError, match="integer word ids, got dtype torch.float32"):
        model(ok_center.float(), ok_context, ok_negatives)
    assert negative_sampling_loss(torch.zeros(2, 4), torch.zeros(2, 4), torch.zeros(2, 3, 4)).shape == ()
    with pytest.raises(ValueError, match=r"u_negative must be \(B, K, D\) = \(2, K, 4\), got \(2, 4\)"):
        negative_sampling_loss(torch.zeros(2, 4), torch.zeros(2, 4), torch.zeros(2, 4))  # K left out
    with pytest.raises(ValueError, match=r"must both be \(B, D\), got \(2, 4\) and \(3, 4\)"):
        negative_sampling_loss(torch.zeros(2, 4), torch.zeros(3, 4), torch.zeros(2, 3, 4))


def test_word2vec_rejects_ids_outside_the_vocabulary_and_bad_configs():
    model = Word2Vec(Word2VecConfig(vocab_size=10, embed_dim=4))
    ok_center, ok_negatives = torch.tensor([1, 2]), torch.zeros(2, 3).long()
    with pytest.raises(ValueError, match=r"context ids must lie in \[0, 10\), got values from 4 to 12"):
        model(ok_center, torch.tensor([4, 12]), ok_negatives)
    with pytest.raises(ValueError, match=r"center ids must lie in \[0, 10\), got values from -1 to 2"):
        model(torch.tensor([-1, 2]), ok_center, ok_negatives)
    with pytest.raises(ValueError, match=r"word ids must lie in \[0, 10\)"):
        model.nearest(torch.tensor([10]))
    with pytest.raises(ValueError, match="embed_dim must be a positive int, got 0"):
        Word2VecConfig(embed_dim=0)


# ---------------------------------------------------------------- seq2seq: attention

def test_additive_attention_matches_the_scratch_formula_and_masks_padding():
    torch.manual_seed(0)
    attention = AdditiveAttention(query_dim=3, key_dim=5, attn_dim=4)
    query, keys = torch.randn(2, 3), torch.randn(2, 6, 5)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    context, weights = attention(query, keys, mask)
    assert context.shape == (2, 5) and weights.shape == (2, 6)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2))
    assert (weights[1, 4:] == 0).all() and (weights[:, :4] > 0).all()
    for b in range(2):  # chapter 4.5's score on the real positions, then a softmax over them
        n = int(mask[b].sum())
        scores = additive_scores(query[b], keys[b, :n], attention.W.weight, attention.U.weight,
                                 attention.v.weight[0])
        torch.testing.assert_close(weights[b, :n], scores.softmax(-1))
        torch.testing.assert_close(context[b], weights[b, :n] @ keys[b, :n])
    # precomputed U keys give the same result
    torch.testing.assert_close(attention(query, keys, mask, attention.U(keys))[1], weights)


def test_additive_attention_gradcheck_float64():
    torch.manual_seed(0)
    attention = AdditiveAttention(query_dim=3, key_dim=4, attn_dim=5).double()
    query = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    keys = torch.randn(2, 4, 4, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True, True, True, False], [True, True, True, True]])
    assert torch.autograd.gradcheck(lambda q, k: attention(q, k, mask), (query, keys))
    params = tuple(attention.parameters())
    assert torch.autograd.gradcheck(
        lambda *p: torch.func.functional_call(attention, dict(zip(["W.weight", "U.weight", "v.weight"], p,
                                                                  strict=True)), (query, keys, mask)),
        params)


def test_additive_attention_wrong_shapes_name_the_expected_shape():
    attention = AdditiveAttention(query_dim=3, key_dim=5, attn_dim=4)
    query, keys, mask = torch.randn(2, 3), torch.randn(2, 6, 5), torch.ones(2, 6, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"query of shape \(batch, 3\), got \(2, 4\)"):
        attention(torch.randn(2, 4), keys, mask)
    with pytest.raises(ValueError, match=r"keys of shape \(2, src_len, 5\), got \(3, 6, 5\)"):
        attention(query, torch.randn(3, 6, 5), mask)
    with pytest.raises(ValueError, match=r"boolean mask of shape \(2, 6\)"):
        attention(query, keys, mask.float())
    with pytest.raises(ValueError, match=r"boolean mask of shape \(2, 6\)"):
        attention(query, keys, mask[:, :5])


# ---------------------------------------------------------------- seq2seq: the model

def tiny_seq2seq() -> Seq2Seq:
    cfg = Seq2SeqConfig(src_vocab_size=12, tgt_vocab_size=12, embed_dim=16, hidden_dim=32, attn_dim=32,
                        pad_id=PAD)
    return Seq2Seq(cfg)


def reversal_batch(generator: torch.Generator, batch: int = 16, max_len: int = 6):
    """Random sequences of tokens 3..11 with lengths 2..max_len; the target is the reversed sequence."""
    lengths = torch.randint(2, max_len + 1, (batch,), generator=generator)
    src = torch.full((batch, max_len), PAD)
    tgt_in = torch.full((batch, max_len + 1), PAD)
    tgt_out = torch.full((batch, max_len + 1), PAD)
    for i, n in enumerate(lengths.tolist()):
        sequence = torch.randint(3, 12, (n,), generator=generator)
        src[i, :n] = sequence
        tgt_in[i, 0], tgt_in[i, 1:n + 1] = BOS, sequence.flip(0)
        tgt_out[i, :n], tgt_out[i, n] = sequence.flip(0), EOS
    return src, lengths, tgt_in, tgt_out


def test_seq2seq_shapes():
    torch.manual_seed(0)
    model = tiny_seq2seq()
    src, lengths, tgt_in, tgt_out = reversal_batch(torch.Generator().manual_seed(0), batch=5)
    logits, weights = model(src, lengths, tgt_in)
    assert logits.shape == (5, 7, 12) and weights.shape == (5, 7, 6)
    assert model.loss(logits, tgt_out).shape == ()
    with pytest.raises(ValueError, match=r"target token ids must lie in \[0, 12\), got values from 0 to 12"):
        model.loss(logits, tgt_out.masked_fill(tgt_out == EOS, 12))
    encoded, hidden = model.encode(src, lengths)
    assert encoded.states.shape == (5, 6, 64) and encoded.keys.shape == (5, 6, 32) and hidden.shape == (5, 32)
    step_logits, new_hidden, step_weights = model.decode_step(tgt_in[:, 0], hidden, encoded)
    assert step_logits.shape == (5, 12) and new_hidden.shape == (5, 32) and step_weights.shape == (5, 6)
    torch.testing.assert_close(step_logits, logits[:, 0])  # forward is decode_step with teacher forcing
    tokens, attention = model.greedy_decode(src, max_len=4, bos_id=BOS, eos_id=EOS, src_lengths=lengths)
    assert tokens.shape[0] == 5 and 1 <= tokens.shape[1] <= 4 and attention.shape == (5, tokens.shape[1], 6)
    assert model(src, None, tgt_in)[1].shape == (5, 7, 6)  # no lengths: nothing is padding


def test_seq2seq_loss_ignores_padding_and_every_parameter_learns():
    torch.manual_seed(0)
    model = tiny_seq2seq()
    src, lengths, tgt_in, tgt_out = reversal_batch(torch.Generator().manual_seed(0), batch=4)
    logits, _ = model(src, lengths, tgt_in)
    loss = model.loss(logits, tgt_out)
    real = tgt_out != PAD
    by_hand = -torch.log_softmax(logits, -1).gather(-1, tgt_out[..., None])[..., 0][real].mean()
    torch.testing.assert_close(loss, by_hand)
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, f"{name} gets no gradient"


def test_seq2seq_attention_sums_to_one_and_is_zero_on_padding():
    torch.manual_seed(0)
    model = tiny_seq2seq()
    src, lengths, tgt_in, _ = reversal_batch(torch.Generator().manual_seed(1), batch=8)
    assert lengths.min() < 6  # some rows really are padded
    _, weights = model(src, lengths, tgt_in)
    torch.testing.assert_close(weights.sum(-1), torch.ones(8, 7))
    padded = torch.arange(6)[None, :] >= lengths[:, None]  # (B, S)
    assert (weights.permute(1, 0, 2)[:, padded] == 0).all()
    assert (weights.permute(1, 0, 2)[:, ~padded] > 0).all()


def test_seq2seq_outputs_do_not_depend_on_padding():
    torch.manual_seed(0)
    model = tiny_seq2seq()
    src, lengths, tgt_in, _ = reversal_batch(torch.Generator().manual_seed(2), batch=6)
    logits, weights = model(src, lengths, tgt_in)
    garbage = src.clone()
    garbage[torch.arange(6)[None, :] >= lengths[:, None]] = 7  # any token in the padded slots
    torch.testing.assert_close(model(garbage, lengths, tgt_in)[0], logits)
    for i, n in enumerate(lengths.tolist()):  # each row alone, with no padding at all
        alone_logits, alone_weights = model(src[i:i + 1, :n], None, tgt_in[i:i + 1])
        torch.testing.assert_close(alone_logits[0], logits[i], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(alone_weights[0], weights[i, :, :n], atol=1e-5, rtol=1e-5)


def test_seq2seq_overfits_one_batch_and_greedy_decoding_reverses_it():
    torch.manual_seed(0)
    model = tiny_seq2seq()
    src, lengths, tgt_in, tgt_out = reversal_batch(torch.Generator().manual_seed(0))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(120):
        logits, _ = model(src, lengths, tgt_in)
        loss = model.loss(logits, tgt_out)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.01
    # Attention has learned the alignment: output step t of a length-n row looks at source n-1-t
    # (a uniform spread would put 1/n, 0.25 on average, there).
    _, weights = model(src, lengths, tgt_in)
    aligned = [weights[i, t, n - 1 - t].item() for i, n in enumerate(lengths.tolist()) for t in range(n)]
    assert sum(aligned) / len(aligned) > 0.4
    model.eval()
    tokens, attention = model.greedy_decode(src, max_len=10, bos_id=BOS, eos_id=EOS, src_lengths=lengths)
    # stops once every row has emitted EOS; rows that finished earlier are padded after their EOS
    assert tokens.shape == (16, int(lengths.max()) + 1) and attention.shape == (16, tokens.shape[1], 6)
    assert torch.equal(tokens, tgt_out[:, :tokens.shape[1]])


def test_seq2seq_dropout_acts_in_training_only():
    torch.manual_seed(0)
    cfg = Seq2SeqConfig(src_vocab_size=12, tgt_vocab_size=12, embed_dim=16, hidden_dim=32, attn_dim=32,
                        pad_id=PAD, dropout=0.5)
    model = Seq2Seq(cfg)
    src, lengths, tgt_in, _ = reversal_batch(torch.Generator().manual_seed(0), batch=4)
    assert not torch.equal(model(src, lengths, tgt_in)[0], model(src, lengths, tgt_in)[0])
    model.eval()
    assert torch.equal(model(src, lengths, tgt_in)[0], model(src, lengths, tgt_in)[0])


def test_greedy_decode_turns_dropout_off_and_restores_the_mode():
    torch.manual_seed(0)
    cfg = Seq2SeqConfig(src_vocab_size=12, tgt_vocab_size=12, embed_dim=16, hidden_dim=32, attn_dim=32,
                        pad_id=PAD, dropout=0.5)
    model = Seq2Seq(cfg).train()  # as left by training
    src = torch.randint(3, 12, (8, 5))
    runs = [model.greedy_decode(src, max_len=6, bos_id=BOS, eos_id=EOS)[0] for _ in range(3)]
    assert all(torch.equal(runs[0], r) for r in runs[1:]), "greedy decoding changed from call to call"
    assert model.training
    model.eval().greedy_decode(src, max_len=6, bos_id=BOS, eos_id=EOS)
    assert not model.training, "greedy_decode put a model in evaluation mode back into training mode"


def test_greedy_decode_stops_at_max_len_or_when_all_rows_end():
    torch.manual_seed(0)
    model = tiny_seq2seq()
    src = torch.randint(3, 12, (3, 5))
    with torch.no_grad():
        model.out.weight.zero_()
        model.out.bias.zero_()
        model.out.bias[5] = 10.0  # always predicts token 5
    tokens, attention = model.greedy_decode(src, max_len=4, bos_id=BOS, eos_id=EOS)
    assert tokens.tolist() == [[5] * 4] * 3 and attention.shape == (3, 4, 5)
    tokens, _ = model.greedy_decode(src, max_len=4, bos_id=BOS, eos_id=5)
    assert tokens.tolist() == [[5]] * 3
    with pytest.raises(ValueError, match="max_len must be a positive int"):
        model.greedy_decode(src, max_len=0, bos_id=BOS, eos_id=EOS)
    vocab = model.config.tgt_vocab_size
    with pytest.raises(ValueError, match=rf"bos_id must be a target token id in \[0, {vocab}\), got {vocab}"):
        model.greedy_decode(src, max_len=4, bos_id=vocab, eos_id=EOS)
    with pytest.raises(ValueError, match=rf"eos_id must be a target token id in \[0, {vocab}\), got -1"):
        model.greedy_decode(src, max_len=4, bos_id=BOS, eos_id=-1)


def test_seq2seq_under_bf16_autocast():
    torch.manual_seed(0)
    model = tiny_seq2seq()
    src, lengths, tgt_in, tgt_out = reversal_batch(torch.Generator().manual_seed(0), batch=4)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        logits, weights = model(src, lengths, tgt_in)
        loss = model.loss(logits, tgt_out)
        tokens, attention = model.greedy_decode(src, max_len=5, bos_id=BOS, eos_id=EOS, src_lengths=lengths)
    assert logits.shape == (4, 7, 12) and weights.shape == (4, 7, 6)
    assert torch.isfinite(loss) and abs(loss.item() - math.log(12)) < 0.5  # near uniform at the start
    torch.testing.assert_close(weights.float().sum(-1), torch.ones(4, 7), atol=1e-3, rtol=0)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    assert tokens.shape[0] == 4 and attention.shape == (4, tokens.shape[1], 6)


def test_seq2seq_recurrent_states_stay_float32_under_autocast():
    model = tiny_seq2seq()
    src, lengths, tgt_in, _ = reversal_batch(torch.Generator().manual_seed(0), batch=4)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        encoded, hidden = model.encode(src, lengths)
        logits, hidden, _ = model.decode_step(tgt_in[:, 0], hidden, encoded)
    assert encoded.states.dtype == torch.float32 and hidden.dtype == torch.float32
    assert logits.dtype == torch.bfloat16  # the output layer still runs in bfloat16


def test_seq_models_run_on_every_available_device(dev):
    counts = torch.tensor([50, 30, 2, 1], device=dev)
    kept = subsample(torch.tensor([0, 1, 2, 3, 0], device=dev), counts, t=0.1,
                     generator=torch.Generator().manual_seed(0))
    assert kept.device.type == dev and 2 in kept.tolist() and 3 in kept.tolist()  # rare words are kept
    noise = UnigramSampler(counts).sample(2, 3, generator=torch.Generator().manual_seed(0))
    assert noise.device.type == "cpu" and noise.shape == (2, 3)  # drawn on the CPU on every device
    noise = noise.to(dev)
    w2v = Word2Vec(Word2VecConfig(vocab_size=4, embed_dim=8)).to(dev)
    assert w2v(torch.tensor([0, 1], device=dev), torch.tensor([1, 2], device=dev), noise).isfinite()
    model = tiny_seq2seq().to(dev)
    src, lengths, tgt_in, _ = reversal_batch(torch.Generator().manual_seed(0), batch=3)
    logits, weights = model(src.to(dev), lengths, tgt_in.to(dev))
    assert logits.device.type == dev and weights.device.type == dev


def test_seq2seq_wrong_shapes_name_the_expected_shape():
    model = tiny_seq2seq()
    src, lengths, tgt_in, tgt_out = reversal_batch(torch.Generator().manual_seed(0), batch=3)
    with pytest.raises(ValueError, match=r"source token ids of shape \(batch, src_len\)"):
        model(src[0], lengths, tgt_in)
    with pytest.raises(ValueError, match=r"source token ids of shape \(batch, src_len\) and an integer"):
        model(src.float(), lengths, tgt_in)
    with pytest.raises(ValueError, match=r"src_lengths of shape \(3,\), got torch.int64 \(2,\)"):
        model(src, lengths[:2], tgt_in)
    with pytest.raises(ValueError, match=r"src_lengths must lie in \[1, 6\]"):
        model(src, torch.tensor([0, 2, 3]), tgt_in)
    with pytest.raises(ValueError, match=r"src_lengths must lie in \[1, 6\]"):
        model(src, torch.tensor([7, 2, 3]), tgt_in)
    with pytest.raises(ValueError, match=r"target token ids of shape \(3, tgt_len\).* \(2, 7\)"):
        model(src, lengths, tgt_in[:2])
    logits, _ = model(src, lengths, tgt_in)
    with pytest.raises(ValueError, match=r"expected tgt_out of shape \(3, 7\)"):
        model.loss(logits, tgt_out[:, :5])
    encoded, hidden = model.encode(src, lengths)
    with pytest.raises(ValueError, match=r"hidden of shape \(3, 32\), got \(3, 64\)"):
        model.decode_step(tgt_in[:, 0], torch.zeros(3, 64), encoded)
    with pytest.raises(ValueError, match=r"prev_token of shape \(3,\), got \(3, 1\)"):
        model.decode_step(tgt_in[:, :1], hidden, encoded)
    bad_src = src.clone()
    bad_src[1, 0] = 12
    with pytest.raises(ValueError, match=r"source token ids must lie in \[0, 12\), got values from .* to 12"):
        model(bad_src, lengths, tgt_in)
    with pytest.raises(ValueError, match=r"target token ids must lie in \[0, 12\), got values from -3"):
        model(src, lengths, tgt_in.masked_fill(tgt_in == BOS, -3))
    with pytest.raises(ValueError, match="pad_id must be a valid id"):
        Seq2SeqConfig(src_vocab_size=10, tgt_vocab_size=5, pad_id=7)
    with pytest.raises(ValueError, match="hidden_dim must be a positive int"):
        Seq2SeqConfig(hidden_dim=0)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        Seq2SeqConfig(dropout=1.0)


def test_seq2seq_decoder_follows_bahdanau():
    torch.manual_seed(0)
    model = tiny_seq2seq().eval()
    src, lengths, tgt_in, _ = reversal_batch(torch.Generator().manual_seed(2), batch=4)
    encoded, s0 = model.encode(src, lengths)
    H = model.config.hidden_dim
    # s_0 = tanh(W_s h_1 backward): the backward GRU's state at the first source token
    torch.testing.assert_close(s0, torch.tanh(model.bridge(encoded.states[:, 0, H:])))
    # step i attends with the previous state s_{i-1}, and feeds the context into the GRU
    _, s1, weights = model.decode_step(tgt_in[:, 0], s0, encoded)
    torch.testing.assert_close(weights, model.attention(s0, encoded.states, encoded.mask)[1])
    other = encoded._replace(states=encoded.states.flip(0))  # other contexts, same attention weights
    _, s1_other, weights_other = model.decode_step(tgt_in[:, 0], s0, other)
    torch.testing.assert_close(weights_other, weights)
    assert not torch.allclose(s1_other, s1), "the new state must depend on the context"
