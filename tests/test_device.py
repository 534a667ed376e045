import contextlib
import random

import numpy as np
import pytest
import torch

import kbook


def test_cpu_when_no_accelerator(monkeypatch):
    monkeypatch.delenv("KBOOK_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert kbook.device() == torch.device("cpu")


def test_mps_before_cpu(monkeypatch):
    monkeypatch.delenv("KBOOK_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert kbook.device() == torch.device("mps")


def test_cuda_first(monkeypatch):
    monkeypatch.delenv("KBOOK_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert kbook.device() == torch.device("cuda")


def test_preference_and_environment_override(monkeypatch):
    monkeypatch.setenv("KBOOK_DEVICE", "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert kbook.device() == torch.device("cpu")
    assert kbook.device("meta") == torch.device("meta")


def test_a_forced_device_must_exist(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setenv("KBOOK_DEVICE", "cuda")
    with pytest.raises(ValueError, match="KBOOK_DEVICE='cuda': this machine has no CUDA device; unset it"):
        kbook.device()
    monkeypatch.setenv("KBOOK_DEVICE", "gpu")
    with pytest.raises(ValueError, match="KBOOK_DEVICE='gpu' is not a device name"):
        kbook.device()
    with pytest.raises(ValueError, match="prefer='mps': this machine has no MPS device"):
        kbook.device("mps")


def test_autocast_is_a_no_op_off_cuda():
    assert not kbook.bf16_supported("cpu")
    with kbook.autocast("cpu"):
        out = torch.ones(2, 2) @ torch.ones(2, 2)
    assert out.dtype == torch.float32


@pytest.mark.parametrize("capability,native", [((7, 5), False), ((8, 0), True), ((9, 0), True)])
def test_bf16_only_on_gpus_that_compute_in_it(monkeypatch, capability, native):
    # a T4 (7.5) can store bfloat16, so torch.cuda.is_bf16_supported() says True, but only emulates it
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.version, "hip", None)
    assert kbook.bf16_supported("cuda") is native
    assert not kbook.bf16_supported("cpu")


def test_bf16_on_rocm_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))
    monkeypatch.setattr(torch.version, "hip", "6.2")  # AMD's numbering says nothing about bfloat16
    assert kbook.bf16_supported("cuda")


@pytest.mark.parametrize("capability,expected", [((7, 5), []), ((8, 0), [("cuda", torch.bfloat16)])])
def test_autocast_on_cuda_is_bf16_exactly_where_supported(monkeypatch, capability, expected):
    made = []

    @contextlib.contextmanager
    def recording_autocast(device_type, dtype=None, **kwargs):  # records instead of touching a GPU
        made.append((device_type, dtype))
        yield

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch, "autocast", recording_autocast)
    with kbook.autocast("cuda"):
        pass
    assert made == expected


def test_seed_everything_repeats_all_generators():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()

    kbook.seed_everything(123)
    first = draw()
    kbook.seed_everything(123)
    assert draw() == first


@pytest.mark.parametrize("seed", [0, 1, 2**16 + 1, 2**40 + 5])
def test_seed_everything_seeds_each_generator_with_the_seed_itself(seed):
    kbook.seed_everything(seed)
    drawn = random.random(), np.random.rand(), torch.rand(1).item()
    assert drawn == (random.Random(seed).random(), np.random.RandomState(seed % 2**32).rand(),
                     torch.rand(1, generator=torch.Generator().manual_seed(seed)).item())


def test_no_bf16_and_no_error_on_a_machine_without_cuda(monkeypatch):
    def no_driver(*args, **kwargs):
        raise RuntimeError("Found no NVIDIA driver on your system")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "get_device_capability", no_driver)
    assert kbook.bf16_supported("cuda") is False
    with kbook.autocast("cuda"):  # a notebook written for a GPU still runs
        pass


def test_seed_must_be_a_non_negative_int():
    with pytest.raises(ValueError, match="non-negative int"):
        kbook.seed_everything(-1)
