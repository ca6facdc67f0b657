"""Checkpoints that are whole or absent.

Lightning writes a checkpoint straight to its final path, so a full disk or a kill mid-write
leaves a truncated ``last.ckpt`` that a resume cannot read. Here every checkpoint is written to a
temporary file beside its target, flushed to disk and renamed over it: the previous checkpoint
stays intact until the new one is complete. A write that fails is one clear error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from textclf import atomic
from textclf.errors import TextclfError


class CheckpointWriteError(TextclfError):
    """A checkpoint could not be written (a full disk, say); the previous one is intact."""


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose writes are atomic and whose failures are one line."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        target = Path(path)
        try:
            with atomic.file(target, "wb", durable=True) as handle:
                torch.save(checkpoint, handle)
        except OSError as exc:
            raise CheckpointWriteError(f"{_shown(target)}: cannot write the checkpoint ({exc.strerror}); "
                                       f"the previous one is kept") from None


def _shown(path: Path) -> Path:
    """``path`` as the user named the run (Lightning hands checkpoints absolute paths)."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


#: What a checkpoint needs only to resume training, not to hold the model: the optimizer's
#: moments (twice the weights' size for Adam) and the schedulers.
TRAINING_STATE = ("optimizer_states", "lr_schedulers")


def keep_weights_only(path: Path) -> int:
    """Rewrite the checkpoint at ``path`` without its optimizer and scheduler state (atomically);
    returns the bytes saved. What is left loads as before (``load_from_checkpoint``, evaluation),
    but no longer resumes training."""
    before = path.stat().st_size
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    if not any(key in checkpoint for key in TRAINING_STATE):
        return 0
    for key in TRAINING_STATE:
        checkpoint.pop(key, None)
    checkpoint["textclf_weights_only"] = True
    AtomicCheckpointIO().save_checkpoint(checkpoint, path)
    return before - path.stat().st_size
