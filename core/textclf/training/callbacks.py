"""Lightning callbacks of a textclf run."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.exceptions import SIGTERMException

from textclf.errors import TextclfError
from textclf.training.processes import tie_to_parent
from textclf.training.run import RunDir


def _sync(trainer: pl.Trainer) -> None:
    if trainer.strategy.root_device.type == "cuda":
        torch.cuda.synchronize(trainer.strategy.root_device)


class Throughput(pl.Callback):
    """Training samples and real (unpadded) tokens per second, validation excluded."""

    def __init__(self) -> None:
        self.samples = 0
        self.tokens = 0
        self.seconds = 0.0
        self._epoch_start: float | None = None
        self._validation = 0.0
        self._val_start = 0.0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        _sync(trainer)
        self._epoch_start, self._validation = time.perf_counter(), 0.0

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: Any, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        rows, tokens = pl_module.samples_in(batch)
        self.samples += rows * trainer.world_size
        self.tokens += tokens * trainer.world_size

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        _sync(trainer)
        self._val_start = time.perf_counter()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._validation += time.perf_counter() - self._val_start

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._epoch_start is not None:
            _sync(trainer)
            self.seconds += time.perf_counter() - self._epoch_start - self._validation
            self._epoch_start = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(trainer.strategy.root_device)
        self._device = trainer.strategy.root_device

    def report(self) -> dict[str, float]:
        seconds = max(self.seconds, 1e-9)
        report = {"train_seconds": round(self.seconds, 3),
                  "train_samples_per_second": round(self.samples / seconds, 2),
                  "train_tokens_per_second": round(self.tokens / seconds, 1)}
        device = getattr(self, "_device", None)
        if device is not None and device.type == "cuda":
            report["peak_gpu_memory_gb"] = round(torch.cuda.max_memory_allocated(device) / 1e9, 2)
        return report


class LastValidation(pl.Callback):
    """What the fit's last validation measured, and whether it made the best checkpoint.

    When it did and no optimizer step came after it, the model in memory *is* the best
    checkpoint and its validation metrics are known: the evaluation after training need not
    load that checkpoint and score the validation split again (``best_is_current``)."""

    def __init__(self) -> None:
        self.step: int | None = None
        self.metrics: dict[str, float] = {}
        self._best_before: float | None = None

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._best_before = _best_score(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Runs before ModelCheckpoint's own on_validation_end (Lightning puts checkpointing last).
        if not trainer.sanity_checking:
            self.step = trainer.global_step
            self.metrics = {key: float(value) for key, value in trainer.callback_metrics.items()
                            if key.startswith("val/")}

    def best_is_current(self, trainer: pl.Trainer) -> dict[str, float] | None:
        """The last validation's ``val/`` metrics if the best checkpoint was saved by it and the
        weights have not changed since; else None (the best must be loaded and scored)."""
        best = _best_score(trainer)
        if self.step is None or self.step != trainer.global_step or not self.metrics or best is None:
            return None
        # ModelCheckpoint replaces its best only on a strict improvement: a changed score means
        # the last validation saved it.
        return dict(self.metrics) if self._best_before is None or best != self._best_before else None


def _best_score(trainer: pl.Trainer) -> float | None:
    checkpoint = trainer.checkpoint_callback
    score = getattr(checkpoint, "best_model_score", None)
    return None if score is None or not getattr(checkpoint, "best_model_path", "") else float(score)


class RunRecorder(pl.Callback):
    """Keeps ``run.json`` honest, and makes a stopped run resumable exactly.

    Ctrl-C, SIGTERM (what cluster schedulers and ``docker stop`` send) and SIGUSR1 (SLURM's
    pre-emption warning) stop training at the end of the next optimizer step: ``last.ckpt`` is
    saved there, as Lightning saves a checkpoint after a training batch, with the random number
    generators as they were (dropout draws them). A resumed run then trains on the same batches
    with the same randomness and ends with the weights an uninterrupted run would have. A second
    Ctrl-C stops at once; the checkpoint is still saved, unless gradients were being accumulated
    (they are in no checkpoint), when the previous ``last.ckpt`` stays the one to resume from.
    Signals are handled so only in a single-process run: with several processes a signal reaches
    each at a different batch, and Lightning's own handling applies.
    """

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGUSR1") if hasattr(signal, name))

    def __init__(self, run: RunDir) -> None:
        self.run = run
        #: The signal that asked training to stop, once one has.
        self.received: int | None = None
        self._rng: dict[str, Any] | None = None
        self._restore_rng: dict[str, Any] | None = None
        self._handlers: dict[int, Any] = {}
        self._saved_stop = False
        self._saving_mid_batch = False

    # -- signals -------------------------------------------------------------------------------
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # After Lightning has installed its SIGTERM handler: this one stands in for it while training.
        if trainer.world_size == 1 and threading.current_thread() is threading.main_thread():
            self._handlers = {signum: signal.signal(signum, self._receive) for signum in self.SIGNALS}

    def _receive(self, signum: int, frame: Any) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # asked twice: stop now
        self.received = signum

    def _restore_handlers(self) -> None:
        for signum, handler in self._handlers.items():
            signal.signal(signum, handler)
        self._handlers = {}

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._restore_handlers()

    # -- the state a resume needs --------------------------------------------------------------
    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        self._rng = rng_state()
        stepped = (batch_idx + 1) % trainer.accumulate_grad_batches == 0 or \
            batch_idx + 1 == trainer.num_training_batches
        if self.received is not None and stepped:
            trainer.save_checkpoint(self.run.last_checkpoint)
            self._saved_stop = True
            raise KeyboardInterrupt  # Lightning's way out: on_exception, then its teardown

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self._rng} if self._rng is not None else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # Restored just before the first batch trains: what runs before it (the sanity check,
        # Lightning's set-up) must not draw from the generators the checkpoint holds.
        self._restore_rng = state_dict.get("rng")

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if self._restore_rng is not None:
            set_rng_state(self._restore_rng)
            self._restore_rng = None

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           checkpoint: dict[str, Any]) -> None:
        if self._saving_mid_batch:
            # Lightning counts a checkpoint as taken after a batch ended and, when restoring,
            # counts that batch's step for its logs; taken mid-batch, that step was counted already.
            epoch_loop = checkpoint["loops"]["fit_loop"]["epoch_loop.state_dict"]
            epoch_loop["_batches_that_stepped"] -= 1

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                     exception: BaseException) -> None:
        self._restore_handlers()
        stopped = isinstance(exception, (KeyboardInterrupt, SIGTERMException))
        problem = None if stopped else f"{type(exception).__name__}: {exception}"
        if stopped and not self._saved_stop and trainer.world_size == 1 and not trainer.sanity_checking \
                and _between_steps(trainer):
            self._saving_mid_batch = True
            try:
                trainer.save_checkpoint(self.run.last_checkpoint)
            except (OSError, TextclfError) as exc:  # a full disk: the previous last.ckpt stays
                stopped, problem = False, str(exc)
            finally:
                self._saving_mid_batch = False
        if trainer.is_global_zero:
            self.run.set_state("interrupted" if stopped else "failed", epoch=trainer.current_epoch,
                               step=trainer.global_step, error=problem)


def _between_steps(trainer: pl.Trainer) -> bool:
    """Whether every completed batch of this epoch has been through an optimizer step."""
    completed = trainer.fit_loop.epoch_loop.batch_progress.current.completed
    return completed % trainer.accumulate_grad_batches == 0


def rng_state() -> dict[str, Any]:
    """Every random number generator training may draw from, in a form checkpoints can hold."""
    kind, keys, position, has_gauss, gauss = np.random.get_state(legacy=True)
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate(),
                             "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), position,
                                       has_gauss, gauss]}
    if torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    kind, keys, position, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class TiedToParent(pl.Callback):
    """Ties each process of a run to the one that started it (see ``textclf.training.processes``).

    Lightning's spawned workers unpickle their trainer's callbacks before anything else of the
    run; a copy of the command has done it already, as ``textclf`` started."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        tie_to_parent()

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        tie_to_parent()


