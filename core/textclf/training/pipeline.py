"""The handshake and the run: data prepares -> labels -> model(labels) -> data tokenizes with the
model's tokenizer -> lit-model(model) -> Lightning trains, validates and tests."""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.trainer.states import TrainerStatus

from textclf.data.base import BaseDataModule
from textclf.data.examples import SPLITS
from textclf.errors import TextclfError, UsageError
from textclf.kinds import DATA, LIT_MODEL, MODEL
from textclf.lit_models.base import BaseLitModel
from textclf.models.base import BaseModel
from textclf.run_config import RunConfig
from textclf.training.callbacks import LastValidation, RunRecorder, Throughput
from textclf.training.checkpoints import CheckpointWriteError, keep_weights_only
from textclf.training.estimate import cpu_warning
from textclf.training.processes import MAIN_PID_ENV
from textclf.training.run import RunDir, default_run_dir
from textclf.training.trainer import build_trainer, check_hardware, resolve_precision, show_progress
from textclf.training.trainer_options import TrainerOptions

#: Set for the processes a multi-device launch starts, so they join the same run directory.
RUN_DIR_ENV = "TEXTCLF_RUN_DIR"
_RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID")

Echo = Callable[[str], None]


class TrainingInterrupted(TextclfError):
    exit_code = 130


@dataclass
class Built:
    """The three components of a run, wired together."""

    data: BaseDataModule
    model: BaseModel
    lit: BaseLitModel


def is_primary_process() -> bool:
    """False in the extra processes of a multi-device or multi-node launch."""
    return all(int(os.environ.get(name, "0") or 0) == 0 for name in _RANK_VARIABLES)


def build(config: RunConfig, *, model_dir: Path | None = None, echo: Echo | None = None) -> Built:
    """Construct data, model and lit-model; tokenize the data with the model's tokenizer."""
    data: BaseDataModule = config[DATA].build()
    with config[DATA].naming_options():
        data.prepare_data()
        labels = data.label_names()
    model_cls = config[MODEL].cls
    if model_dir is not None:
        with config[MODEL].constructing():
            model = model_cls.load(model_dir)
        if list(model.labels) != list(labels):
            raise TextclfError(
                f"{model_dir}: the model's labels ({', '.join(model.labels)}) differ from the "
                f"data's ({', '.join(labels)}); the data changed since the run started"
            )
    else:
        supplied: dict[str, Any] = {"labels": labels}
        if "train_texts" in inspect.signature(model_cls.__init__).parameters:
            with config[DATA].naming_options():
                supplied["train_texts"] = data.train_texts()
        model = config[MODEL].build(**supplied)
    with config[DATA].naming_options():
        model.multi_label = data.multi_label()
        data.attach(model.encoder)
    if echo:
        counts = " / ".join(f"{len(data.splits[s]):,} {s}" for s in SPLITS if s in data.splits)
        how = "cached tokens" if data.cache_hit else f"tokenized in {data.tokenize_seconds:.1f} s"
        task = ""
        if model.multi_label:
            empty = int((data.splits["train"].labels.sum(axis=1) == 0).sum())
            task = f" (multi-label; {empty:,} training texts have none)"
        echo(f"data: {config[DATA].component.name}, {counts} ({how}); labels: {', '.join(labels)}{task}")
        parameters = sum(p.numel() for p in model.parameters())
        echo(f"model: {config[MODEL].component.name}, {parameters:,} parameters, max length "
             f"{model.max_length}, truncation {model.truncation}")
    lit = config[LIT_MODEL].build(model=model)
    return Built(data, model, lit)


