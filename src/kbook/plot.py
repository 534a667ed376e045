"""Plots the chapters share: loss curves, image grids, decision regions, expression graphs."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import matplotlib.pyplot as plt
import torch

from .scalar.engine import Value
from .train import History


def loss_curves(history: History, ax: plt.Axes | None = None, title: str = "") -> plt.Axes:
    """Training loss per step, and every evaluated metric whose name contains 'loss'."""
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    ax.plot(history.step, history.loss, lw=0.8, alpha=0.8, label="training loss of each step's batch")
    for name, values in history.metrics.items():
        if "loss" in name:
            ax.plot(history.eval_step, values, "o-", ms=3, label=f"{name} (at evaluations)")
    ax.set(xlabel="step", ylabel="loss", title=title)
    ax.legend()
    return ax


def image_grid(images: torch.Tensor, ncols: int = 8, titles: list[str] | None = None,
               scale: float = 1.2, vrange: tuple[float, float] | None = None) -> plt.Figure:
    """Show a batch of images, (N, H, W) greyscale or (N, 3, H, W) colour, in a grid.

    Each greyscale image is stretched to its own darkest and brightest pixel, unless ``vrange``
    ``(low, high)`` fixes the values shown as black and white for all of them: then a faint image
    looks faint. Colour images are shown with ``vrange`` mapped to [0, 1] (default: uint8 pixels
    as 0..255, float pixels as 0..1).
    """
    if images.dim() not in (3, 4) or images.shape[0] < 1:
        raise ValueError(f"expected at least one image, of shape (N, H, W) or (N, C, H, W), "
                         f"got {tuple(images.shape)}")
    if titles is not None and len(titles) != images.shape[0]:
        raise ValueError(f"got {len(titles)} titles for {images.shape[0]} images: give one per image")
    if images.dim() == 4 and images.shape[1] == 3:  # colour: imshow needs [0, 1], it has no vmin/vmax
        low, high = vrange if vrange is not None else ((0, 255) if images.dtype == torch.uint8 else (0, 1))
        images = ((images.detach().float() - low) / (high - low)).clamp(0, 1)
        vrange = None
    images = images.detach().float().cpu()
    n = images.shape[0]
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * scale, nrows * scale), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = images[i]
        if img.dim() == 3:
            img = img.permute(1, 2, 0).squeeze(-1)
        low, high = vrange if vrange is not None else (None, None)
        ax.imshow(img.numpy(), cmap="gray" if img.dim() == 2 else None, vmin=low, vmax=high)
        if titles:
            ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


def decision_regions(predict: Callable[[torch.Tensor], torch.Tensor], X: torch.Tensor,
                     y: torch.Tensor, ax: plt.Axes | None = None, steps: int = 150,
                     title: str = "") -> plt.Axes:
    """Colour the plane by ``predict`` (points (M, 2) -> class ids (M,)) and scatter ``X``.

    The points are coloured by their class ``y``, with a legend; the regions use the same colours.
    """
    ax = ax or plt.subplots(figsize=(4.5, 4))[1]
    lo, hi = (X.min(0).values - 0.5).tolist(), (X.max(0).values + 0.5).tolist()
    dtype = X.dtype if X.is_floating_point() else torch.get_default_dtype()
    xs, ys = (torch.linspace(lo[k], hi[k], steps, dtype=dtype, device=X.device) for k in (0, 1))
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    grid = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)  # the points' dtype and device
    with torch.no_grad():
        regions = predict(grid).reshape(gx.shape).detach().float().cpu()
    ax.contourf(gx.cpu().numpy(), gy.cpu().numpy(), regions.numpy(), alpha=0.3, cmap="coolwarm")
    X, y = X.cpu().numpy(), y.cpu().numpy()
    points = ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", s=14, edgecolors="k", linewidths=0.4)
    ax.legend(*points.legend_elements(), title="class", fontsize="small", title_fontsize="small")
    ax.set(title=title, xticks=[], yticks=[], xlabel="$x_1$", ylabel="$x_2$")
    return ax


def expression_graph(root: Value, ax: plt.Axes | None = None) -> plt.Axes:
    """Draw the computation graph behind ``root``: inputs on the left, ``root`` on the right.

    Each box shows a Value's label (or operation), its data and its grad; each arrow is
    labelled with the local derivative that backpropagation multiplies along it.
    """
    order = root.topological_order()  # inputs come first, so every parent is placed before its child
    depth: dict[int, int] = {}
    columns: dict[int, list[Value]] = {}
    for node in order:
        depth[id(node)] = 1 + max((depth[id(p)] for p, _ in node.parents), default=-1)
        columns.setdefault(depth[id(node)], []).append(node)
    height: dict[int, float] = {}
    for d in sorted(columns):  # left to right: the parents' heights are final
        column = columns[d]
        for k, node in enumerate(column):  # a node sits level with its inputs; inputs stack down
            ids = [id(p) for p, _ in node.parents]
            height[id(node)] = sum(height[i] for i in ids) / len(ids) if ids else -k
        column.sort(key=lambda n: -height[id(n)])
        for above, below in itertools.pairwise(column):  # one box per unit of height: no overlaps
            height[id(below)] = min(height[id(below)], height[id(above)] - 1.0)
    pos = {i: (depth[i] * 1.6, height[i]) for i in depth}
    width = 1.6 * (max(depth.values()) + 1)
    tall = max(height.values()) - min(height.values()) + 1
    ax = ax or plt.subplots(figsize=(1.6 * width + 1, 1.1 * tall + 0.6))[1]
    for node in order:
        x1, y1 = pos[id(node)]
        for parent, local in node.parents:
            x0, y0 = pos[id(parent)]
            ax.annotate("", xy=(x1 - 0.45, y1), xytext=(x0 + 0.45, y0),
                        arrowprops=dict(arrowstyle="->", color="0.55", shrinkA=0, shrinkB=0))
            ax.text(x0 + 0.45 + 0.35 * (x1 - x0 - 0.9), y0 + 0.35 * (y1 - y0) + 0.1, f"{local:.3g}",
                    fontsize=8, color="tab:red", ha="center")
        name = node.label or node.op or "const"
        if node.label and node.op:
            name = f"{node.label} = {node.op}"
        ax.text(x1, y1, f"{name}\ndata {node.data:.4g}\ngrad {node.grad:.4g}", ha="center",
                va="center", fontsize=8, bbox=dict(boxstyle="round", fc="lightyellow", ec="0.4"))
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set(xlim=(min(xs) - 0.7, max(xs) + 0.7), ylim=(min(ys) - 0.6, max(ys) + 0.6))
    ax.axis("off")
    return ax
