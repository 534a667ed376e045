"""Convolution arithmetic from scratch (chapter 4.4).

What deep-learning libraries call a "convolution" is a cross-correlation: slide the kernel
over the input and take a multiply-and-sum at each position, without flipping the kernel.
This module computes output sizes, the sliding-window sum by explicit loops, the same sum as
one matrix product (im2col), the true (flipped-kernel) convolution and max pooling. Inputs
follow PyTorch's layout: images ``(N, C, H, W)``, kernels ``(C_out, C_in, kH, kW)``.
"""

from __future__ import annotations

import torch

Pair = int | tuple[int, int]


def _pair(value: Pair, name: str, minimum: int) -> tuple[int, int]:
    """``3 -> (3, 3)``; ``(3, 1)`` unchanged; anything below ``minimum`` is an error."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v >= minimum for v in pair):
        raise ValueError(f"{name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return pair


def conv_output_size(size: int, kernel: int, padding: int = 0, stride: int = 1, dilation: int = 1) -> int:
    """Output length along one dimension.

    ``floor((size + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1``.

    Raises ``ValueError`` when the (dilated) kernel does not fit in the padded input.
    """
    for name, value, minimum in (("size", size, 1), ("kernel", kernel, 1), ("padding", padding, 0),
                                 ("stride", stride, 1), ("dilation", dilation, 1)):
        if not isinstance(value, int) or value < minimum:
            raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    span = dilation * (kernel - 1) + 1  # how many input positions one kernel placement covers
    if size + 2 * padding < span:
        raise ValueError(
            f"kernel {kernel} with dilation {dilation} spans {span} positions, more than the padded "
            f"input's {size} + 2*{padding} = {size + 2 * padding}"
        )
    return (size + 2 * padding - span) // stride + 1


def _check_input(x: torch.Tensor) -> None:
    if x.dim() != 4:
        raise ValueError(f"input must have shape (N, C, H, W), got shape {tuple(x.shape)}")


def _geometry(x: torch.Tensor, kernel_size: Pair, padding: Pair, stride: Pair, dilation: Pair):
    """Normalise the settings to pairs and compute the output height and width."""
    _check_input(x)
    k, p = _pair(kernel_size, "kernel_size", 1), _pair(padding, "padding", 0)
    s, d = _pair(stride, "stride", 1), _pair(dilation, "dilation", 1)
    out = tuple(conv_output_size(x.shape[2 + a], k[a], p[a], s[a], d[a]) for a in (0, 1))
    return k, p, s, d, out


def im2col(x: torch.Tensor, kernel_size: Pair, padding: Pair = 0, stride: Pair = 1,
           dilation: Pair = 1) -> torch.Tensor:
    """Unfold every kernel-sized window of ``x`` (N, C, H, W) into a column.

    Returns ``(N, C*kH*kW, L)`` with ``L = H_out*W_out`` windows, rows ordered by channel,
    then kernel row, then kernel column: the layout of ``torch.nn.functional.unfold``.
    """
    (kh, kw), (ph, pw), (sh, sw), (dh, dw), (h_out, w_out) = _geometry(x, kernel_size, padding, stride,
                                                                       dilation)
    n, c = x.shape[:2]
    padded = torch.nn.functional.pad(x, (pw, pw, ph, ph))
    cols = x.new_empty(n, c, kh, kw, h_out, w_out)
    for i in range(kh):  # one strided slice per kernel position (i, j) gathers it from every window
        for j in range(kw):
            top, left = i * dh, j * dw
            cols[:, :, i, j] = padded[:, :, top:top + sh * (h_out - 1) + 1:sh,
                                      left:left + sw * (w_out - 1) + 1:sw]
    return cols.reshape(n, c * kh * kw, h_out * w_out)


def _check_weight(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
    _check_input(x)
    if weight.dim() != 4:
        raise ValueError(f"weight must have shape (C_out, C_in, kH, kW), got shape {tuple(weight.shape)}")
    if weight.shape[1] != x.shape[1]:
        raise ValueError(f"weight expects C_in={weight.shape[1]} input channels (shape "
                         f"{tuple(weight.shape)}) but the input has {x.shape[1]} (shape {tuple(x.shape)})")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"bias must have shape ({weight.shape[0]},), got shape {tuple(bias.shape)}")


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, stride: Pair = 1,
           padding: Pair = 0, dilation: Pair = 1) -> torch.Tensor:
    """Cross-correlation as PyTorch's ``conv2d`` computes it, done as one matrix product (im2col)."""
    _check_weight(x, weight, bias)
    c_out, _, kh, kw = weight.shape
    *_, (h_out, w_out) = _geometry(x, (kh, kw), padding, stride, dilation)
    cols = im2col(x, (kh, kw), padding, stride, dilation)  # (N, C_in*kH*kW, L)
    out = weight.reshape(c_out, -1) @ cols  # (C_out, C_in*kH*kW) @ (N, C_in*kH*kW, L) -> (N, C_out, L)
    if bias is not None:
        out = out + bias[:, None]
    return out.reshape(x.shape[0], c_out, h_out, w_out)


def conv2d_loops(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                 stride: Pair = 1, padding: Pair = 0, dilation: Pair = 1) -> torch.Tensor:
    """The definition, one output pixel at a time (slow; for small examples and for checking).

    ``out[n, o, y, z] = bias[o] + sum_{c,i,j} weight[o, c, i, j] * in[n, c, y*sH + i*dH, z*sW + j*dW]``
    with ``in`` the zero-padded input.
    """
    _check_weight(x, weight, bias)
    c_out, _, kh, kw = weight.shape
    _, (ph, pw), (sh, sw), (dh, dw), (h_out, w_out) = _geometry(x, (kh, kw), padding, stride, dilation)
    padded = torch.nn.functional.pad(x, (pw, pw, ph, ph))
    out = x.new_zeros(x.shape[0], c_out, h_out, w_out)
    for y in range(h_out):
        for z in range(w_out):
            window = padded[:, :, y * sh:y * sh + dh * (kh - 1) + 1:dh, z * sw:z * sw + dw * (kw - 1) + 1:dw]
            out[:, :, y, z] = torch.einsum("ncij,ocij->no", window, weight)
    if bias is not None:
        out = out + bias[:, None, None]
    return out


def true_convolution(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                     stride: Pair = 1, padding: Pair = 0, dilation: Pair = 1) -> torch.Tensor:
    """Convolution in the mathematical sense: cross-correlation with the kernel flipped in both axes."""
    return conv2d(x, weight.flip(-2, -1), bias, stride, padding, dilation)


def max_pool2d(x: torch.Tensor, kernel_size: Pair, stride: Pair | None = None, padding: Pair = 0,
               dilation: Pair = 1) -> torch.Tensor:
    """Max pooling: the largest value in each window; no weights. ``stride`` defaults to the kernel size."""
    stride = kernel_size if stride is None else stride
    (kh, kw), (ph, pw), _, _, (h_out, w_out) = _geometry(x, kernel_size, padding, stride, dilation)
    if 2 * ph > kh or 2 * pw > kw:
        raise ValueError(f"padding {(ph, pw)} must be at most half the kernel size {(kh, kw)}")
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pw, pw, ph, ph), value=float("-inf"))  # padding never wins
    cols = im2col(padded.reshape(n * c, 1, h + 2 * ph, w + 2 * pw), (kh, kw), 0, stride, dilation)
    return cols.amax(dim=1).reshape(n, c, h_out, w_out)
