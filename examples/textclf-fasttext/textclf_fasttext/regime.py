"""The ``fasttext-sgd`` lit-model: fastText's training regime on top of textclf's classifier."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from textclf import BaseModel, Classifier, OptionError


class FastTextSGD(Classifier):
    """Plain SGD (no momentum, no weight decay), the learning rate decayed linearly to zero.

    ``lr`` is a rate per text, as fastText's is: a batch's step is the sum of its texts' steps
    (the gradient of its summed loss), so a batch of 16 at rate ``lr`` moves as far as fastText's
    16 one-text updates would, and changing the batch size keeps the rate meaning the same.

    Plain SGD takes sparse gradients, so the model's embedding tables are switched to them: a step
    updates only the rows its batch used, not the millions of hashed n-gram rows. No gradient
    clipping, as in fastText (and torch cannot take the norm of sparse gradients).

    The model's operations are small (a gather and a scatter of a few hundred thousand floats a
    batch), so torch runs them on ``threads`` CPU threads while this regime trains, validates and
    tests, and gets its own setting back after: a second thread gains little on them, and on a
    busy machine threads that wait for each other at every operation make a run several times
    slower (fastText's threads never wait for each other).

    Args:
        lr: Starting learning rate per text, decayed linearly to zero over the run.
        label_smoothing: Cross-entropy label smoothing (0: none).
        class_weights: One weight per label for the loss.
        threads: CPU threads torch uses while training and evaluating (none: leave torch's setting).
    """

    #: The checkpoint kept is the one with the lowest validation loss: fastText keeps its last
    #: model, which a rate decayed to zero makes the best one nearly always, and the loss says so
    #: more steadily than macro-F1, which on a few hundred validation texts moves in steps.
    monitor: ClassVar[str] = "val/loss"
    monitor_mode: ClassVar[str] = "min"

    def __init__(self, model: BaseModel, lr: float = 0.5, label_smoothing: float = 0.0,
                 class_weights: list[float] | None = None, threads: int | None = 1) -> None:
        super().__init__(model, lr=lr, weight_decay=0.0, warmup_ratio=0.0,
                         label_smoothing=label_smoothing, class_weights=class_weights)
        if threads is not None and threads < 1:
            raise OptionError(f"`threads` {threads}: must be at least 1 (or none: torch's setting)")
        self.threads = threads
        self._threads_before: int | None = None
        for module in self.model.modules():
            if isinstance(module, nn.Embedding):
                module.sparse = True

    def setup(self, stage: str) -> None:
        if self.threads is not None:
            self._threads_before = torch.get_num_threads()
            torch.set_num_threads(self.threads)

    def teardown(self, stage: str) -> None:
        if self._threads_before is not None:
            torch.set_num_threads(self._threads_before)
            self._threads_before = None

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        """The batch's mean loss (what is logged) times its texts: one step per text, summed."""
        return super().training_step(batch, batch_idx) * batch["labels"].shape[0]

    def configure_gradient_clipping(self, optimizer: Any, gradient_clip_val: float | None = None,
                                    gradient_clip_algorithm: str | None = None) -> None:
        """No clipping, as in fastText (and torch cannot take the norm of sparse gradients)."""

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = torch.optim.SGD(self.model.parameters(), lr=self.lr)
        total = self.planned_steps()
        scheduler = LambdaLR(optimizer, lambda step: max(0.0, 1.0 - step / total))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
