"""Training the tiny model on a separable dataset, shared by the training and fault tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import plugin_sources as src
import pytest
from textclf.testing import PluginSite, write_separable_dataset


@pytest.fixture
def tiny(site, tmp_path):
    """A site with the tiny model plugin, a separable dataset and a private cache."""
    site.add("textclf-tiny", src.TINY_MODEL)
    site.data = write_separable_dataset(tmp_path / "data")
    site.cache = tmp_path / "cache"
    site.cwd = tmp_path
    return site


def train_args(site) -> list[str]:
    """``train`` with the separable dataset and the tiny model."""
    return ["train", "--data", "files", "--data.train", str(site.data["train"]),
            "--data.test", str(site.data["test"]), "--model", "tiny"]


def train(site, *args, env=None):
    """``textclf train`` on the separable dataset, in a subprocess."""
    return site.run(*train_args(site), *args, env={"TEXTCLF_CACHE": str(site.cache), **(env or {})},
                    cwd=site.cwd)


def resume(site, run: str, env=None):
    """``textclf train --resume RUN``, in a subprocess."""
    return site.run("train", "--resume", run, env={"TEXTCLF_CACHE": str(site.cache), **(env or {})},
                    cwd=site.cwd)


def digest(directory: Path) -> dict[str, str]:
    """Every file under ``directory`` and its SHA-256."""
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def trained_bundle(root: Path) -> dict:
    """Under ``root``: a finished run of the tiny model (``run``) and its fp32 bundle (``bundle``),
    with the site, environment and data that made them and what the export printed."""
    site = PluginSite(root / "site")
    site.add("textclf-tiny", src.TINY_MODEL)
    data = write_separable_dataset(root / "data")
    env = {"TEXTCLF_CACHE": str(root / "cache")}
    result = site.run("train", "--data", "files", "--data.train", str(data["train"]),
                      "--data.test", str(data["test"]), "--model", "tiny", "--run-dir", "run",
                      env=env, cwd=root)
    assert result.returncode == 0, result.stderr
    exported = site.run("export", "run", "--output", "bundle", env=env, cwd=root)
    assert exported.returncode == 0, exported.stderr
    return {"root": root, "run": root / "run", "bundle": root / "bundle", "site": site,
            "env": env, "export_stderr": exported.stderr, "data": data}
