"""kbook.train.fit and kbook.checkpoint: learning, exact resume, safe checkpoints."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch
from torch import nn

import kbook
from kbook import checkpoint
from kbook.atomic import atomic_write
from kbook.checkpoint import CheckpointError
from kbook.models.dqn import ReplayBuffer

TRUE_W = torch.tensor([[2.0, -1.0, 0.5]])


def make_model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Dropout(0.1), nn.Linear(16, 1))


def get_batch(step: int):
    x = torch.randn(32, 3)  # drawn from the global generator: resume must restore it
    return x, x @ TRUE_W.T + 0.01 * torch.randn(32, 1)


def mse(model, batch):
    x, y = batch
    return nn.functional.mse_loss(model(x), y)


def run(steps, path=None, seed=0, every=0, **kw):
    model = make_model(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.5)  # fires before and after a resume
    history = kbook.fit(model, opt, get_batch, mse, steps, device="cpu", scheduler=sched,
                        checkpoint_path=path, checkpoint_every=every, progress=False, **kw)
    return model, opt, history


def test_float64_losses_are_recorded_exactly():
    model = nn.Linear(1, 1).double()
    with torch.no_grad():
        model.weight.fill_(1.0)
        model.bias.fill_(1e-12)  # 1 + 1e-12 rounds to exactly 1.0 in float32
    history = kbook.fit(model, torch.optim.SGD(model.parameters(), lr=0.0),
                        lambda step: torch.ones(1, 1, dtype=torch.float64),
                        lambda m, x: m(x).sum(), 3, device="cpu", progress=False)
    assert history.loss == [1.0 + 1e-12] * 3


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    path = tmp_path / "ckpt.pt"

    def poisoned_batch(step):
        x, y = get_batch(step)
        return (x * float("nan"), y) if step == 7 else (x, y)  # batch 7 is optimizer step 8

    model = make_model(0)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-2)
    with pytest.raises(FloatingPointError, match=r"loss was nan at step 8.*still holds"):
        kbook.fit(model, opt, poisoned_batch, mse, 20, device="cpu", checkpoint_path=path,
                  checkpoint_every=5, progress=False)
    state = checkpoint.load(path)
    assert state["step"] == 5
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_loss_falls_and_evaluation_is_recorded():
    x_val, y_val = get_batch(0)

    modes = []

    def evaluate(model):
        modes.append(model.training)
        return {"val_loss": nn.functional.mse_loss(model(x_val), y_val).item()}

    kbook.seed_everything(0)
    model, _, history = run(60, evaluate=evaluate, eval_every=20)
    assert modes == [False] * 3 and model.training  # evaluated in eval mode (no dropout), then back
    assert len(history.loss) == 60 and history.step == list(range(1, 61))
    assert sum(history.loss[-10:]) / 10 < 0.2 * sum(history.loss[:10]) / 10
    assert history.eval_step == [20, 40, 60]
    assert history.metrics["val_loss"][-1] < history.metrics["val_loss"][0]


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path):
    kbook.seed_everything(1)
    full_model, full_opt, full = run(20)

    kbook.seed_everything(1)
    path = tmp_path / "ckpt.pt"
    run(10, path=path, every=5)
    torch.rand(1000)  # disturb every generator between the two sessions
    kbook.seed_everything(999)
    resumed_model, resumed_opt, resumed = run(20, path=path, seed=42)  # different init: must be overwritten

    assert resumed_opt.param_groups[0]["lr"] == full_opt.param_groups[0]["lr"] == 3e-2 * 0.5 ** (20 // 7)

    assert resumed.loss == full.loss  # bit-for-bit identical, not merely close
    assert resumed.step == full.step
    for p, q in zip(full_model.parameters(), resumed_model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_resume_is_exact_on_each_device(tmp_path, dev):
    def batch_on_device(step):  # drawn from the device's own generator: resume must restore it too
        x = torch.randn(32, 3, device=dev)
        return x, x @ TRUE_W.T.to(dev) + 0.01 * torch.randn(32, 1, device=dev)

    def train(steps, path=None, every=0):
        model = make_model(0)
        history = kbook.fit(model, torch.optim.AdamW(model.parameters(), lr=3e-2), batch_on_device, mse,
                            steps, device=dev, checkpoint_path=path, checkpoint_every=every, progress=False)
        return model, history

    kbook.seed_everything(1)
    full_model, full = train(12)
    kbook.seed_everything(1)
    train(6, tmp_path / "ckpt.pt", every=3)
    torch.rand(100, device=dev)
    kbook.seed_everything(9)
    resumed_model, resumed = train(12, tmp_path / "ckpt.pt")
    assert resumed.loss == full.loss
    for p, q in zip(full_model.parameters(), resumed_model.parameters(), strict=True):
        assert p.device.type == torch.device(dev).type and torch.equal(p, q)


def test_resume_after_a_crash_between_checkpoints_is_exact(tmp_path):
    kbook.seed_everything(3)
    full_model, _, full = run(14)

    def crashing_batch(step):
        if step == 7:
            raise KeyboardInterrupt  # the kernel dies after step 7: the last checkpoint is at step 5
        return get_batch(step)

    kbook.seed_everything(3)
    path = tmp_path / "ckpt.pt"
    model = make_model(0)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.5)
    with pytest.raises(KeyboardInterrupt):
        kbook.fit(model, opt, crashing_batch, mse, 14, device="cpu", scheduler=sched,
                  checkpoint_path=path, checkpoint_every=5, progress=False)
    assert checkpoint.load(path)["step"] == 5
    resumed_model, _, resumed = run(14, path=path, every=5)
    assert resumed.loss == full.loss and resumed.step == full.step
    for p, q in zip(full_model.parameters(), resumed_model.parameters(), strict=True):
        assert torch.equal(p, q)


def test_evaluation_is_after_the_last_step_and_does_not_change_training():
    def evaluate(model):  # draws random numbers, as a random validation batch would
        return {"noise": torch.rand(()).item()}

    kbook.seed_everything(4)
    _, _, plain = run(7)
    kbook.seed_everything(4)
    _, _, evaluated = run(7, evaluate=evaluate, eval_every=5)
    assert evaluated.eval_step == [5, 7]
    assert evaluated.loss == plain.loss


def test_a_foreign_checkpoint_is_refused_and_the_model_kept(tmp_path):
    path = tmp_path / "ckpt.pt"
    run(5, path=path)  # AdamW, StepLR
    model = make_model(1)
    before = [p.detach().clone() for p in model.parameters()]
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(CheckpointError, match="written with the AdamW optimizer, not SGD"):
        kbook.fit(model, sgd, get_batch, mse, 10, device="cpu", checkpoint_path=path, progress=False)
    adamw = torch.optim.AdamW(model.parameters(), lr=3e-2)
    with pytest.raises(CheckpointError, match="with a learning-rate scheduler, and this call passes none"):
        kbook.fit(model, adamw, get_batch, mse, 10, device="cpu", checkpoint_path=path, progress=False)
    other = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Dropout(0.1), nn.Linear(8, 1))
    opt = torch.optim.AdamW(other.parameters(), lr=3e-2)
    kept = [p.detach().clone() for p in other.parameters()]
    with pytest.raises(CheckpointError, match="(?s)does not fit this model and optimizer.*left as they were"):
        kbook.fit(other, opt, get_batch, mse, 10, device="cpu", progress=False, checkpoint_path=path,
                  scheduler=torch.optim.lr_scheduler.StepLR(opt, step_size=7))
    assert all(torch.equal(p, q) for p, q in zip(other.parameters(), kept, strict=True))
    torch.save(model.state_dict(), tmp_path / "weights.pt")  # a plain state_dict, not a checkpoint
    with pytest.raises(CheckpointError, match="not a checkpoint written by kbook.fit"):
        kbook.fit(model, adamw, get_batch, mse, 10, device="cpu", checkpoint_path=tmp_path / "weights.pt",
                  progress=False)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before, strict=True))


def test_a_loss_that_is_not_a_scalar_is_an_error():
    model = make_model(0)
    with pytest.raises(ValueError, match=r"scalar \(0-d\) tensor, got shape \(1,\)"):
        kbook.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), get_batch,
                  lambda m, b: mse(m, b).reshape(1), 3, device="cpu", progress=False)


def test_a_checkpoint_beyond_the_requested_steps_is_an_error(tmp_path):
    path = tmp_path / "ckpt.pt"
    run(10, path=path)
    with pytest.raises(ValueError, match=r"at step 10, beyond steps=5: pass steps >= 10"):
        run(5, path=path)
    assert len(run(10, path=path)[2].loss) == 10  # exactly at its end: nothing left to do


def test_history_holds_every_step_loss_in_order():
    seen = []

    def recording_mse(model, batch):
        loss = mse(model, batch)
        seen.append(loss.item())
        return loss

    steps = 2 * kbook.train.LOSS_COPY_EVERY + 7  # losses are copied in groups: end on a partial one
    model = make_model(0)
    opt = torch.optim.SGD(model.parameters(), lr=1e-2)
    history = kbook.fit(model, opt, get_batch, recording_mse, steps, device="cpu", progress=False)
    assert history.loss == seen and history.step == list(range(1, steps + 1))


def test_truncated_checkpoint_gives_a_clear_error(tmp_path):
    path = tmp_path / "ckpt.pt"
    kbook.seed_everything(0)
    run(3, path=path)
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match=r"truncated, corrupt.*Delete it"):
        run(6, path=path)


def test_checkpoint_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    checkpoint.save(path, {"x": torch.arange(3)})

    def crash(obj, f, *args, **kwargs):  # the power fails after part of the file was written
        if isinstance(f, (str, os.PathLike)):
            f = open(f, "wb")  # a write cut off mid-way
        f.write(b"half a checkpoint")
        f.flush()
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(path, {"x": torch.arange(5)})
    assert torch.equal(checkpoint.load(path)["x"], torch.arange(3))  # old checkpoint intact
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # no temp file left


def test_checkpoint_gets_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = checkpoint.save(tmp_path / "ckpt.pt", {"x": torch.arange(3)})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644  # not 0o600, as a bare temp file would be


class Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_load_refuses_arbitrary_objects(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"x": Payload()}, path)  # a real torch file: weights_only=False would run the payload
    with pytest.raises(CheckpointError):
        checkpoint.load(path)
    assert "this must never run" not in capsys.readouterr().out


def test_rng_state_round_trips_through_a_checkpoint(tmp_path):
    kbook.seed_everything(3)
    checkpoint.save(tmp_path / "rng.pt", {"rng": checkpoint.rng_state()})
    first = (random.random(), float(np.random.rand()), torch.rand(2).tolist())
    checkpoint.set_rng_state(checkpoint.load(tmp_path / "rng.pt")["rng"])
    assert (random.random(), float(np.random.rand()), torch.rand(2).tolist()) == first


def test_rng_state_from_more_gpus_restores_the_gpus_there_are(monkeypatch):
    state = {**checkpoint.rng_state(), "cuda": ["gpu0", "gpu1"], "mps": None}  # saved on two GPUs
    restored = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, device: restored.append((state, device)))
    checkpoint.set_rng_state(state)
    assert restored == [("gpu0", 0)]


def test_missing_checkpoint_and_bad_steps(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        checkpoint.load(tmp_path / "nothing.pt")
    with pytest.raises(ValueError, match="steps must be >= 0"):
        run(-1)


def test_gradient_clipping_bounds_the_update():
    model = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(model.weight)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)

    def huge(model, _):
        return 1000.0 * model(torch.ones(1, 1)).sum()

    kbook.fit(model, opt, lambda step: None, huge, 1, grad_clip=0.5, device="cpu", progress=False)
    assert model.weight.item() == pytest.approx(-0.5)


def test_compile_is_skipped_off_cuda(capsys):
    model = nn.Linear(2, 2)
    assert kbook.train.maybe_compile(model, torch.device("cpu")) is model
    assert "skipped" in capsys.readouterr().out


def test_compile_on_cuda(monkeypatch, capsys):
    model = nn.Linear(2, 2)
    compiled = object()
    monkeypatch.setattr(torch, "compile", lambda m, *args, **kwargs: compiled if m is model else None)
    assert kbook.train.maybe_compile(model, torch.device("cuda")) is compiled
    assert "skipped" not in capsys.readouterr().out


def test_to_device_handles_nested_batches():
    batch = {"x": torch.ones(1), "pair": (torch.zeros(1), [torch.ones(2)]), "n": 3}
    moved = kbook.train.to_device(batch, torch.device("meta"))  # a device other than the batch's
    assert moved["n"] == 3 and moved["x"].is_meta and moved["pair"][0].is_meta and moved["pair"][1][0].is_meta
    assert type(moved["pair"]) is tuple and type(moved["pair"][1]) is list


def test_to_device_keeps_named_tuples():
    buffer = ReplayBuffer(capacity=8, obs_size=4)
    for i in range(4):
        buffer.add(torch.full((4,), float(i)), i % 2, 1.0, torch.zeros(4), False)
    batch = buffer.sample(3, generator=torch.Generator().manual_seed(0))
    moved = kbook.train.to_device(batch, torch.device("meta"))
    assert type(moved) is type(batch) and moved._fields == batch._fields
    assert all(t.is_meta and t.shape == b.shape for t, b in zip(moved, batch, strict=True))


def linear_probe(x=(3.0, 4.0)):
    """A bias-free linear model at zero whose loss w . x has the gradient x."""
    model = nn.Linear(2, 1, bias=False)
    nn.init.zeros_(model.weight)
    return model, (lambda step: torch.tensor([list(x)])), (lambda m, batch: m(batch).sum())


def test_gradients_are_clipped_by_their_total_norm():
    model, batch, loss = linear_probe()  # gradient (3, 4), norm 5
    kbook.fit(model, torch.optim.SGD(model.parameters(), lr=1.0), batch, loss, 1, grad_clip=1.0,
              device="cpu", progress=False)
    torch.testing.assert_close(model.weight, torch.tensor([[-0.6, -0.8]]))  # same direction, norm 1


def test_the_scheduler_steps_after_the_optimizer():
    model, batch, loss = linear_probe()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 0.0 if epoch == 0 else 1.0)
    kbook.fit(model, opt, batch, loss, 1, scheduler=sched, device="cpu", progress=False)
    assert (model.weight == 0).all(), "step 1 must use the schedule's first learning rate (0)"
    assert opt.param_groups[0]["lr"] == 1.0


def test_evaluation_runs_without_autograd():
    model, batch, loss = linear_probe()
    grad_modes = []

    def evaluate(m):
        grad_modes.append(torch.is_grad_enabled())
        return {"w": m.weight.sum().item()}

    kbook.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), batch, loss, 4, evaluate=evaluate,
              eval_every=2, device="cpu", progress=False)
    assert grad_modes == [False, False]


def test_compile_true_trains_the_compiled_module(monkeypatch):
    model, batch, loss = linear_probe()
    wrapped = []

    def fake_compile(m, dev):
        wrapped.append(m)
        return lambda x: m(x) * 1.0  # stands in for torch.compile's wrapper

    monkeypatch.setattr(kbook.train, "maybe_compile", fake_compile)
    seen = []
    kbook.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), batch,
              lambda m, b: seen.append(m) or loss(m, b), 2, compile=True, device="cpu", progress=False)
    assert wrapped == [model] and all(m is not model for m in seen)


def test_atomic_write_syncs_every_byte_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: events.append(("fsync", os.fstat(fd).st_size))
                        or real_fsync(fd))
    monkeypatch.setattr(os, "replace", lambda a, b: events.append(("replace", os.stat(a).st_size))
                        or real_replace(a, b))
    with atomic_write(tmp_path / "file.bin") as f:
        f.write(b"x" * 100)  # a plain write stays in Python's buffer until flushed
    assert events == [("fsync", 100), ("replace", 100)]


def test_checkpoint_load_honours_map_location(tmp_path):
    path = checkpoint.save(tmp_path / "ckpt.pt", {"x": torch.arange(3)})
    assert checkpoint.load(path, map_location="meta")["x"].is_meta


def test_fit_trains_a_model_left_in_eval_mode_in_training_mode():
    model = make_model(0).eval()  # as a demo or an evaluation might leave it
    modes = []

    def loss_fn(m, batch):
        modes.append(m.training)
        return mse(m, batch)
    kbook.fit(model, torch.optim.SGD(model.parameters(), lr=0.01), get_batch, loss_fn, 3, device="cpu",
              progress=False)
    assert modes == [True] * 3  # dropout is on while it trains


def test_checkpoints_go_into_new_folders_and_are_synced_in_place(tmp_path, monkeypatch):
    synced, replaced = [], []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    monkeypatch.setattr(os, "replace", lambda a, b: replaced.append((a, b)) or real_replace(a, b))
    path = checkpoint.save(tmp_path / "runs" / "new" / "ckpt.pt", {"x": torch.arange(2)})
    assert torch.equal(checkpoint.load(path)["x"], torch.arange(2))
    assert len(synced) == 1  # flushed to disk before the rename
    (tmp, final), = replaced
    assert os.path.dirname(tmp) == os.path.dirname(final)  # a rename within one folder is atomic
