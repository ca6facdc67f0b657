"""The command line itself: version, help, and that the quick commands stay light."""

from __future__ import annotations

import subprocess
import sys

import plugin_sources as src
import pytest
from textclf.testing import TEXTCLF

HEAVY = {"torch", "pytorch_lightning", "lightning", "transformers", "torchmetrics", "onnx"}


def imported_modules(site, *args: str) -> set[str]:
    """Top-level modules a ``textclf ARGS`` process imported, read from ``-X importtime``."""
    result = subprocess.run([sys.executable, "-X", "importtime", TEXTCLF, *args],
                            capture_output=True, text=True, env=site.env(), timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return {line.rsplit("|", 1)[1].strip().split(".")[0]
            for line in result.stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.parametrize("args", [("--help",), ("--version",), ("plugins",), ("plugins", "--json"),
                                  ("train", "--help"), ("export", "--help"), ("predict", "--help")])
def test_quick_commands_never_import_training_libraries(site, args):
    src.add_good(site)
    modules = imported_modules(site, *args)
    assert "click" in modules  # the measurement works
    assert modules & HEAVY == set()


def test_version(site):
    result = site.run("--version")
    assert (result.returncode, result.stdout) == (0, "textclf 0.1.0\n")
    assert site.run("-V").stdout == "textclf 0.1.0\n"


def test_help_lists_core_and_plugin_commands(site):
    src.add_good(site)
    result = site.run("--help")
    assert result.returncode == 0
    for command in ("export", "install", "plugins", "predict", "test", "train", "uninstall", "hello"):
        assert f"\n  {command} " in result.stdout


def test_python_dash_m_runs_the_cli(site):
    result = subprocess.run([sys.executable, "-m", "textclf", "--version"], capture_output=True,
                            text=True, env=site.env())
    assert result.stdout == "textclf 0.1.0\n"
