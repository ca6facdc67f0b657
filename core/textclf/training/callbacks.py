"""Lightning callbacks of a textclf run."""

from __future__ import annotations

import time
from typing import Any

import pytorch_lightning as pl
import torch

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


class RunRecorder(pl.Callback):
    """Keeps ``run.json`` honest, and on Ctrl-C saves ``last.ckpt`` so that no work is lost."""

    def __init__(self, run: RunDir) -> None:
        self.run = run

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                     exception: BaseException) -> None:
        interrupted = isinstance(exception, KeyboardInterrupt)
        if interrupted and trainer.world_size == 1 and not trainer.sanity_checking:
            trainer.save_checkpoint(self.run.last_checkpoint)
        if trainer.is_global_zero:
            self.run.set_state("interrupted" if interrupted else "failed",
                               epoch=trainer.current_epoch, step=trainer.global_step,
                               error=None if interrupted else f"{type(exception).__name__}: {exception}")


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
