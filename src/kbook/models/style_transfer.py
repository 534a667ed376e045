"""Neural style transfer by optimising the pixels of an image (Gatys, Ecker & Bethge, 2015/2016).

Gatys, Ecker and Bethge ("A Neural Algorithm of Artistic Style", 2015; "Image Style Transfer
Using Convolutional Neural Networks", CVPR 2016) describe an image by the activations of a
pretrained VGG-19 network (Simonyan & Zisserman, 2014): the *content* of an image is its
feature maps at a deep layer, its *style* the Gram matrices (channel correlations) of the
feature maps at several layers. Starting from the content photograph (or from noise), the
pixels of a new image are optimised so that its content matches the photograph and its style
matches the painting. The losses themselves live in :mod:`kbook.scratch.style` (chapter 4.9)
and are reused here unchanged.

The feature extractor uses torchvision's ImageNet VGG-19 weights (``VGG19_Weights.IMAGENET1K_V1``)
when they can be loaded: from the torch hub cache, or downloaded when ``download=True``. It
never touches the network otherwise. When the weights are unavailable it falls back, with a
warning, to a small randomly initialised network of the same VGG-19 shape (fixed seed). Its
``source`` attribute says which one is in use. The fallback keeps the code running offline;
its features were never trained, so do not expect the pretrained network's results from it.

Layers are named in the usual way: ``conv<block>_<n>`` is the n-th convolution of a block
(before its ReLU), ``relu<block>_<n>`` the same layer after the ReLU, ``pool<block>`` the max
pooling that ends the block. The defaults take the rectified responses of layer 4_2 for content
and of layers 1_1, 2_1, 3_1, 4_1 and 5_1 for style, each style layer weighted 1/5, as in the
paper.

Shapes: images (3, H, W) or (1, 3, H, W) with values in [0, 1]; the extractor maps
(batch, 3, H, W) to a dict of feature maps (batch, C_l, H_l, W_l), one per requested layer.
"""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from kbook.scratch.style import content_loss, gram_matrix, style_loss, total_loss

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VGG19_CONVS_PER_BLOCK = (2, 2, 4, 4, 4)
VGG19_WIDTHS = (64, 128, 256, 512, 512)
PRETRAINED = "vgg19-imagenet"
FALLBACK = "random-vgg-fallback"


@dataclass
class StyleTransferConfig:
    """Layers used for content and style, and the shape and seed of the offline fallback network."""

    content_layers: tuple[str, ...] = ("relu4_2",)
    style_layers: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    fallback_widths: tuple[int, ...] = (16, 32, 64, 128, 128)  # channels per block of the fallback
    fallback_seed: int = 0


class WeightsUnavailable(RuntimeError):
    """The pretrained VGG-19 weights cannot be loaded; the message says why."""


def _vgg19_layer_names() -> tuple[str, ...]:
    names: list[str] = []
    for block, n_convs in enumerate(VGG19_CONVS_PER_BLOCK, start=1):
        for n in range(1, n_convs + 1):
            names += [f"conv{block}_{n}", f"relu{block}_{n}"]
        names.append(f"pool{block}")
    return tuple(names)


VGG19_LAYERS = _vgg19_layer_names()  # conv1_1, relu1_1, conv1_2, relu1_2, pool1, conv2_1, ..., pool5


def vgg_layers(widths: tuple[int, ...] = VGG19_WIDTHS) -> nn.Sequential:
    """The convolutional part of VGG-19 with named layers and the given channels per block.

    The layer order is torchvision's ``vgg19().features``, so the i-th module here is the i-th
    module there. The ReLUs are not in place, so a ``conv`` output survives the ReLU after it.
    The convolutions are left uninitialised (no random numbers drawn): fill them, as
    :func:`pretrained_vgg19` and :func:`random_vgg` do.
    """
    if len(widths) != len(VGG19_CONVS_PER_BLOCK) or any(w < 1 for w in widths):
        raise ValueError(f"expected {len(VGG19_CONVS_PER_BLOCK)} positive channel widths, one per block, "
                         f"got {widths}")
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    channels = 3
    for name in VGG19_LAYERS:
        kind, block = name[:4], int(name[4])
        if kind == "conv":
            width = widths[block - 1]
            layers[name] = nn.utils.skip_init(nn.Conv2d, channels, width, kernel_size=3, padding=1)
            channels = width
        elif kind == "relu":
            layers[name] = nn.ReLU()
        else:
            layers[name] = nn.MaxPool2d(kernel_size=2, stride=2)
    return nn.Sequential(layers)


def vgg19_weights_path() -> tuple[str, Path]:
    """(url, path in the torch hub cache) of torchvision's ImageNet VGG-19 weights."""
    try:
        from torchvision.models import VGG19_Weights
    except Exception as err:  # not installed, or built for another torch ("operator ... does not exist")
        raise WeightsUnavailable(f"torchvision could not be imported ({type(err).__name__}: {err})") from err
    url = VGG19_Weights.IMAGENET1K_V1.url
    return url, Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name


