"""``BaseLitModel``: the lit-model contract. It owns the training regime around any model."""

from __future__ import annotations

from typing import Any, ClassVar

import pytorch_lightning as pl
import torch

from textclf.errors import TextclfError
from textclf.models.base import BaseModel


class BaseLitModel(pl.LightningModule):
    """A LightningModule wrapping a model that follows the model contract.

    A subclass defines the regime: ``training_step`` and friends, ``configure_optimizers``.
    The pipeline keeps the checkpoint that scores best on ``monitor`` (``monitor_mode``), and
    reads ``confusion`` (rows: true label, columns: predicted) after testing when it is set. On
    multi-label data (``model.multi_label``) it reads ``per_label`` instead (lists, one value
    per label, under "precision", "recall", "f1" and "support") and ``thresholds`` (each
    label's decision threshold, which the exported bundle applies; 0.5 each when not set).
    """

    monitor: ClassVar[str] = "val/f1"
    monitor_mode: ClassVar[str] = "max"

    def __init__(self, model: BaseModel) -> None:
        super().__init__()
        self.model = model
        self.confusion: torch.Tensor | None = None
        self.per_label: dict[str, list[float]] | None = None
        self.thresholds: list[float] = [0.5] * model.num_labels
        #: Optimizer steps of the whole run, set by the pipeline before fitting; a schedule uses
        #: it rather than ``trainer.estimated_stepping_batches``, which would build the training
        #: loader before a resumed run has restored its position.
        self.total_steps: int | None = None

    def planned_steps(self) -> int:
        """The run's optimizer steps: ``total_steps`` when set, else Lightning's estimate."""
        if self.total_steps is not None:
            return max(1, self.total_steps)
        return max(1, int(self.trainer.estimated_stepping_batches))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        logits = self.model(input_ids, attention_mask)
        expected = (input_ids.shape[0], self.model.num_labels)
        if tuple(logits.shape) != expected:  # or the loss fails later with an index error
            raise TextclfError(
                f"the model {type(self.model).__name__} gives logits of shape {tuple(logits.shape)} "
                f"for {expected[0]} texts and {expected[1]} labels; it must give {expected}, one "
                f"column per label: its output layer must be sized by len(labels), not a fixed "
                f"number (report this to the model's authors)")
        return logits

    def samples_in(self, batch: dict[str, Any]) -> tuple[int, int]:
        """(rows, real tokens) of a batch, for throughput reporting."""
        return int(batch["labels"].shape[0]), int(batch["attention_mask"].sum())

    def configure_gradient_clipping(self, optimizer: torch.optim.Optimizer,
                                    gradient_clip_val: float | None = None,
                                    gradient_clip_algorithm: str | None = None) -> None:
        """Clip as the run's ``gradient_clip`` asks, for fused optimizers too. Lightning's
        mixed-precision plugin refuses to clip for an optimizer that unscales its gradients in
        its own step (a fused AdamW), even in bf16-mixed, where nothing is scaled. Here the
        gradients are clipped directly: as they are without a gradient scaler (32-true,
        bf16-mixed), unscaled first with one (16-mixed; the step then knows they are)."""
        if not gradient_clip_val:
            return
        scaler = getattr(self.trainer.precision_plugin, "scaler", None)
        if scaler is not None:
            if not getattr(optimizer, "_step_supports_amp_scaling", False):
                # Lightning has unscaled the gradients already, and clips them as usual.
                super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)
                return
            scaler.unscale_(optimizer)  # a fused optimizer would unscale in its step: too late to clip
        parameters = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if gradient_clip_algorithm == "value":
            torch.nn.utils.clip_grad_value_(parameters, gradient_clip_val)
        else:
            torch.nn.utils.clip_grad_norm_(parameters, gradient_clip_val)
