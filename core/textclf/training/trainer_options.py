"""The trainer's options; torch-free, so that listing them never imports Lightning.

Every value is checked when the options are made, before any process is started or anything
written: a bad one is an ``OptionError`` naming its option. What needs the hardware (how many
devices there are) is checked by ``textclf.training.trainer.check_hardware``.
"""

from __future__ import annotations

import dataclasses
import math
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal, get_args

from textclf.errors import OptionError, options_of
from textclf.kinds import TRAINER

Precision = Literal["auto", "32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true",
                    "transformer-engine", "transformer-engine-float16", "32", "16", "bf16", "64"]
Accelerator = Literal["auto", "cpu", "gpu", "cuda", "mps"]
#: Seeds numpy accepts.
SEEDS = range(2**32)


@dataclass(frozen=True)
class TrainerOptions:
    """How Lightning trains: length, hardware, precision, checkpoints' cadence.

    Args:
        max_epochs: Passes over the training data (-1: no limit, then max-steps ends the run).
        max_steps: Stop after this many optimizer steps (-1: no limit).
        accelerator: cpu, gpu, mps or auto.
        devices: How many devices (2), which ones (0,1), or auto.
        num_nodes: Machines taking part in a multi-node run.
        precision: 32-true, bf16-mixed, 16-mixed or auto (bf16-mixed on a GPU that supports it, and for a large model on a CPU with native bf16; else 32-true).
        strategy: auto, ddp, ddp_spawn, fsdp or another Lightning strategy.
        accumulate_grad_batches: Batches whose gradients add up to one optimizer step.
        gradient_clip: Clip the gradient norm to this value (none: no clipping).
        seed: Seed of weight initialisation, dropout and batch order.
        val_check_interval: Validate every this fraction of an epoch (up to 1), or every this many batches (above 1).
        early_stopping: Stop after this many validations without improvement (none: never).
    """

    max_epochs: int = 3
    max_steps: int = -1
    accelerator: Accelerator = "auto"
    devices: str = "auto"
    num_nodes: int = 1
    precision: Precision = "auto"
    strategy: str = "auto"
    accumulate_grad_batches: int = 1
    gradient_clip: float | None = 1.0
    seed: int = 42
    val_check_interval: float = 1.0
    early_stopping: int | None = None

    def __post_init__(self) -> None:
        for problem in self._problems():
            raise OptionError(problem)
        self.lightning_devices()  # its own error for a malformed value

    def _problems(self) -> list[str]:
        problems = []
        if self.max_epochs == 0 or self.max_epochs < -1:
            problems.append(f"`max_epochs` {self.max_epochs}: must be at least 1 (or -1: no limit)")
        if self.max_steps == 0 or self.max_steps < -1:
            problems.append(f"`max_steps` {self.max_steps}: must be at least 1 (or -1: no limit)")
        if self.max_epochs == -1 and self.max_steps == -1:
            problems.append("`max_epochs` -1 with `max_steps` -1 would train forever; limit one of them")
        if self.num_nodes < 1:
            problems.append(f"`num_nodes` {self.num_nodes}: must be at least 1")
        if self.accumulate_grad_batches < 1:
            problems.append(f"`accumulate_grad_batches` {self.accumulate_grad_batches}: must be at least 1")
        if self.gradient_clip is not None and not (math.isfinite(self.gradient_clip) and self.gradient_clip > 0):
            problems.append(f"`gradient_clip` {self.gradient_clip}: must be above 0 (or none: no clipping)")
        if self.seed not in SEEDS:
            problems.append(f"`seed` {self.seed}: must be 0 to {SEEDS[-1]}")
        interval = self.val_check_interval
        if not (math.isfinite(interval) and interval > 0) or (interval > 1 and interval != int(interval)):
            problems.append(f"`val_check_interval` {interval}: must be a fraction of an epoch in (0, 1], "
                            f"or a whole number of batches")
        if self.early_stopping is not None and self.early_stopping < 1:
            problems.append(f"`early_stopping` {self.early_stopping}: must be at least 1 (or none: never)")
        if self.precision not in get_args(Precision):
            problems.append(f"`precision` {self.precision}: choose one of {', '.join(get_args(Precision))}")
        return problems

    def lightning_devices(self) -> Any:
        """``auto``, a count (``2``, ``-1``: all) or a list of device indices (``0,1``), as Lightning takes it."""
        text = str(self.devices).strip()
        if text == "auto":
            return "auto"
        try:
            if "," in text:
                indices = [int(part) for part in text.split(",") if part.strip()]
                if indices and min(indices) >= 0 and len(set(indices)) == len(indices):
                    return indices
            elif int(text) >= 1 or int(text) == -1:
                return int(text)
        except ValueError:
            pass
        raise OptionError(f"`devices` {self.devices}: give a count (2), -1 for all, device indices "
                          f"(0,1) or auto")

    def lightning_val_check_interval(self) -> float | int:
        """Up to 1: a fraction of an epoch; above 1: a number of batches."""
        value = self.val_check_interval
        return int(value) if value > 1 else float(value)


def naming_trainer_options() -> AbstractContextManager[None]:
    """Errors raised inside name the trainer's options (``--max-epochs`` on the command line)."""
    return options_of(TRAINER, (field.name for field in dataclasses.fields(TrainerOptions)))