def pretrained_vgg19(download: bool = False) -> nn.Sequential:
    """VGG-19's convolutional layers with torchvision's ImageNet weights.

    Reads the weights file from the torch hub cache; when it is not there, downloads it (and
    checks its hash) only if ``download`` is true. Raises :class:`WeightsUnavailable` otherwise.
    Only the convolutional weights are used; the classifier's are never built.
    """
    url, path = vgg19_weights_path()
    if not path.exists() and not download:
        raise WeightsUnavailable(f"the VGG-19 weights are not in the torch hub cache ({path}) "
                                 "and download=False")
    net = vgg_layers(VGG19_WIDTHS)
    try:
        if path.exists():
            state = torch.load(path, map_location="cpu", weights_only=True)
        else:
            state = torch.hub.load_state_dict_from_url(url, map_location="cpu", check_hash=True,
                                                       weights_only=True)
        net.load_state_dict({f"{name}.{p}": state[f"features.{i}.{p}"]
                             for i, (name, module) in enumerate(net.named_children())
                             if isinstance(module, nn.Conv2d) for p in ("weight", "bias")})
    except Exception as err:  # no network, a truncated or foreign file: fall back, saying why
        raise WeightsUnavailable(f"could not load the VGG-19 weights from {url}: {err!r}") from err
    return net


def random_vgg(widths: tuple[int, ...], seed: int) -> nn.Sequential:
    """A VGG-19-shaped network with He-normal random weights and zero biases, drawn from ``seed``.

    Uses its own generator, so the global random state is untouched.
    """
    net = vgg_layers(widths)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net:
            if isinstance(module, nn.Conv2d):
                fan_in = module.in_channels * module.kernel_size[0] * module.kernel_size[1]
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator)
                                    * math.sqrt(2 / fan_in))
                module.bias.zero_()
    return net


class FeatureExtractor(nn.Module):
    """Frozen VGG-19 features of the content and style layers named in the config.

    ``pretrained=True`` tries the ImageNet weights (see :func:`pretrained_vgg19`) and falls back,
    with a warning, to :func:`random_vgg`; ``pretrained=False`` uses the fallback directly.
    ``source`` is ``"vgg19-imagenet"`` or ``"random-vgg-fallback"``; ``fallback_reason`` says why.
    """

    def __init__(self, config: StyleTransferConfig | None = None, pretrained: bool = True,
                 download: bool = False) -> None:
        super().__init__()
        config = config or StyleTransferConfig()
        names = VGG19_LAYERS
        wanted = list(dict.fromkeys(config.content_layers + config.style_layers))
        unknown = [name for name in wanted if name not in names]
        if not config.content_layers or not config.style_layers or unknown:
            raise ValueError(f"expected at least one content and one style layer, each one of {list(names)}; "
                             f"got content {config.content_layers} and style {config.style_layers}")
        self.config = config
        self.content_layers, self.style_layers = config.content_layers, config.style_layers
        self.fallback_reason: str | None = "pretrained=False"
        net = None
        if pretrained:
            try:
                net = pretrained_vgg19(download)
                self.fallback_reason = None
            except WeightsUnavailable as err:
                self.fallback_reason = str(err)
                warnings.warn(f"using a randomly initialised VGG-shaped network instead of the pretrained "
                              f"VGG-19: {err}", stacklevel=2)
        if net is None:
            net = random_vgg(config.fallback_widths, config.fallback_seed)
        self.source = PRETRAINED if self.fallback_reason is None else FALLBACK
        last = max(names.index(name) for name in wanted)
        self.layers = net[: last + 1]  # nothing after the deepest requested layer is ever run
        self.min_size = 2 ** sum(name.startswith("pool") for name in names[: last + 1])
        self.layers.requires_grad_(False).eval()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def extra_repr(self) -> str:
        reason = f", fallback_reason={self.fallback_reason!r}" if self.fallback_reason else ""
        return f"source={self.source!r}{reason}"

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """(batch, 3, H, W) images in [0, 1] -> {layer name: (batch, C, H_l, W_l) feature map}."""
        if (images.ndim != 4 or images.shape[1] != 3 or not images.is_floating_point()
                or min(images.shape[2:]) < self.min_size):
            raise ValueError(f"expected float images of shape (batch, 3, H, W) with H, W >= {self.min_size}, "
                             f"got {images.dtype} of shape {tuple(images.shape)}")
        x = (images - self.mean) / self.std  # ImageNet normalisation, as the weights were trained with
        wanted = set(self.content_layers) | set(self.style_layers)
        features = {}
        for name, layer in self.layers.named_children():
            x = layer(x)
            if name in wanted:
                features[name] = x
        return features


