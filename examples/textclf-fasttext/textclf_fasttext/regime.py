"""The ``fasttext-sgd`` lit-model: fastText's training regime on top of textclf's classifier."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from textclf import BaseModel, Classifier


class FastTextSGD(Classifier):
    """Plain SGD (no momentum, no weight decay), the learning rate decayed linearly to zero.

    Plain SGD takes sparse gradients, so the model's embedding tables are switched to them: a step
    updates only the rows its batch used, not the hundreds of thousands of hashed n-gram rows.
    No gradient clipping, as in fastText. The rate is high because a word's embedding gets a
    1/length share of the gradient: on IMDB-length reviews any rate from 4 to 16 does as well.

    Args:
        lr: Starting learning rate, decayed linearly to zero.
        label_smoothing: Cross-entropy label smoothing (0: none).
        class_weights: One weight per label for the loss.
    """

    def __init__(self, model: BaseModel, lr: float = 8.0, label_smoothing: float = 0.0,
                 class_weights: list[float] | None = None) -> None:
        super().__init__(model, lr=lr, weight_decay=0.0, warmup_ratio=0.0,
                         label_smoothing=label_smoothing, class_weights=class_weights)
        for module in self.model.modules():
            if isinstance(module, nn.Embedding):
                module.sparse = True

    def configure_gradient_clipping(self, optimizer: Any, gradient_clip_val: float | None = None,
                                    gradient_clip_algorithm: str | None = None) -> None:
        """No clipping, as in fastText (and torch cannot take the norm of sparse gradients)."""

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = torch.optim.SGD(self.model.parameters(), lr=self.lr)
        total = self.planned_steps()
        scheduler = LambdaLR(optimizer, lambda step: max(0.0, 1.0 - step / total))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
