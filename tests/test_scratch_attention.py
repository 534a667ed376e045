"""kbook.scratch.attention (chapter 4.5) against PyTorch and against independently computed values."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from kbook.scratch import attention as A


def f64(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def test_softmax_matches_torch_with_temperature():
    x = torch.randn(4, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 5
    for temperature in (0.1, 0.5, 1.0, 3.0):
        for dim in (0, 1, -1):
            torch.testing.assert_close(A.softmax(x, dim, temperature), torch.softmax(x / temperature, dim))


def test_softmax_is_stable_where_the_naive_formula_overflows():
    x = f64([1000.0, 1001.0, 1002.0])
    naive = x.exp() / x.exp().sum()
    assert torch.isnan(naive).all()
    e = [math.exp(-2), math.exp(-1), 1.0]  # the same ratios, worked out by hand
    torch.testing.assert_close(A.softmax(x), f64([v / sum(e) for v in e]))
    assert not torch.isnan(A.softmax(x.float())).any()


def test_temperature_limits():
    x = f64([1.0, 3.0, 2.0])
    torch.testing.assert_close(A.softmax(x, temperature=1e-3), f64([0.0, 1.0, 0.0]))
    torch.testing.assert_close(A.softmax(x, temperature=1e6), f64([1 / 3] * 3), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="temperature must be a positive"):
        A.softmax(x, temperature=0)


# factcheck B6: seed softmax examples, recomputed there with NumPy
def test_seed_000_attention_softmax():
    scores = f64([1 * 4, 2 * 5, 3 * 6])
    torch.testing.assert_close(A.softmax(scores), f64([8.312e-07, 3.353e-04, 9.99664e-01]), rtol=1e-3, atol=0)
    # the seed's scores 4, 10, 18 are the products 1*4, 2*5, 3*6; a dot product would be one number, 32


def test_seed_000_decoder_output():
    claimed = f64([0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    # the seed's "probabilities" sum to 2.7, so they are not a distribution; softmax makes one
    torch.testing.assert_close(A.softmax(claimed), f64([0.128, 0.141, 0.156, 0.173, 0.191, 0.211]),
                               atol=6e-4, rtol=0)


def test_seed_004_attention():
    h_t, h_prev, w_a = f64([1, 2]), f64([3, 4]), f64([1, 1])
    pre = h_t * w_a + h_prev * w_a  # [4, 6]; the seed wrote [6, 8]
    torch.testing.assert_close(A.softmax(torch.tanh(pre)), f64([0.49984, 0.50016]), atol=1e-5, rtol=0)
    seed_pre = f64([6, 8])
    torch.testing.assert_close(A.softmax(torch.tanh(seed_pre)), f64([0.499997, 0.500003]), atol=1e-6, rtol=0)
    torch.testing.assert_close(A.softmax(f64([5.1962, 6.0206])), f64([0.3048, 0.6952]), atol=1e-4, rtol=0)
    # the seed's 5.1962 and 6.0206 cannot come out of tanh, whose values lie in (-1, 1)


@pytest.mark.parametrize("shape_q,shape_k,d_v", [((5, 8), (5, 8), 8), ((2, 3, 5, 8), (2, 3, 7, 8), 4),
                                                  ((1, 6, 16), (1, 4, 16), 3)])
def test_attention_matches_torch(shape_q, shape_k, d_v):
    g = torch.Generator().manual_seed(0)
    q = torch.randn(shape_q, generator=g, dtype=torch.float64)
    k = torch.randn(shape_k, generator=g, dtype=torch.float64)
    v = torch.randn(*shape_k[:-1], d_v, generator=g, dtype=torch.float64)
    mask = torch.rand(shape_q[-2], shape_k[-2], generator=g) > 0.4
    mask[:, 0] = True  # every query may attend at least one key
    cases = [({}, {}), ({"causal": True}, {"is_causal": True}), ({"mask": mask}, {"attn_mask": mask}),
             ({"scale": 0.3}, {"scale": 0.3})]
    for ours, theirs in cases:
        out, weights = A.scaled_dot_product_attention(q, k, v, **ours)
        torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, **theirs), atol=1e-12, rtol=0)
        torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1], dtype=torch.float64))


def test_causal_weights_are_zero_above_the_diagonal():
    x = torch.randn(6, 4, generator=torch.Generator().manual_seed(2))
    _, weights = A.scaled_dot_product_attention(x, x, x, causal=True)
    assert torch.all(weights.triu(1) == 0) and torch.all(weights.diagonal() > 0)
    assert weights[0, 0] == 1


def test_attention_weights_by_hand():
    q, k = f64([[1.0, 0.0]]), f64([[2.0, 0.0], [0.0, 2.0]])
    v = f64([[1.0, 10.0], [3.0, 30.0]])
    out, weights = A.scaled_dot_product_attention(q, k, v)
    s = 2 / math.sqrt(2)  # scores [2, 0] / sqrt(2)
    w0 = math.exp(s) / (math.exp(s) + 1)
    torch.testing.assert_close(weights, f64([[w0, 1 - w0]]))
    torch.testing.assert_close(out, f64([[w0 * 1 + (1 - w0) * 3, w0 * 10 + (1 - w0) * 30]]))


def test_attention_bad_input():
    q, k, v = torch.zeros(5, 8), torch.zeros(7, 8), torch.zeros(7, 4)
    with pytest.raises(ValueError, match=r"k must have shape \(\.\.\., S, 8\)"):
        A.scaled_dot_product_attention(q, torch.zeros(7, 6), v)
    with pytest.raises(ValueError, match=r"v must have shape \(\.\.\., 7, d_v\)"):
        A.scaled_dot_product_attention(q, k, torch.zeros(6, 4))
    with pytest.raises(ValueError, match=r"same number of dimensions.*got \(5, 8\), \(1, 7, 8\), \(7, 4\)"):
        A.scaled_dot_product_attention(q, k[None], v)
    with pytest.raises(ValueError, match="boolean"):
        A.scaled_dot_product_attention(q, k, v, mask=torch.ones(5, 7))
    broadcast = r"mask of shape \(5, 6\) does not broadcast to the scores' shape \(5, 7\)"
    with pytest.raises(ValueError, match=broadcast):
        A.scaled_dot_product_attention(q, k, v, mask=torch.ones(5, 6, dtype=torch.bool))
    no_key_for_query_2 = torch.ones(5, 7, dtype=torch.bool)
    no_key_for_query_2[2] = False
    with pytest.raises(ValueError, match="no key to attend to"):
        A.scaled_dot_product_attention(q, k, v, mask=no_key_for_query_2)


def test_softmax_and_attention_gradients_pass_gradcheck():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(3, 5, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: A.softmax(t, dim=-1, temperature=0.7), (x,))
    q, k, v = (torch.randn(2, 4, 3, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3))
    assert torch.autograd.gradcheck(lambda a, b, c: A.scaled_dot_product_attention(a, b, c, causal=True)[0],
                                    (q, k, v))


def test_positional_encoding_matches_the_paper_formula():
    n, d = 50, 16
    pe = A.sinusoidal_positional_encoding(n, d)
    assert pe.shape == (n, d)
    for pos in (0, 1, 7, 49):
        for i in range(d // 2):
            angle = pos / 10000 ** (2 * i / d)
            assert abs(pe[pos, 2 * i].item() - math.sin(angle)) < 1e-12
            assert abs(pe[pos, 2 * i + 1].item() - math.cos(angle)) < 1e-12


def test_positional_encoding_shift_is_a_rotation():
    d, k = 32, 5
    pe = A.sinusoidal_positional_encoding(100, d)
    omega = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    c, s = torch.cos(omega * k), torch.sin(omega * k)
    sin, cos = pe[:-k, 0::2], pe[:-k, 1::2]
    torch.testing.assert_close(pe[k:, 0::2], sin * c + cos * s)  # sin(a+b) = sin a cos b + cos a sin b
    torch.testing.assert_close(pe[k:, 1::2], cos * c - sin * s)


def test_positional_encoding_bad_input():
    with pytest.raises(ValueError, match="even"):
        A.sinusoidal_positional_encoding(10, 7)
    with pytest.raises(ValueError, match="n_positions"):
        A.sinusoidal_positional_encoding(0, 8)


def test_additive_scores_by_loops():
    g = torch.Generator().manual_seed(3)
    query, keys = torch.randn(3, generator=g), torch.randn(5, 4, generator=g)
    w_q, w_k, v = torch.randn(6, 3, generator=g), torch.randn(6, 4, generator=g), torch.randn(6, generator=g)
    expected = []
    for key in keys:
        hidden = [math.tanh(sum(w_q[r, c] * query[c] for c in range(3))
                            + sum(w_k[r, c] * key[c] for c in range(4))) for r in range(6)]
        expected.append(sum(v[r].item() * hidden[r] for r in range(6)))
    torch.testing.assert_close(A.additive_scores(query, keys, w_q, w_k, v), torch.tensor(expected))
    with pytest.raises(ValueError, match=r"w_key must have shape \(6, 4\)"):
        A.additive_scores(query, keys, w_q, torch.randn(6, 3), v)
    with pytest.raises(ValueError, match=r"expected query \(d_q,\).*got \(1, 3\), \(5, 4\)"):
        A.additive_scores(query[None], keys, w_q, w_k, v)
