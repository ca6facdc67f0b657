"""A Lightning Trainer configured from the run's trainer options."""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import sys
import warnings
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint, RichProgressBar

from textclf.training.callbacks import EpochReport, RunRecorder
from textclf.training.run import RunDir
from textclf.training.trainer_options import PRECISION_AUTO, TrainerOptions

LOG_EVERY_N_STEPS = 50


def quiet_lightning() -> None:
    """Keep Lightning's informational chatter and known-harmless warnings off the terminal."""
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for message in (".*does not have many workers.*", ".*Checkpoint directory .* exists and is not empty.*",
                    ".*The number of training batches .* is smaller than the logging interval.*",
                    ".*that ended before the epoch ended.*", ".*isinstance.treespec, LeafSpec.*",
                    ".*Total length of .* across ranks is zero.*"):
        warnings.filterwarnings("ignore", message=message)


def resolve_precision(options: TrainerOptions) -> TrainerOptions:
    """``precision: auto`` made concrete (a run records what it used): bf16-mixed on a GPU that
    supports it, 32-true anywhere else."""
    if options.precision != PRECISION_AUTO:
        return options
    import torch

    gpu = options.accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    precision = "bf16-mixed" if gpu and torch.cuda.is_bf16_supported() else "32-true"
    return dataclasses.replace(options, precision=precision)


def show_progress(setting: bool | None) -> bool:
    return sys.stderr.isatty() if setting is None else setting


def build_trainer(options: TrainerOptions, *, run: RunDir | None = None, monitor: str | None = None,
                  monitor_mode: str = "max", progress: bool = False, echo: Any = print,
                  train_batches: int | None = None, callbacks: list[pl.Callback] | None = None) -> pl.Trainer:
    """A Trainer for fitting (with ``run``: checkpoints, logs, run records) or for evaluating,
    with ``callbacks`` of the caller's. ``options.precision`` must be resolved already
    (``resolve_precision``)."""
    quiet_lightning()
    callbacks = list(callbacks or [])
    if progress:
        callbacks.append(RichProgressBar(leave=True, console_kwargs={"stderr": True}))
    elif run is not None:
        callbacks.append(EpochReport(echo))
    loggers: list[Any] | bool = False
    if run is not None:
        callbacks += [
            ModelCheckpoint(dirpath=run.checkpoints, filename="best", monitor=monitor,
                            mode=monitor_mode, save_top_k=1 if monitor else 0, save_last=True,
                            auto_insert_metric_name=False, enable_version_counter=False),
            RunRecorder(run),
        ]
        if options.early_stopping and monitor:
            callbacks.append(EarlyStopping(monitor=monitor, mode=monitor_mode,
                                           patience=options.early_stopping))
        loggers = [pl.loggers.CSVLogger(run.path, name="logs", version="")]
        if importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX"):
            loggers.append(pl.loggers.TensorBoardLogger(run.path, name="logs", version="tensorboard"))
    log_every = LOG_EVERY_N_STEPS if not train_batches else max(1, min(LOG_EVERY_N_STEPS, train_batches))
    return pl.Trainer(
        max_epochs=options.max_epochs,
        max_steps=options.max_steps,
        accelerator=options.accelerator,
        devices=options.lightning_devices(),
        num_nodes=options.num_nodes,
        precision=options.precision,  # type: ignore[arg-type]  # Lightning checks the spelling
        strategy=options.strategy,
        accumulate_grad_batches=options.accumulate_grad_batches,
        gradient_clip_val=options.gradient_clip,
        val_check_interval=options.lightning_val_check_interval(),
        callbacks=callbacks,
        logger=loggers,
        enable_checkpointing=run is not None,
        enable_progress_bar=progress,
        enable_model_summary=False,
        log_every_n_steps=log_every,
        default_root_dir=run.path if run else None,
        use_distributed_sampler=False,  # our batch samplers shard batches across replicas
    )
