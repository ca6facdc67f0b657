"""The run directory: everything a run produced, enough to test, export or resume it.

::

    runs/<name>/
        config.yaml        every option of the run, with the plugins and versions that made it
        run.json           status (running, interrupted, completed), times, the command line
        checkpoints/       best.ckpt (by the lit-model's validation metric) and last.ckpt
        model/             the trained model in portable form (BaseModel.save)
        metrics.json       validation and test metrics of the best model, confusion matrix
        logs/              metrics.csv (and TensorBoard event files when tensorboard is installed)
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from textclf import atomic
from textclf.errors import TextclfError, UsageError

RUNS = Path("runs")


def default_run_dir(data: str, model: str) -> Path:
    """``runs/<data>-<model>-<time>``, from the components' names."""
    return RUNS / f"{data}-{model}-{time.strftime('%Y%m%d-%H%M%S')}"


class RunDir:
    """Paths and records of one run directory."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    config_file = property(lambda self: self.path / "config.yaml")
    state_file = property(lambda self: self.path / "run.json")
    metrics_file = property(lambda self: self.path / "metrics.json")
    model_dir = property(lambda self: self.path / "model")
    checkpoints = property(lambda self: self.path / "checkpoints")
    best_checkpoint = property(lambda self: self.checkpoints / "best.ckpt")
    last_checkpoint = property(lambda self: self.checkpoints / "last.ckpt")

    @staticmethod
    def taken(path: Path) -> bool:
        """Whether ``path`` holds something a new run would replace."""
        return path.exists() and (not path.is_dir() or any(path.iterdir()))

    @classmethod
    def ensure_free(cls, path: Path) -> None:
        """Refuse, before any work, a run directory that is already taken."""
        if cls.taken(path):
            raise UsageError(
                f"--run-dir {path}: already exists; choose another --run-dir, continue it "
                f"with --resume {path}, or replace it with --overwrite"
            )

    @classmethod
    def create(cls, path: Path, overwrite: bool) -> RunDir:
        """A new, empty run directory; an existing non-empty one only with ``overwrite``."""
        if cls.taken(path):
            if not overwrite:
                cls.ensure_free(path)
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TextclfError(f"--run-dir {path}: cannot create it: {exc.strerror}") from None
        return cls(path)

    @classmethod
    def open(cls, path: Path, what: str) -> RunDir:
        """An existing run directory; ``what`` names the option for the error message."""
        run = cls(path)
        if not run.config_file.is_file():
            reason = "no such directory" if not path.exists() else "no config.yaml in it"
            raise UsageError(f"{what} {path}: not a textclf run ({reason})")
        return run

    @classmethod
    def open_finished(cls, path: Path, what: str) -> RunDir:
        """An existing run that completed (what ``test`` and ``export`` need)."""
        run = cls.open(path, what)
        status = run.state().get("status")
        if status != "completed":
            raise UsageError(f"{path}: the run has not finished (status: {status or 'unknown'}); "
                             f"continue it with textclf train --resume {path}")
        return run

    def recorded_config(self, where: str | None = None) -> dict[str, dict[str, Any]]:
        """The run's config.yaml, checked like a --config file (``where`` names it in errors)."""
        from textclf.config import normalize_config

        return normalize_config(self.read_config(), where or str(self.config_file))

    def read_config(self) -> dict[str, Any]:
        import yaml

        try:
            return yaml.safe_load(self.config_file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise TextclfError(f"{self.config_file}: unreadable ({exc}); the run is damaged") from None

    def write_config(self, config: dict[str, Any]) -> None:
        import yaml

        atomic.write_text(self.config_file, yaml.safe_dump(config, sort_keys=False))

    def state(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def set_state(self, status: str, **extra: Any) -> None:
        state = self.state()
        state.update(status=status, updated=time.strftime("%Y-%m-%dT%H:%M:%S"), **extra)
        state.setdefault("command", sys.argv)
        atomic.write_text(self.state_file, json.dumps(state, indent=2) + "\n")

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        atomic.write_text(self.metrics_file, json.dumps(metrics, indent=2) + "\n")