class EpochReport(pl.Callback):
    """One line per epoch with its metrics, for logs and terminals without a progress bar."""

    def __init__(self, echo: Any) -> None:
        self.echo = echo
        self._start = time.perf_counter()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        metrics = trainer.callback_metrics
        shown = [f"{name} {float(metrics[key]):.4f}" for name, key in (
            ("train/loss", "train/loss_epoch"), ("train/acc", "train/acc"),
            ("val/loss", "val/loss"), ("val/acc", "val/acc"), ("val/f1", "val/f1"))
            if key in metrics]
        total = f"/{trainer.max_epochs}" if trainer.max_epochs and trainer.max_epochs > 0 else ""
        self.echo(f"epoch {trainer.current_epoch + 1}{total}  step {trainer.global_step}  "
                  + "  ".join(shown) + f"  ({time.perf_counter() - self._start:.1f} s)")


#: For tests of interrupted runs: ``N`` makes a run send itself SIGINT (as Ctrl-C would) in its
#: N-th training batch, ``N:SIGTERM`` / ``N:SIGUSR1`` another signal, ``N:raise`` raises
#: KeyboardInterrupt there (what a second Ctrl-C does). Counted per process, from its start.
INTERRUPT_ENV = "TEXTCLF_TEST_INTERRUPT_AFTER"


class SelfInterrupt(pl.Callback):
    """Interrupts the run as ``INTERRUPT_ENV`` says, whatever its components."""

    def __init__(self, setting: str) -> None:
        after, _, how = setting.partition(":")
        how = how or "SIGINT"
        if not after.isdigit() or int(after) < 1 or how not in ("raise", "SIGINT", "SIGTERM", "SIGUSR1"):
            raise TextclfError(f"{INTERRUPT_ENV}={setting}: expected N (a training batch, from 1), "
                               f"N:SIGTERM, N:SIGUSR1 or N:raise; unset it for a normal run")
        self.after, self.how, self.batches = int(after), how, 0

    @classmethod
    def from_environment(cls) -> list[pl.Callback]:
        setting = os.environ.get(INTERRUPT_ENV, "")
        return [cls(setting)] if setting else []

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                             batch: Any, batch_idx: int) -> None:
        self.batches += 1
        if self.batches == self.after:
            if self.how == "raise":
                raise KeyboardInterrupt
            os.kill(os.getpid(), getattr(signal, self.how))
