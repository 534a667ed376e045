"""kbook.scratch.conv (chapter 4.4) against PyTorch and against values worked out by hand."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from kbook.scratch import conv


@pytest.mark.parametrize("kernel,padding,stride,dilation",
                         list(itertools.product([1, 2, 3, 5], [0, 1, 3], [1, 2, 3], [1, 2])))
def test_output_size_formula_matches_nn_conv2d(kernel, padding, stride, dilation):
    layer = torch.nn.Conv2d(1, 1, kernel, stride=stride, padding=padding, dilation=dilation)
    for size in range(1, 14):
        x = torch.zeros(1, 1, size, size + 2)
        try:
            expected = tuple(layer(x).shape[2:])
        except RuntimeError:  # PyTorch refuses: the kernel does not fit
            with pytest.raises(ValueError, match="spans"):
                conv.conv_output_size(size, kernel, padding, stride, dilation)
            continue
        got = tuple(conv.conv_output_size(n, kernel, padding, stride, dilation) for n in (size, size + 2))
        assert got == expected, (size, kernel, padding, stride, dilation)


def test_output_size_known_values():
    # (W - F + 2P) / S + 1 for the classic cases: 32x32 input, 5x5 kernel, no padding -> 28
    assert conv.conv_output_size(32, 5) == 28
    assert conv.conv_output_size(32, 3, padding=1) == 32  # "same" padding
    assert conv.conv_output_size(7, 3, stride=2) == 3
    assert conv.conv_output_size(7, 3, dilation=2) == 3  # the dilated kernel spans 5 pixels
    assert conv.conv_output_size(3, 3) == 1  # a valid 3x3 kernel on a 3x3 image gives one number


SETTINGS = [  # (kernel shape, stride, padding, dilation), square and not
    ((3, 3), 1, 0, 1), ((3, 3), 2, 1, 1), ((1, 1), 1, 0, 1), ((5, 3), (2, 1), (2, 0), (1, 2)),
    ((2, 4), 3, (1, 2), 2), ((3, 3), 1, 4, 3),
]


@pytest.mark.parametrize("kernel,stride,padding,dilation", SETTINGS)
def test_conv2d_matches_torch(kernel, stride, padding, dilation):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 11, 9, generator=g, dtype=torch.float64)
    w = torch.randn(4, 3, *kernel, generator=g, dtype=torch.float64)
    b = torch.randn(4, generator=g, dtype=torch.float64)
    expected = F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)
    for fn in (conv.conv2d, conv.conv2d_loops):
        got = fn(x, w, b, stride=stride, padding=padding, dilation=dilation)
        assert got.shape == expected.shape
        torch.testing.assert_close(got, expected, atol=1e-10, rtol=1e-10)
    assert torch.equal(conv.im2col(x, kernel, padding, stride, dilation),
                       F.unfold(x, kernel, dilation=dilation, padding=padding, stride=stride))


def test_true_convolution_is_numpy_convolve_in_one_dimension():
    signal, kernel = np.array([1.0, -2.0, 0.5, 3.0, 4.0, -1.0]), np.array([1.0, 2.0, -3.0])
    x, w = torch.tensor(signal).view(1, 1, 1, -1), torch.tensor(kernel).view(1, 1, 1, -1)
    got = conv.true_convolution(x, w)
    np.testing.assert_allclose(got.flatten().numpy(), np.convolve(signal, kernel, mode="valid"))
    correlation = conv.conv2d(x, w)
    np.testing.assert_allclose(correlation.flatten().numpy(), np.correlate(signal, kernel, mode="valid"))


def test_impulse_response():
    kernel = torch.arange(1.0, 10.0, dtype=torch.float64).view(1, 1, 3, 3)
    impulse = torch.zeros(1, 1, 5, 5, dtype=torch.float64)
    impulse[0, 0, 2, 2] = 1.0
    # true convolution reproduces the kernel around the impulse; cross-correlation flips it
    assert torch.equal(conv.true_convolution(impulse, kernel)[0, 0], kernel[0, 0])
    assert torch.equal(conv.conv2d(impulse, kernel)[0, 0], kernel[0, 0].flip(0, 1))


def test_seed_004_example():
    """Seed 004: input 1..9, a 3x3 kernel never given, answer 108 (factcheck B6)."""
    x = torch.arange(1.0, 10.0, dtype=torch.float64).view(1, 1, 3, 3)
    w = torch.tensor([[1.0, 1, 1], [2, 2, 2], [3, 3, 3]], dtype=torch.float64).view(1, 1, 3, 3)
    out = conv.conv2d(x, w, torch.zeros(1, dtype=torch.float64))
    assert out.shape == (1, 1, 1, 1)
    assert out.item() == 1 * (1 + 2 + 3) + 2 * (4 + 5 + 6) + 3 * (7 + 8 + 9) == 108
    assert conv.true_convolution(x, w).item() == 3 * (1 + 2 + 3) + 2 * (4 + 5 + 6) + 1 * (7 + 8 + 9) == 72
    # what the seed summed instead was the first row of the matrix product X @ X: [30, 36, 42]


@pytest.mark.parametrize("kernel,stride,padding,dilation",
                         [(2, None, 0, 1), (3, 2, 1, 1), ((3, 2), 1, (1, 0), 2)])
def test_max_pool_matches_torch(kernel, stride, padding, dilation):
    x = torch.randn(2, 3, 10, 9, generator=torch.Generator().manual_seed(1))
    expected = F.max_pool2d(x, kernel, stride, padding, dilation)
    assert torch.equal(conv.max_pool2d(x, kernel, stride, padding, dilation), expected)


def test_bad_input():
    x, w = torch.zeros(1, 3, 8, 8), torch.zeros(2, 3, 3, 3)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        conv.conv2d(torch.zeros(3, 8, 8), w)
    with pytest.raises(ValueError, match=r"C_in=3"):
        conv.conv2d(torch.zeros(1, 4, 8, 8), w)
    with pytest.raises(ValueError, match=r"\(C_out, C_in, kH, kW\)"):
        conv.conv2d(x, torch.zeros(3, 3, 3))
    with pytest.raises(ValueError, match=r"bias must have shape \(2,\)"):
        conv.conv2d(x, w, torch.zeros(3))
    with pytest.raises(ValueError, match="spans 9"):
        conv.conv2d(x, w, dilation=4)
    with pytest.raises(ValueError, match="stride must be"):
        conv.conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match="padding must be"):
        conv.conv_output_size(8, 3, padding=-1)
    for kernel, padding in (((3, 2), (1, 2)), ((2, 3), (2, 1))):  # too much padding on one axis only
        with pytest.raises(ValueError, match="at most half"):
            conv.max_pool2d(x, kernel, padding=padding)
    with pytest.raises(ValueError, match="at most half"):
        conv.max_pool2d(x, 2, padding=2)


def test_convolution_and_pooling_pass_gradcheck():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(1, 2, 5, 6, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 2, 3, 2, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True)
    settings = dict(stride=(2, 1), padding=1, dilation=(1, 2))
    assert torch.autograd.gradcheck(lambda a, c, e: conv.conv2d(a, c, e, **settings), (x, w, b))
    assert torch.autograd.gradcheck(lambda a, c, e: conv.conv2d_loops(a, c, e, **settings), (x, w, b))
    assert torch.autograd.gradcheck(lambda a: conv.max_pool2d(a, 2, 1, 1), (x,))
