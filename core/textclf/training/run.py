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

import contextlib
import json
import shutil
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textclf import atomic
from textclf.errors import TextclfError, UsageError

RUNS = Path("runs")


class NoCheckpoint(UsageError):
    """A run to resume has no checkpoint that can be read."""


def checkpoint_problem(path: Path) -> str | None:
    """What is wrong with a checkpoint file (``"is missing"``, ``"is damaged (...)"``), or None.

    A checkpoint is a zip archive; reading every member against its CRC finds a truncated or
    corrupted one without unpickling anything."""
    if not path.is_file():
        return "is missing"
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        return f"is damaged ({exc})"
    return None if bad is None else f"is damaged (member {bad} fails its CRC check)"


def default_run_dir(data: str, model: str) -> Path:
    """``runs/<data>-<model>-<time>``, from the components' names."""
    return RUNS / f"{data}-{model}-{time.strftime('%Y%m%d-%H%M%S')}"


class RunDir:
    """Paths and records of one run directory."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._resume_from: Path | None = None

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
    def check_target(cls, path: Path, overwrite: bool) -> None:
        """Refuse, before any work, a run directory that is taken, unless ``overwrite`` may replace
        it: only a run may be replaced (or an empty directory used), never other files."""
        if not cls.taken(path):
            return
        if not overwrite:
            cls.ensure_free(path)
        if not (path.is_dir() and ((path / "config.yaml").is_file() or (path / "run.json").is_file())):
            raise UsageError(
                f"--run-dir {path}: exists and is not a textclf run (no config.yaml or run.json in "
                f"it); --overwrite replaces only runs, so choose another --run-dir"
            )

    @classmethod
    def create(cls, path: Path, overwrite: bool) -> RunDir:
        """A new, empty run directory; an existing run only with ``overwrite``."""
        if cls.taken(path):
            cls.check_target(path, overwrite)
            shutil.rmtree(path)
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
        """Record the run's status; ``extra`` values of None are left out. Where it stopped and why
        (epoch, step, error) describe one status, so a new status drops the old ones."""
        state = {k: v for k, v in self.state().items() if k not in ("epoch", "step", "error")}
        state.update(status=status, updated=time.strftime("%Y-%m-%dT%H:%M:%S"),
                     **{k: v for k, v in extra.items() if v is not None})
        state.setdefault("command", sys.argv)
        text = json.dumps(state, indent=2) + "\n"
        try:
            atomic.write_text(self.state_file, text)
        except OSError:
            # A full disk has no room for a temporary file; the small record may still fit in place.
            with contextlib.suppress(OSError), self.state_file.open("w", encoding="utf-8") as handle:
                handle.write(text)

    def resume_checkpoint(self, echo: Callable[[str], None] | None = None) -> Path:
        """The checkpoint a resumed run continues from: ``last.ckpt`` when it is whole, else
        ``best.ckpt`` (saying so through ``echo``). Checked once; ``NoCheckpoint`` when neither is."""
        if self._resume_from is None:
            problems: dict[str, str] = {}
            for path in (self.last_checkpoint, self.best_checkpoint):
                problem = checkpoint_problem(path)
                if problem is None:
                    if problems and echo:
                        echo(f"warning: {self.last_checkpoint.name} {problems[self.last_checkpoint.name]}; "
                             f"continuing from {path.name} instead")
                    self._resume_from = path
                    break
                problems[path.name] = problem
            else:
                start_again = (f"start it again with --config {self.config_file} --run-dir {self.path} "
                               f"--overwrite")
                if all(problem == "is missing" for problem in problems.values()):
                    raise NoCheckpoint(f"--resume {self.path}: no checkpoint to continue from (it "
                                       f"stopped before its first one); {start_again}")
                damage = "; ".join(f"{name} {problem}" for name, problem in problems.items())
                raise NoCheckpoint(f"--resume {self.path}: no whole checkpoint to continue from "
                                   f"({damage}); {start_again}")
        return self._resume_from

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        atomic.write_text(self.metrics_file, json.dumps(metrics, indent=2) + "\n")

    def read_metrics(self) -> dict[str, Any]:
        """What ``write_metrics`` wrote ({} before the run has finished)."""
        if not self.metrics_file.is_file():
            return {}
        recorded: dict[str, Any] = json.loads(self.metrics_file.read_text())
        return recorded