def train(config: RunConfig, *, run_dir: Path | None = None, overwrite: bool = False,
          resume: RunDir | None = None, progress: bool | None = None,
          echo: Echo = print) -> dict[str, Any] | None:
    """Train a run from scratch, or ``resume`` one; returns its metrics (primary process only)."""
    primary = is_primary_process()
    say: Echo = echo if primary else (lambda _message: None)
    check_hardware(config.trainer)  # before any process is started or anything written
    pl.seed_everything(config.trainer.seed, workers=True, verbose=False)
    if resume is None and primary and run_dir is not None:
        RunDir.check_target(run_dir, overwrite)  # fail before any work, not after the data is prepared
    built = build(config, model_dir=resume.model_dir if resume else None, echo=say)
    auto = config.trainer.precision == "auto"
    config = dataclasses.replace(config, trainer=resolve_precision(config.trainer, built.model))
    if auto and config.trainer.precision == "bf16-mixed" and not torch.cuda.is_available():
        say("precision: bf16-mixed (auto: this CPU computes in bf16 natively and the model is "
            "mostly matrix products; --precision 32-true trains in fp32)")

    run = _open_run(config, built, run_dir, overwrite, resume, primary)
    if primary:
        run.set_state("running", started=time.strftime("%Y-%m-%dT%H:%M:%S"))
        say(f"run: {run.path}" + (" (resumed from its last checkpoint)" if resume else ""))
    os.environ[RUN_DIR_ENV] = str(run.path)
    os.environ.setdefault(MAIN_PID_ENV, str(os.getpid()))

    has_val = built.data.has_split("val")
    monitor = built.lit.monitor if has_val else None
    train_batches = math.ceil(len(built.data.splits["train"]) / built.data.batch_size)
    throughput, recorder, last_validation = Throughput(), RunRecorder(run), LastValidation()
    trainer = build_trainer(config.trainer, run=run, monitor=monitor,
                            monitor_mode=built.lit.monitor_mode, progress=show_progress(progress),
                            echo=say, train_batches=train_batches,
                            callbacks=[throughput, recorder, last_validation])
    built.lit.total_steps = planned_steps(config.trainer, train_batches, trainer.world_size)
    if primary and trainer.strategy.root_device.type == "cpu":
        warning = cpu_warning(built.model, built.data, config[MODEL].component.name,
                              bf16=config.trainer.precision == "bf16-mixed")
        if warning:
            say(f"warning: {warning}")
    ctrl_c = signal.getsignal(signal.SIGINT)
    try:
        trainer.fit(built.lit, datamodule=built.data,
                    ckpt_path=str(resume.resume_checkpoint(say)) if resume else None)
    except SystemExit:
        if trainer.state.status == TrainerStatus.INTERRUPTED:
            raise _interrupted(trainer, run, recorder.received) from None
        raise
    except CheckpointWriteError as exc:
        raise CheckpointWriteError(f"{exc}; make room (or fix permissions), then continue with: "
                                   f"textclf train --resume {run.path}") from None
    finally:
        signal.signal(signal.SIGINT, ctrl_c)  # Lightning ignores Ctrl-C once it has seen one

    checkpoint = _checkpoint_callback(trainer)
    best = checkpoint.best_model_path if checkpoint and checkpoint.best_model_path else None
    best = best or str(run.last_checkpoint)
    with _stopped_while_evaluating(trainer, run, recorder.received, primary):
        metrics = evaluate(trainer, built, best, current_val=last_validation.best_is_current(trainer))
        if not primary:
            return None
        _record(run, built, trainer, metrics, best, monitor, throughput.report())
    return metrics