def _as_image_batch(name: str, image: torch.Tensor) -> torch.Tensor:
    batch = image.unsqueeze(0) if image.ndim == 3 else image
    if batch.ndim != 4 or batch.shape[:2] != (1, 3) or not image.is_floating_point():
        raise ValueError(f"expected {name} as a float image of shape (3, H, W) or (1, 3, H, W), "
                         f"got {image.dtype} of shape {tuple(image.shape)}")
    if not torch.isfinite(image).all() or image.min() < 0 or image.max() > 1:
        raise ValueError(f"expected {name} pixel values in [0, 1] (no NaN or inf), got values in "
                         f"[{image.min():.3g}, {image.max():.3g}]")
    return batch


def stylize(content: torch.Tensor, style: torch.Tensor, steps: int = 300, content_weight: float = 1.0,
            style_weight: float = 1e3, lr: float | None = None, progress: bool = True, *,
            extractor: FeatureExtractor | None = None, optimizer: str = "adam", init: str = "content",
            generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, list[float]]]:
    """Optimise the pixels of an image to have ``content``'s content and ``style``'s style.

    Minimises ``content_weight * content_loss + style_weight * style_loss``, the losses of
    :mod:`kbook.scratch.style` summed over the extractor's content layers and averaged over its
    style layers (weight 1/L each). The default weights give content_weight / style_weight =
    1e-3, numerically one of the paper's ratios, but those went with the paper's network, whose
    weights were rescaled to a mean activation of 1 per filter, and its input scale: the balance
    depends on the scale of the network's features, so tune the ratio for the extractor in use.
    The images need not have the same size: a Gram matrix does not depend on it. ``optimizer`` is
    ``"adam"`` (default lr 0.02, one gradient per step) or ``"lbfgs"`` (the paper's choice;
    default lr 1, strong-Wolfe line search, a few gradients per step). ``init`` is ``"content"``
    (start from the photograph, the faster choice) or ``"noise"`` (uniform noise from
    ``generator``, as in the paper). After each step the pixels are clipped to [0, 1]. Losses are
    computed in float32 even when the caller runs under autocast.

    Returns the image, shaped like ``content``, and the history: lists ``"total"``,
    ``"content"`` and ``"style"`` of length ``steps + 1``, entry k being the losses of the
    image after k steps.
    """
    content_batch, style_batch = _as_image_batch("content", content), _as_image_batch("style", style)
    if steps < 0 or content_weight < 0 or style_weight < 0:
        raise ValueError(f"steps and the loss weights must be non-negative, got steps={steps}, "
                         f"content_weight={content_weight}, style_weight={style_weight}")
    if optimizer not in ("adam", "lbfgs") or init not in ("content", "noise"):
        raise ValueError(f"expected optimizer 'adam' or 'lbfgs' and init 'content' or 'noise', got "
                         f"{optimizer!r} and {init!r}")
    if extractor is None:
        extractor = FeatureExtractor().to(content.device)

    def float32() -> torch.autocast:  # the losses are computed in float32, even under autocast
        return torch.autocast(device_type=content.device.type, enabled=False)

    with torch.no_grad():
        content_features = extractor(content_batch)
        content_targets = {name: content_features[name].float() for name in extractor.content_layers}
        style_features = extractor(style_batch)
        with float32():
            style_grams = [gram_matrix(style_features[name].float()) for name in extractor.style_layers]
    layer_weights = [1 / len(extractor.style_layers)] * len(extractor.style_layers)

    if init == "content":
        image = content_batch.detach().clone()
    else:
        image = torch.rand(content_batch.shape, generator=generator).to(content.device)

    def losses() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        features = extractor(image)
        with float32():
            c = sum(content_loss(features[name].float(), content_targets[name])
                    for name in extractor.content_layers)
            s = style_loss([features[name].float() for name in extractor.style_layers], style_grams,
                           layer_weights)
            return total_loss(c, s, content_weight, style_weight), c, s

    image.requires_grad_(True)
    if optimizer == "adam":
        opt = torch.optim.Adam([image], lr=0.02 if lr is None else lr)
    else:  # one L-BFGS iteration per step; its curvature memory carries over between steps
        opt = torch.optim.LBFGS([image], lr=1.0 if lr is None else lr, max_iter=1,
                                line_search_fn="strong_wolfe")

    history: dict[str, list[float]] = {"total": [], "content": [], "style": []}
    evaluations: list[tuple[float, float, float]] = []

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        total, c, s = losses()
        total.backward()
        evaluations.append((total.item(), c.item(), s.item()))
        return total

    def record(total: float, c: float, s: float) -> None:
        for key, value in zip(("total", "content", "style"), (total, c, s), strict=True):
            history[key].append(value)

    bar = tqdm(range(steps), desc=f"stylize ({extractor.source})", disable=not progress)
    for _ in bar:
        evaluations.clear()
        opt.step(closure)
        with torch.no_grad():
            image.clamp_(0, 1)
        record(*evaluations[0])  # the first evaluation is at the image before this step
        bar.set_postfix(loss=f"{evaluations[0][0]:.4g}")
    with torch.no_grad():
        record(*(value.item() for value in losses()))
    return image.detach().reshape(content.shape), history
