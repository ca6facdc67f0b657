"""The built-in ``classifier`` regime: fine-tune any model with cross-entropy and AdamW."""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torchmetrics
from torch import nn
from pytorch_lightning.utilities.types import OptimizerLRSchedulerConfig
from torch.optim.lr_scheduler import LambdaLR

from textclf.errors import OptionError
from textclf.lit_models.base import BaseLitModel
from textclf.models.base import BaseModel

LR = 1e-3
WEIGHT_DECAY = 0.01
WARMUP_RATIO = 0.1


class Classifier(BaseLitModel):
    """Cross-entropy, AdamW, linear warmup then decay; accuracy and macro-F1 per epoch.

    Args:
        lr: Peak learning rate, reached after the warmup.
        weight_decay: AdamW weight decay; biases and normalisation weights get none.
        warmup_ratio: Share of the optimizer steps spent warming the learning rate up from 0.
        schedule: Learning rate after the warmup: linear or cosine decay to 0, or constant.
        label_smoothing: Cross-entropy label smoothing (0: none).
        class_weights: One weight per label for the loss, e.g. 1,3 to favour a rare second class.
        betas: AdamW's beta1,beta2.
    """

    def __init__(self, model: BaseModel, lr: float = LR, weight_decay: float = WEIGHT_DECAY,
                 warmup_ratio: float = WARMUP_RATIO,
                 schedule: Literal["linear", "cosine", "constant"] = "linear",
                 label_smoothing: float = 0.0, class_weights: list[float] | None = None,
                 betas: tuple[float, ...] = (0.9, 0.999)) -> None:
        super().__init__(model)
        if class_weights is not None and len(class_weights) != model.num_labels:
            raise OptionError(f"`class_weights` has {len(class_weights)} weights for {model.num_labels} "
                              f"labels ({', '.join(model.labels)}); give one per label")
        for name, value in (("lr", lr), ("weight_decay", weight_decay)):
            if not math.isfinite(value) or value < 0 or (name == "lr" and value == 0):
                raise OptionError(f"`{name}` {value}: must be a finite number "
                                  f"{'above' if name == 'lr' else 'at least'} 0")
        if not 0 <= label_smoothing < 1:
            raise OptionError(f"`label_smoothing` {label_smoothing}: must be in [0, 1)")
        if not 0 <= warmup_ratio < 1:
            raise OptionError(f"`warmup_ratio` {warmup_ratio}: must be in [0, 1)")
        if len(betas) != 2:
            raise OptionError(f"`betas` needs two values, got {len(betas)}")
        self.lr, self.weight_decay, self.warmup_ratio = lr, weight_decay, warmup_ratio
        self.schedule, self.betas = schedule, (float(betas[0]), float(betas[1]))
        weights = torch.tensor(class_weights, dtype=torch.float) if class_weights else None
        self.loss = nn.CrossEntropyLoss(weight=weights, label_smoothing=label_smoothing)
        n = model.num_labels
        metrics = torchmetrics.MetricCollection({
            "acc": torchmetrics.classification.MulticlassAccuracy(n, average="micro"),
            "f1": torchmetrics.classification.MulticlassF1Score(n, average="macro"),
        })
        self.train_metrics = metrics.clone(prefix="train/")
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        self.confusion_metric = torchmetrics.classification.MulticlassConfusionMatrix(n)

    def _step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        logits = self(batch["input_ids"], batch["attention_mask"])
        loss = self.loss(logits.float(), batch["labels"])
        preds = logits.argmax(dim=-1)
        metrics = getattr(self, f"{stage}_metrics")
        metrics.update(preds, batch["labels"])
        on_step = stage == "train"
        self.log(f"{stage}/loss", loss, on_step=on_step, on_epoch=True, prog_bar=True,
                 batch_size=len(preds), sync_dist=not on_step)
        self.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=stage == "val")
        if stage == "test":
            self.confusion_metric.update(preds, batch["labels"])
        return loss

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self._step(batch, "train")
        self.log("lr", self.trainer.optimizers[0].param_groups[0]["lr"], on_step=True, on_epoch=False)
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

    def on_test_epoch_start(self) -> None:
        self.confusion_metric.reset()

    def on_test_epoch_end(self) -> None:
        self.confusion = self.confusion_metric.compute().cpu()

    def configure_optimizers(self) -> OptimizerLRSchedulerConfig:
        decay: list[nn.Parameter] = []
        no_decay: list[nn.Parameter] = []
        for param in self.model.parameters():
            if param.requires_grad:
                # Biases and norm weights are vectors: decaying them only hurts.
                (decay if param.ndim >= 2 else no_decay).append(param)
        groups = [{"params": decay, "weight_decay": self.weight_decay},
                  {"params": no_decay, "weight_decay": 0.0}]
        try:
            # One fused kernel for all parameters instead of a loop over them: on a CPU, 4-5x
            # faster a step for a 23M-parameter encoder (what transformers' Trainer uses too).
            optimizer = torch.optim.AdamW(groups, lr=self.lr, betas=self.betas, fused=True)
        except (RuntimeError, ValueError):  # a device or dtype without the fused kernel
            optimizer = torch.optim.AdamW(groups, lr=self.lr, betas=self.betas)
        total = self.planned_steps()
        warmup = int(total * self.warmup_ratio)
        scheduler = LambdaLR(optimizer, lr_lambda=schedule_factor(self.schedule, warmup, total))
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def schedule_factor(schedule: str, warmup: int, total: int):
    """The learning-rate multiplier at each optimizer step: warmup from 0, then the schedule."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        if schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        if schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        return 1.0 - progress

    return factor