@contextlib.contextmanager
def _stopped_while_evaluating(trainer: pl.Trainer, run: RunDir, received: int | None,
                              primary: bool) -> Iterator[None]:
    """A signal after the last training step (during the final validation, or the evaluation of
    the best model) stops the run as one during training does: status interrupted, exit 128 +
    signal; ``--resume`` then only evaluates."""
    signals: list[int] = [received] if received is not None else []

    def stop(signum: int, frame: Any) -> None:
        signals.append(signum)
        raise KeyboardInterrupt

    watched = primary and threading.current_thread() is threading.main_thread()
    saved = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)} if watched else {}
    try:
        if signals:
            raise KeyboardInterrupt
        yield
    except (KeyboardInterrupt, SystemExit):  # Lightning turns Ctrl-C while testing into sys.exit(1)
        if not signals:
            raise
        run.set_state("interrupted", epoch=trainer.current_epoch, step=trainer.global_step)
        raise _stopped(signals[0], "{how} while evaluating the trained model; finish it with: "
                                   f"textclf train --resume {run.path}") from None
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def _interrupted(trainer: pl.Trainer, run: RunDir, received: int | None) -> TrainingInterrupted:
    """The error a stopped training ends with; its exit status says which signal stopped it."""
    return _stopped(received or signal.SIGINT, f"training {{how}} at epoch {trainer.current_epoch + 1}, "
                    f"step {trainer.global_step}; continue it with: textclf train --resume {run.path}")


def _stopped(signum: int, message: str) -> TrainingInterrupted:
    """``message`` with ``{how}`` saying what stopped the run; exit status 128 + the signal."""
    how = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    error = TrainingInterrupted(message.replace("{how}", how, 1))
    error.exit_code = 128 + signum
    return error


def _checkpoint_callback(trainer: pl.Trainer) -> ModelCheckpoint | None:
    checkpoint = trainer.checkpoint_callback
    return checkpoint if isinstance(checkpoint, ModelCheckpoint) else None


def _open_run(config: RunConfig, built: Built, run_dir: Path | None, overwrite: bool,
              resume: RunDir | None, primary: bool) -> RunDir:
    """The run directory: the resumed one, the shared one (extra processes), or a new one with
    the config and the untrained model (which ``--resume`` starts from)."""
    if resume is not None:
        return resume
    if not primary:
        shared = os.environ.get(RUN_DIR_ENV) or (str(run_dir) if run_dir else None)
        if shared is None:
            raise UsageError("every process of a multi-node launch needs the same --run-dir")
        return RunDir(Path(shared))
    run = RunDir.create(run_dir or default_run_dir(config[DATA].component.name, config[MODEL].component.name),
                        overwrite)
    versions = config.plugin_versions()
    run.write_config({"textclf": versions["textclf"], "plugins": versions, **config.as_config()})
    built.model.save(run.model_dir)
    return run


def _record(run: RunDir, built: Built, trainer: pl.Trainer, metrics: dict[str, Any], best: str,
            monitor: str | None, throughput: dict[str, float]) -> None:
    """Save the best model in portable form, write metrics.json, mark the run completed."""
    built.model.save(run.model_dir)
    checkpoint = _checkpoint_callback(trainer)
    score = checkpoint.best_model_score if checkpoint is not None else None
    metrics.update(best_checkpoint=os.path.relpath(best, run.path), monitor=monitor,
                   best_score=float(score) if score is not None else None,
                   epochs=trainer.current_epoch, steps=trainer.global_step, **throughput)
    run.write_metrics(metrics)
    run.set_state("completed", finished=time.strftime("%Y-%m-%dT%H:%M:%S"),
                  epoch=trainer.current_epoch, step=trainer.global_step)
    # Finished: only last.ckpt need carry the optimizer's state (to train on); best.ckpt keeps
    # the best weights, which model/ also holds in portable form. For Adam that is two thirds
    # of best.ckpt.
    if run.best_checkpoint.is_file() and Path(best).resolve() == run.best_checkpoint.resolve():
        keep_weights_only(run.best_checkpoint)


def planned_steps(options: TrainerOptions, batches: int, world_size: int) -> int:
    """Optimizer steps the run will take: epochs of (per-replica batches / accumulation),
    capped by ``max_steps``."""
    per_epoch = math.ceil(math.ceil(batches / world_size) / options.accumulate_grad_batches)
    by_epochs = per_epoch * options.max_epochs if options.max_epochs > 0 else None
    by_steps = options.max_steps if options.max_steps > 0 else None
    candidates = [n for n in (by_epochs, by_steps) if n is not None]
    return max(1, min(candidates)) if candidates else per_epoch


