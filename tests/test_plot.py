"""The shared plots draw what they are given and reject what they cannot draw."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

import kbook
from kbook.scalar import Value


def test_loss_curves_draws_train_and_eval_losses():
    history = kbook.History(step=[1, 2, 3], loss=[3.0, 2.0, 1.0], eval_step=[3],
                            metrics={"val_loss": [1.5], "accuracy": [0.9]})
    ax = kbook.plot.loss_curves(history)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines) == ["training loss of each step's batch", "val_loss (at evaluations)"]  # not accuracy
    train, val = lines["training loss of each step's batch"], lines["val_loss (at evaluations)"]
    assert list(train.get_xdata()) == [1, 2, 3] and list(train.get_ydata()) == [3.0, 2.0, 1.0]
    assert list(val.get_xdata()) == [3] and list(val.get_ydata()) == [1.5]  # at the eval step
    plt.close("all")


@pytest.mark.parametrize("shape", [(5, 28, 28), (5, 3, 16, 16), (5, 1, 8, 8)])
def test_image_grid_lays_out_every_image(shape):
    fig = kbook.plot.image_grid(torch.rand(shape), ncols=4)
    assert len(fig.axes) == 8 and sum(bool(ax.images) for ax in fig.axes) == 5
    plt.close(fig)


def test_image_grid_shows_each_image_the_right_way_up_under_its_own_title():
    colour = torch.arange(48.0).reshape(2, 3, 2, 4) / 48  # 2 high, 4 wide: a transpose would show
    fig = kbook.plot.image_grid(colour, ncols=3, titles=["first", "second"])
    for k in range(2):
        np.testing.assert_allclose(fig.axes[k].images[0].get_array(), colour[k].permute(1, 2, 0).numpy())
    assert [ax.get_title() for ax in fig.axes] == ["first", "second", ""]
    grey = torch.arange(8.0).reshape(1, 1, 2, 4)  # (N, 1, H, W), as an MNIST batch comes
    np.testing.assert_allclose(kbook.plot.image_grid(grey, ncols=1).axes[0].images[0].get_array(),
                               grey[0, 0].numpy())
    plt.close("all")


def test_image_grid_shows_a_faint_image_faint_with_a_fixed_range():
    faint = torch.full((1, 4, 4), -0.2)
    faint[0, 0, 0] = 0.2
    stretched = kbook.plot.image_grid(faint, ncols=1).axes[0].images[0]
    fixed = kbook.plot.image_grid(faint, ncols=1, vrange=(-1, 1)).axes[0].images[0]
    assert stretched.get_clim() == pytest.approx((-0.2, 0.2))  # its own range: full contrast
    assert fixed.get_clim() == (-1, 1)
    plt.close("all")


def test_image_grid_names_the_expected_shape():
    with pytest.raises(ValueError, match=r"\(N, H, W\) or \(N, C, H, W\), got \(28, 28\)"):
        kbook.plot.image_grid(torch.rand(28, 28))


def test_image_grid_scales_colour_images_and_checks_titles():
    colour = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    colour[:, 0] = 128  # mid red
    shown = kbook.plot.image_grid(colour, ncols=2).axes[0].images[0].get_array()
    assert np.allclose(shown[..., 0], 128 / 255) and np.allclose(shown[..., 1:], 0)
    signed = kbook.plot.image_grid(torch.full((1, 3, 2, 2), -0.5), ncols=1, vrange=(-1, 1))
    assert np.allclose(signed.axes[0].images[0].get_array(), 0.25)
    with pytest.raises(ValueError, match="got 1 titles for 2 images"):
        kbook.plot.image_grid(colour, titles=["one"])
    with pytest.raises(ValueError, match="expected at least one image"):
        kbook.plot.image_grid(torch.rand(0, 8, 8))
    plt.close("all")


def test_decision_regions_uses_the_points_dtype():
    X, y = kbook.toy.two_moons(50)
    model = torch.nn.Linear(2, 2).double()  # a float64 model on float64 points
    ax = kbook.plot.decision_regions(lambda g: model(g).argmax(1), X.double(), y, steps=20)
    assert len([c for c in ax.collections if hasattr(c, "levels")]) == 1
    plt.close("all")


def test_decision_regions_fills_the_plane_and_shows_the_points():
    X, y = kbook.toy.two_moons(50)
    ax = kbook.plot.decision_regions(lambda g: (g[:, 1] > 0.25).long(), X, y, steps=40)
    filled = [c for c in ax.collections if hasattr(c, "levels")]
    assert len(filled) == 1 and len(filled[0].levels) >= 2  # the regions of both classes
    points = [c for c in ax.collections if c is not filled[0]]
    assert len(points) == 1 and np.allclose(points[0].get_offsets(), X.numpy())
    legend = ax.get_legend()  # which colour is which class
    assert legend.get_title().get_text() == "class" and len(legend.get_texts()) == 2
    assert ax.get_xlabel() and ax.get_ylabel()
    plt.close("all")


def test_expression_graph_shows_data_grad_and_local_derivatives():
    a, b = Value(2.0, label="a"), Value(3.0, label="b")
    out = (a * b).tanh()
    out.backward()
    texts = [t.get_text() for t in kbook.plot.expression_graph(out).texts]
    assert f"a\ndata 2\ngrad {a.grad:.4g}" in texts and f"b\ndata 3\ngrad {b.grad:.4g}" in texts
    assert f"{b.data:.3g}" in texts  # d(a*b)/da = b labels the edge from a
    plt.close("all")


def test_expression_graph_boxes_never_overlap():
    x, y = Value(1.5, label="x"), Value(-2.0, label="y")
    out = (x * y) + (x + y) + (x - y) * (x * 3)  # siblings with the same inputs share a level
    boxes = [t.get_position() for t in kbook.plot.expression_graph(out).texts if t.get_bbox_patch()]
    assert len(boxes) == len(out.topological_order())
    for i, (x0, y0) in enumerate(boxes):
        for x1, y1 in boxes[i + 1:]:
            assert x0 != x1 or abs(y0 - y1) >= 1.0, f"boxes at ({x0}, {y0}) and ({x1}, {y1}) overlap"
    plt.close("all")


def test_two_moons_is_balanced_and_reproducible():
    X, y = kbook.toy.two_moons(101, seed=3)
    assert X.shape == (101, 2) and y.bincount().tolist() == [51, 50]
    assert torch.equal(X, kbook.toy.two_moons(101, seed=3)[0])
    with pytest.raises(ValueError, match="at least 2"):
        kbook.toy.two_moons(1)


def test_two_moons_lie_on_their_arcs_and_are_shuffled():
    X, y = kbook.toy.two_moons(400, noise=0.0, seed=1)
    upper, lower = X[y == 0], X[y == 1]
    torch.testing.assert_close(upper.norm(dim=1), torch.ones(len(upper)))  # unit circle, centre (0, 0)
    assert (upper[:, 1] >= 0).all()
    centre = torch.tensor([1.0, 0.5])
    torch.testing.assert_close((lower - centre).norm(dim=1), torch.ones(len(lower)))
    assert (lower[:, 1] <= 0.5 + 1e-6).all()
    assert 0 < (y[1:] != y[:-1]).sum() and not torch.equal(y, y.sort().values)  # classes interleaved
    many, y_many = kbook.toy.two_moons(2000, noise=0.0, seed=1)  # each moon is a whole half circle
    upper, lower = many[y_many == 0], many[y_many == 1]
    assert upper[:, 0].min() < -0.99 and upper[:, 0].max() > 0.99 and upper[:, 1].max() > 0.99
    assert lower[:, 0].min() < 0.01 and lower[:, 0].max() > 1.99 and lower[:, 1].min() < -0.49
    noisy, y_noisy = kbook.toy.two_moons(400, noise=0.2, seed=1)
    off = (noisy[y_noisy == 0].norm(dim=1) - 1).abs().mean()
    assert 0.05 < off < 0.3  # noise moves points off the arc, by about its size
    assert not torch.equal(kbook.toy.two_moons(400, seed=2)[0], kbook.toy.two_moons(400, seed=1)[0])


def test_decision_regions_cover_the_points_the_right_way_round():
    X = torch.tensor([[0.0, 100.0], [10.0, 110.0], [2.0, 105.0]])
    y = torch.tensor([0, 1, 0])
    seen = []

    def predict(points):
        seen.append(points)
        return (points[:, 0] > 5).long()  # class 1 to the right of x = 5

    ax = kbook.plot.decision_regions(predict, X, y, title="right of 5")
    grid = seen[0]
    assert grid[:, 0].min() <= -0.5 and grid[:, 0].max() >= 10.5  # the x range and a margin
    assert grid[:, 1].min() <= 99.5 and grid[:, 1].max() >= 110.5
    filled = ax.collections[0].get_paths()[-1].vertices  # the region of the top class
    assert filled[:, 0].min() > 4.5 and filled[:, 1].min() < 100 and filled[:, 1].max() > 110
    assert ax.get_title() == "right of 5"
    assert ax.collections[-1].get_array().tolist() == y.tolist()  # points coloured by their class
    plt.close("all")


def test_expression_graph_labels_edges_with_local_derivatives():
    a = Value(0.5, label="a")
    out = (a * 4.0).tanh()  # tanh'(2) = 1 - tanh(2)^2: unlike any value in the graph
    out.backward()
    texts = [t.get_text() for t in kbook.plot.expression_graph(out).texts]
    assert f"{1 - out.data**2:.3g}" in texts and "4" in texts  # d tanh / d(4a) and d(4a) / da
    plt.close("all")
