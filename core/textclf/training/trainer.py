"""A Lightning Trainer configured from the run's trainer options."""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import logging
import os
import sys
import warnings
from typing import Any

import pytorch_lightning as pl
import torch
from lightning_fabric.loggers.csv_logs import _ExperimentWriter as _FabricExperimentWriter
from lightning_fabric.loggers.logger import rank_zero_experiment
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint, RichProgressBar
from pytorch_lightning.loggers.csv_logs import ExperimentWriter

from textclf.errors import OptionError
from textclf.training.callbacks import EpochReport, SelfInterrupt, TiedToParent
from textclf.training.checkpoints import AtomicCheckpointIO
from textclf.training.run import RunDir
from textclf.training.trainer_options import TrainerOptions, naming_trainer_options

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


#: On a CPU with native bf16 arithmetic, a model whose linear layers hold at least this many
#: weights trains in bf16-mixed under ``precision: auto``: its step is mostly matrix products,
#: which bf16 runs about 1.6x faster (a MiniLM-L6 fine-tuning step, AVX512-BF16, 2 cores).
CPU_BF16_LINEAR_WEIGHTS = 5_000_000


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes in bf16 natively (AVX512-BF16 or AMX), so that bf16 matrix
    products are faster than fp32 ones rather than emulated."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    try:
        return any(bool(getattr(torch.cpu, probe)()) for probe in probes if hasattr(torch.cpu, probe))
    except RuntimeError:
        return False


def linear_weights(model: torch.nn.Module) -> int:
    """Weights in ``model``'s ``nn.Linear`` layers (Hugging Face's Conv1D ones too)."""
    total = 0
    for module in model.modules():
        weight = getattr(module, "weight", None)
        if isinstance(weight, torch.Tensor) and (isinstance(module, torch.nn.Linear)
                                                 or type(module).__name__ == "Conv1D"):
            total += weight.numel()
    return total


def resolve_precision(options: TrainerOptions, model: torch.nn.Module | None = None) -> TrainerOptions:
    """``precision: auto`` made concrete (a run records what it used): bf16-mixed on a GPU that
    supports it, and on a CPU with native bf16 for a ``model`` dominated by matrix products (at
    least ``CPU_BF16_LINEAR_WEIGHTS`` linear weights); 32-true anywhere else."""
    if options.precision != "auto":
        return options
    gpu = options.accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    if gpu:
        return dataclasses.replace(options, precision="bf16-mixed" if torch.cuda.is_bf16_supported()
                                   else "32-true")
    cpu_bf16 = (options.accelerator in ("auto", "cpu") and model is not None
                and linear_weights(model) >= CPU_BF16_LINEAR_WEIGHTS and cpu_has_native_bf16())
    return dataclasses.replace(options, precision="bf16-mixed" if cpu_bf16 else "32-true")


class _AppendingWriter(ExperimentWriter):
    """Lightning's CSV writer, except that a resumed run appends to its ``metrics.csv`` instead
    of deleting the rows of the part that ran before the interruption."""

    def _check_log_dir_exists(self) -> None:
        if os.path.isfile(self.metrics_file_path):
            with open(self.metrics_file_path, newline="") as handle:
                self.metrics_keys = next(csv.reader(handle), [])


class RunCSVLogger(pl.loggers.CSVLogger):
    """The run's ``logs/metrics.csv``, continued (not restarted) by a resumed run."""

    @property
    @rank_zero_experiment
    def experiment(self) -> _FabricExperimentWriter:
        if self._experiment is None:
            os.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment


def check_hardware(options: TrainerOptions) -> None:
    """Refuse devices and strategies this machine cannot run, before any process is started:
    ``--devices 99`` on a CPU would otherwise start 99 training processes."""
    from pytorch_lightning.strategies import StrategyRegistry

    with naming_trainer_options():
        if options.strategy != "auto" and options.strategy not in StrategyRegistry:
            raise OptionError(f"`strategy` {options.strategy}: not a Lightning strategy (for example "
                              f"ddp, ddp_spawn, fsdp); see Lightning's documentation")
        gpu = options.accelerator in ("gpu", "cuda") or (options.accelerator == "auto"
                                                        and torch.cuda.is_available())
        if gpu and not torch.cuda.is_available():
            raise OptionError(f"`accelerator` {options.accelerator}: this machine has no CUDA GPU "
                              f"that torch {torch.__version__} can use; train with `accelerator` cpu")
        if options.accelerator == "mps" or (options.accelerator == "auto" and not gpu
                                            and torch.backends.mps.is_available()):
            return  # one Apple GPU: Lightning's own checks say all there is to say
        have, what = (torch.cuda.device_count(), "CUDA GPUs") if gpu else (os.cpu_count() or 1, "CPU cores")
        wanted = options.lightning_devices()
        if wanted == "auto":
            return
        count = have if wanted == -1 else len(wanted) if isinstance(wanted, list) else wanted
        if isinstance(wanted, list) and max(wanted) >= have or count > have:
            raise OptionError(f"`devices` {options.devices}: this machine has {have} {what}; use at "
                              f"most {have}" + (f" (indices 0 to {have - 1})" if isinstance(wanted, list) else ""))
        if not gpu and count > 1 and options.strategy == "auto":
            raise OptionError(f"`devices` {options.devices} on the CPU means {count} training processes; "
                              f"say how they share the work with `strategy` ddp (or ddp_spawn)")


def show_progress(setting: bool | None) -> bool:
    return sys.stderr.isatty() if setting is None else setting


def build_trainer(options: TrainerOptions, *, run: RunDir | None = None, monitor: str | None = None,
                  monitor_mode: str = "max", progress: bool = False, echo: Any = print,
                  train_batches: int | None = None, callbacks: list[pl.Callback] | None = None) -> pl.Trainer:
    """A Trainer for fitting (with ``run``: checkpoints and logs, with the caller's ``RunRecorder``
    among ``callbacks``) or for evaluating. ``options.precision`` must be resolved already
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
            TiedToParent(),
            *SelfInterrupt.from_environment(),
        ]
        if options.early_stopping and monitor:
            callbacks.append(EarlyStopping(monitor=monitor, mode=monitor_mode,
                                           patience=options.early_stopping))
        loggers = [RunCSVLogger(run.path, name="logs", version="")]
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
        plugins=[AtomicCheckpointIO()],
    )