def evaluate(trainer: pl.Trainer, built: Built, checkpoint: str | None,
             current_val: Mapping[str, float] | None = None) -> dict[str, Any]:
    """Metrics of the model in ``checkpoint`` on val and test, and the confusion matrix of test
    (of val when the data has no test split). Loads that checkpoint's weights into the model,
    unless ``current_val`` says the model already holds them: then these are its ``val/``
    metrics, from the validation that saved the checkpoint, and val is not scored again."""
    data, lit = built.data, built.lit
    if current_val is not None:
        checkpoint = None  # the weights in memory are the checkpoint's
    out: dict[str, Any] = {}
    confusion_split = None
    if data.has_split("test"):
        if data.has_split("val"):
            out["val"] = (_metrics([current_val], "val/") if current_val is not None else
                          _metrics(trainer.validate(lit, datamodule=data, ckpt_path=checkpoint,
                                                    verbose=False), "val/"))
        out["test"] = _metrics(trainer.test(lit, datamodule=data, ckpt_path=checkpoint,
                                            verbose=False), "test/")
        confusion_split = "test"
    elif data.has_split("val"):
        data.trainer = trainer
        out["val"] = _metrics(trainer.test(lit, dataloaders=data.val_dataloader(),
                                           ckpt_path=checkpoint, verbose=False), "test/")
        confusion_split = "val"
    if confusion_split and lit.confusion is not None:
        out["confusion_matrix"] = {"split": confusion_split, "labels": list(built.model.labels),
                                   "matrix": lit.confusion.long().tolist()}
    _multi_label_results(out, built, confusion_split)
    return out


def _multi_label_results(out: dict[str, Any], built: Built, split: str | None) -> None:
    """A multi-label run's task, the thresholds its bundle applies, and per-label scores."""
    if not built.model.multi_label:
        return
    labels = list(built.model.labels)
    out["task"] = "multi_label"
    out["thresholds"] = {"labels": labels, "values": [round(float(t), 6) for t in built.lit.thresholds]}
    if split and built.lit.per_label is not None:
        out["per_label"] = {"split": split, "labels": labels, **built.lit.per_label}


def _metrics(results: Sequence[Mapping[str, float]], prefix: str) -> dict[str, float]:
    merged = results[0] if results else {}
    return {key[len(prefix):]: round(float(value), 6)
            for key, value in merged.items() if key.startswith(prefix)}


def test_run(run: RunDir, config: RunConfig, split: str, *, progress: bool | None = None,
             echo: Echo = print) -> dict[str, Any]:
    """Evaluate a finished run's model on ``split`` ("test" or "val")."""
    built = build(config, model_dir=run.model_dir, echo=echo)
    if built.model.multi_label:  # the thresholds training tuned
        recorded = run.read_metrics().get("thresholds") or {}
        if recorded.get("labels") == list(built.model.labels):
            built.lit.thresholds = [float(t) for t in recorded["values"]]
    if not built.data.has_split(split):
        other = "val" if split == "test" else "test"
        hint = f"; evaluate --split {other} instead" if built.data.has_split(other) else ""
        raise UsageError(f"{run.path}: the run's data has no {split} split{hint}")
    options = dataclasses.replace(config.trainer, devices="1", strategy="auto")
    trainer = build_trainer(resolve_precision(options), progress=show_progress(progress))
    built.data.trainer = trainer
    loader = built.data.test_dataloader() if split == "test" else built.data.val_dataloader()
    results = trainer.test(built.lit, dataloaders=loader, verbose=False)
    metrics: dict[str, Any] = {split: _metrics(results, "test/")}
    if built.lit.confusion is not None:
        metrics["confusion_matrix"] = {"split": split, "labels": list(built.model.labels),
                                       "matrix": built.lit.confusion.long().tolist()}
    _multi_label_results(metrics, built, split)
    return metrics
