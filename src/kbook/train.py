"""One small training loop for every notebook in the book.

You supply what is specific to a lesson (a model, an optimizer, how to get batch number
``step``, how to compute the loss) and ``fit`` does the rest: device moves, bf16 autocast on
CUDA, gradient clipping, periodic evaluation, a progress bar, a history for plotting, and
checkpoints that resume exactly where an uninterrupted run would be. A NaN or infinite loss
stops training with an error before it can reach a checkpoint.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from tqdm.auto import tqdm

from . import checkpoint
from .checkpoint import CheckpointError
from .device import autocast
from .device import device as default_device

# Reading a loss with .item() makes the CPU wait until the GPU has finished that step, so the
# next step cannot be queued meanwhile. fit keeps the losses on the device and copies them to
# the history in groups of this many steps (and before every evaluation and checkpoint).
LOSS_COPY_EVERY = 50


@dataclass
class History:
    """What happened during training, ready to plot."""

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)

    def log_eval(self, step: int, metrics: dict[str, float]) -> None:
        """Record the metrics measured after optimizer step ``step``."""
        self.eval_step.append(step)
        for name, value in metrics.items():
            self.metrics.setdefault(name, []).append(float(value))


def to_device(batch: Any, dev: torch.device) -> Any:
    """Move every tensor in a (possibly nested) tuple, named tuple, list or dict to ``dev``.

    A plain (blocking) copy: from unpinned memory ``non_blocking`` gains nothing on CUDA, and on
    MPS a non-blocking copy whose source is freed early can silently corrupt the data
    (pytorch/pytorch#189690).
    """
    if isinstance(batch, torch.Tensor):
        return batch.to(dev)
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # a named tuple takes its fields one by one
        return type(batch)(*(to_device(b, dev) for b in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(b, dev) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, dev) for k, v in batch.items()}
    return batch


def maybe_compile(model: torch.nn.Module, dev: torch.device) -> torch.nn.Module:
    """``torch.compile`` the model on CUDA; elsewhere return it unchanged (compiling a small
    model on a CPU or MPS costs more time than it saves, and is not supported everywhere)."""
    if dev.type != "cuda" or not hasattr(torch, "compile"):
        print(f"torch.compile skipped on {dev.type}: running the model eagerly")
        return model
    return torch.compile(model)


def fit(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    get_batch: Callable[[int], Any],
    loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor],
    steps: int,
    *,
    evaluate: Callable[[torch.nn.Module], dict[str, float]] | None = None,
    eval_every: int = 0,
    grad_clip: float | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    device: torch.device | str | None = None,
    compile: bool = False,
    checkpoint_path: str | os.PathLike | None = None,
    checkpoint_every: int = 0,
    progress: bool = True,
) -> History:
    """Train ``model`` for ``steps`` optimizer steps and return its :class:`History`.

    ``get_batch(step)`` returns batch number ``step`` (tensors are moved to the device);
    ``loss_fn(model, batch)`` returns a scalar loss. ``evaluate(model)`` is called under
    ``torch.no_grad()`` in eval mode every ``eval_every`` steps and after the last one.
    With ``checkpoint_path``, state is saved every ``checkpoint_every`` steps and at the end;
    if the file already exists, training resumes from it. A loss that is NaN or infinite raises
    FloatingPointError (checked every ``LOSS_COPY_EVERY`` steps and before each save).
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    dev = torch.device(device) if device is not None else default_device()
    model.to(dev)
    forward = maybe_compile(model, dev) if compile else model
    history, start = History(), 0
    if checkpoint_path is not None and os.path.exists(checkpoint_path):
        start, history = _restore(checkpoint_path, model, optimizer, scheduler)
        if start > steps:
            raise ValueError(f"the checkpoint {checkpoint_path} is at step {start}, beyond steps={steps}: "
                             f"pass steps >= {start} to continue it, or delete the file to train afresh")

    def run_eval(step: int) -> None:
        rng = checkpoint.rng_state()  # an evaluation that draws random numbers must not change training
        model.eval()
        try:
            with torch.no_grad(), autocast(dev):
                history.log_eval(step, evaluate(forward))
        finally:
            checkpoint.set_rng_state(rng)
            model.train()

    model.train()
    pending: list[torch.Tensor] = []  # losses still on the device, copied to the host in groups
    bar = tqdm(range(start, steps), initial=start, total=steps, disable=not progress,
               desc="training", mininterval=1.0)
    for step in bar:
        batch = to_device(get_batch(step), dev)
        with autocast(dev):
            loss = loss_fn(forward, batch)
        if loss.ndim != 0:
            raise ValueError(f"loss_fn must return a scalar (0-d) tensor, got shape {tuple(loss.shape)}: "
                             "reduce it, for example with .mean()")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        done = step + 1
        history.step.append(done)
        pending.append(loss.detach())
        evaluating = evaluate is not None and (done == steps or (eval_every and done % eval_every == 0))
        saving = checkpoint_path is not None and (
            done == steps or (checkpoint_every and done % checkpoint_every == 0))
        if evaluating or saving or done == steps or done % LOSS_COPY_EVERY == 0:
            losses = torch.stack(pending).cpu().double().tolist()  # float64 on the CPU: MPS has none
            _stop_if_not_finite(losses, first_step=done - len(losses) + 1, checkpoint_path=checkpoint_path)
            history.loss.extend(losses)
            pending.clear()
            bar.set_postfix(loss=f"{history.loss[-1]:.4f}", refresh=False)
        if evaluating:
            run_eval(done)
        if saving:
            _save(checkpoint_path, done, history, model, optimizer, scheduler)
    bar.close()
    return history


def _stop_if_not_finite(losses: list[float], first_step: int, checkpoint_path) -> None:
    """Raise FloatingPointError at the first NaN or infinite loss, before it can be checkpointed."""
    for i, value in enumerate(losses):
        if not math.isfinite(value):
            kept = (f" The checkpoint {checkpoint_path} still holds the last state saved before it."
                    if checkpoint_path is not None and os.path.exists(checkpoint_path) else "")
            raise FloatingPointError(
                f"the loss was {value} at step {first_step + i}, so training stopped: the weights "
                "are no longer usable. Lower the learning rate, clip the gradients (grad_clip=1.0), "
                f"or check that batch for NaN or infinite inputs and fully ignored targets.{kept}")


def _save(path, step, history, model, optimizer, scheduler) -> None:
    checkpoint.save(path, {
        "step": step,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "optimizer_class": type(optimizer).__name__,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "history": asdict(history),
        "rng": checkpoint.rng_state(),
    })


def _restore(path, model, optimizer, scheduler) -> tuple[int, History]:
    """Load a checkpoint of :func:`fit` into the objects, or raise CheckpointError and leave them as
    they were."""
    state = checkpoint.load(path)  # on the CPU: RNG states must stay there
    fix = "delete it to train afresh, or pass another checkpoint_path"
    missing = [k for k in ("step", "model", "optimizer", "scheduler", "history", "rng")
               if not isinstance(state, dict) or k not in state]
    if missing:
        raise CheckpointError(f"{path} is not a checkpoint written by kbook.fit (it lacks {missing}): {fix}")
    saved_class = state.get("optimizer_class")  # absent from older checkpoints
    if saved_class is not None and saved_class != type(optimizer).__name__:
        raise CheckpointError(f"{path} was written with the {saved_class} optimizer, not "
                              f"{type(optimizer).__name__}: {fix}")
    if (state["scheduler"] is None) != (scheduler is None):
        had = "with" if state["scheduler"] is not None else "without"
        raise CheckpointError(f"{path} was written {had} a learning-rate scheduler, and this call passes "
                              f"{'none' if scheduler is None else 'one'}: pass the same setup, or {fix}")
    objects = [(model, state["model"]), (optimizer, state["optimizer"])]
    if scheduler is not None:
        objects.append((scheduler, state["scheduler"]))
    backups = [copy.deepcopy(obj.state_dict()) for obj, _ in objects]
    try:
        for obj, saved in objects:
            obj.load_state_dict(saved)
    except (RuntimeError, ValueError, KeyError) as exc:
        for (obj, _), backup in zip(objects, backups, strict=True):
            obj.load_state_dict(backup)
        raise CheckpointError(f"{path} does not fit this model and optimizer ({type(exc).__name__}: {exc}); "
                              f"they were left as they were: {fix}") from exc
    checkpoint.set_rng_state(state["rng"])
    print(f"resumed from {path} at step {state['step']}")
    return state["step"], History(**state["history"])
