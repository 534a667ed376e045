import pytest
import torch

import kbook


def test_argument_wins_over_environment(monkeypatch):
    monkeypatch.setenv("KBOOK_PROFILE", "gpu")
    assert kbook.profile("smoke") == "smoke"


def test_environment_used_when_no_argument(monkeypatch):
    monkeypatch.setenv("KBOOK_PROFILE", "cpu")
    assert kbook.profile() == "cpu"
    assert kbook.profile(None) == "cpu"


def test_automatic_follows_cuda(monkeypatch):
    monkeypatch.delenv("KBOOK_PROFILE", raising=False)
    monkeypatch.delenv("KBOOK_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert kbook.profile() == "gpu"
    monkeypatch.setenv("KBOOK_DEVICE", "cpu")  # a GPU machine told to use its CPU
    assert kbook.profile() == "cpu"
    monkeypatch.delenv("KBOOK_DEVICE")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert kbook.profile() == "cpu"


def test_an_apple_gpu_runs_the_cpu_profile(monkeypatch):
    # MPS is a GPU, but the gpu profile is sized for CUDA GPUs; a Mac gets the cpu profile
    monkeypatch.delenv("KBOOK_PROFILE", raising=False)
    monkeypatch.delenv("KBOOK_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert kbook.device().type == "mps" and kbook.profile() == "cpu"


def test_environment_value_may_carry_spaces(monkeypatch):
    monkeypatch.setenv("KBOOK_PROFILE", " gpu\n")
    assert kbook.profile() == "gpu"


@pytest.mark.parametrize("bad", ["fast", "GPU", ""])
def test_bad_argument_lists_valid_values(bad):
    with pytest.raises(ValueError, match="'smoke', 'cpu', 'gpu'"):
        kbook.profile(bad)


def test_bad_environment_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("KBOOK_PROFILE", "tiny")
    with pytest.raises(ValueError, match="KBOOK_PROFILE.*'smoke', 'cpu', 'gpu'"):
        kbook.profile()


def test_pick_returns_the_profile_config():
    configs = {"smoke": 1, "cpu": 2, "gpu": 3}
    assert [kbook.pick(configs, p) for p in kbook.PROFILES] == [1, 2, 3]


def test_pick_needs_every_profile():
    with pytest.raises(KeyError, match="gpu"):
        kbook.pick({"smoke": 1, "cpu": 2}, "cpu")
