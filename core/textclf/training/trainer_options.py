"""The trainer's options; torch-free, so that listing them never imports Lightning."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PRECISION_AUTO = "auto"


@dataclass(frozen=True)
class TrainerOptions:
    """How Lightning trains: length, hardware, precision, checkpoints' cadence.

    Args:
        max_epochs: Passes over the training data.
        max_steps: Stop after this many optimizer steps (-1: no limit).
        accelerator: cpu, gpu, mps or auto.
        devices: How many devices (2), which ones (0,1), or auto.
        num_nodes: Machines taking part in a multi-node run.
        precision: 32-true, bf16-mixed, 16-mixed or auto (bf16-mixed on a GPU that supports it, else 32-true).
        strategy: auto, ddp, ddp_spawn, fsdp or another Lightning strategy.
        accumulate_grad_batches: Batches whose gradients add up to one optimizer step.
        gradient_clip: Clip the gradient norm to this value (none: no clipping).
        seed: Seed of weight initialisation, dropout and batch order.
        val_check_interval: Validate every this fraction of an epoch (up to 1), or every this many batches (above 1).
        early_stopping: Stop after this many validations without improvement (none: never).
    """

    max_epochs: int = 3
    max_steps: int = -1
    accelerator: str = "auto"
    devices: str = "auto"
    num_nodes: int = 1
    precision: str = PRECISION_AUTO
    strategy: str = "auto"
    accumulate_grad_batches: int = 1
    gradient_clip: float | None = 1.0
    seed: int = 42
    val_check_interval: float = 1.0
    early_stopping: int | None = None

    def lightning_devices(self) -> Any:
        """``auto``, a count (``2``, ``-1``) or a list of device indices (``0,1``), as Lightning takes it."""
        text = str(self.devices).strip()
        if text == "auto":
            return "auto"
        if "," in text:
            return [int(part) for part in text.split(",") if part.strip()]
        return int(text)

    def lightning_val_check_interval(self) -> float | int:
        """Up to 1: a fraction of an epoch; above 1: a number of batches."""
        value = self.val_check_interval
        return int(value) if value > 1 else float(value)
