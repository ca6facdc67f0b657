"""Throwaway plugin distributions and ways to run the ``textclf`` CLI against them.

A ``PluginSite`` is a directory laid out as pip would have installed distributions into it:
each plugin is a module plus a ``<dist>-<version>.dist-info`` with ``METADATA`` and
``entry_points.txt``. Putting the directory on ``PYTHONPATH`` installs them for real: textclf
finds them through the same entry-point machinery as any installed plugin.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

#: The ``textclf`` script of the running environment.
TEXTCLF = str(Path(sys.executable).with_name("textclf"))

#: A plugin registering ``TinyModel`` as the model ``tiny``: ``site.add("textclf-tiny",
#: TINY_MODEL_PLUGIN)`` gives a data plugin's tests a model that trains in seconds.
TINY_MODEL_PLUGIN = '''
from textclf import hookimpl

@hookimpl
def register_models(register):
    register("tiny", "textclf.testing.models:TinyModel", help="Mean of word embeddings, for tests")
'''


class Result:
    """What a command printed and its exit status, like ``subprocess.CompletedProcess``."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


class PluginSite:
    """A directory of plugin distributions, as pip would have installed them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def add(self, dist: str, source: str, *, version: str = "1.0", module: str | None = None,
            entry: str | None = None, extra: dict[str, str] | None = None) -> str:
        """Install distribution ``dist`` whose entry point names a module with ``source``;
        ``extra`` maps further module names to their sources. Returns the module's name."""
        module = module or dist.replace("-", "_")
        (self.root / f"{module}.py").write_text(textwrap.dedent(source))
        for name, text in (extra or {}).items():
            (self.root / f"{name}.py").write_text(textwrap.dedent(text))
        info = self.root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[textclf]\n{entry or dist} = {module}\n")
        return module

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a textclf process that sees this site's plugins (and no
        ``TEXTCLF_*`` settings of the caller's)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TEXTCLF_")}
        path = os.pathsep.join(p for p in (str(self.root), os.environ.get("PYTHONPATH")) if p)
        env.update(PYTHONPATH=path, COLUMNS="250", NO_COLOR="1", **extra)
        return env

    def run(self, *args: str, env: dict[str, str] | None = None,
            cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run ``textclf ARGS`` in a subprocess, as a user would from a shell."""
        return subprocess.run([TEXTCLF, *args], capture_output=True, text=True,
                              env=self.env(**(env or {})), cwd=cwd, timeout=timeout)


def lines(text: str) -> list[str]:
    """The non-blank lines of a command's output."""
    return [line for line in text.splitlines() if line.strip()]


def table_rows(text: str) -> list[list[str]]:
    """The cells of each body row of a rich table, stripped."""
    return [
        [cell.strip() for cell in line.strip()[1:-1].split("│")]
        for line in text.splitlines() if line.startswith("│")
    ]


def forget_modules_under(root: Path) -> None:
    """Drop modules imported from ``root``, so that the next import reads their sources again."""
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", "") or "").startswith(str(root)):
            del sys.modules[name]
