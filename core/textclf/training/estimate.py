"""CPU honesty: estimate an epoch's time before a large model starts training on a CPU."""

from __future__ import annotations

import time

import numpy as np
import torch

from textclf.data.base import BaseDataModule
from textclf.data.batching import Collator
from textclf.models.base import BaseModel

#: Below this many parameters a model is quick enough on any CPU; no probe, no warning.
LARGE_MODEL_PARAMETERS = 5_000_000
#: Warn when an epoch is estimated to take longer than this.
WARN_SECONDS = 15 * 60
PROBE_ROWS = 4
#: Optimizer step, data and logging cost on top of forward and backward.
OVERHEAD = 1.15


def epoch_seconds(model: BaseModel, data: BaseDataModule, bf16: bool = False) -> float:
    """Time one forward and backward pass on typical rows (under bf16 autocast if ``bf16``),
    scaled to the epoch's tokens."""
    split = data.splits["train"]
    lengths = split.lengths
    typical = np.argsort(np.abs(lengths - np.median(lengths)))[:PROBE_ROWS]
    collate = Collator(data.encoder.pad_id if data.encoder else 0)
    batch = collate([(split.row(int(i)), int(split.labels[i])) for i in typical])
    was_training = model.training
    model.train()
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            model(batch["input_ids"][:1, :8], batch["attention_mask"][:1, :8]).float().sum().backward()
            start = time.perf_counter()
            model(batch["input_ids"], batch["attention_mask"]).float().sum().backward()
            seconds = time.perf_counter() - start
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    per_token = seconds / batch["input_ids"].numel()
    return per_token * float(lengths.sum()) * OVERHEAD


def cpu_warning(model: BaseModel, data: BaseDataModule, model_name: str, bf16: bool = False) -> str | None:
    """The warning to print before training ``model`` on a CPU (in bf16-mixed if ``bf16``), or
    ``None`` if it is quick."""
    parameters = sum(p.numel() for p in model.parameters())
    if parameters < LARGE_MODEL_PARAMETERS:
        return None
    with torch.random.fork_rng():  # the probe must not change the run's random stream
        seconds = epoch_seconds(model, data, bf16)
    if seconds < WARN_SECONDS:
        return None
    return (
        f"training {model_name} ({parameters / 1e6:.1f}M parameters) on CPU: about "
        f"{_duration(seconds)} per epoch of {len(data.splits['train']):,} examples. Shorten it "
        f"with --max-steps N or fewer --max-epochs, train on fewer examples, or use a GPU "
        f"(--accelerator gpu)"
    )


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min"
