"""Where ``textclf export`` writes: only over a bundle or an empty directory, never over or around
the run, never over a bundle another export wrote meanwhile; and what killed writes leave behind
is cleaned up by the next one."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import plugin_sources as src
import pytest

from textclf import atomic
from textclf.testing import lines
from tiny_runs import trained_bundle

#: A write killed halfway: its temporary directory is left behind, its process gone.
KILLED = """
import os, signal, sys
from pathlib import Path
from textclf import atomic
with atomic.directory(Path(sys.argv[1])) as tmp:
    (tmp / "half-written").write_text("x")
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Any]:
    """A finished run of the tiny model and its fp32 bundle, made once for the module."""
    return trained_bundle(tmp_path_factory.mktemp("output"))


@pytest.fixture(autouse=True)
def tiny_plugin(textclf_site):
    """The in-process CLI sees the tiny model plugin too (exporting a run loads its model class)."""
    textclf_site.add("textclf-tiny", src.TINY_MODEL)


def tree(directory: Path) -> dict[str, str]:
    """Every path under ``directory`` (hidden ones too) with its content's digest."""
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(directory.rglob("*"))}


def precious(path: Path) -> Path:
    """A directory that is neither a bundle nor empty: somebody's work."""
    (path / "notes").mkdir(parents=True)
    (path / "notes" / "thesis.tex").write_text("\\chapter{Results}\n")
    (path / "data.csv").write_text("text,label\n")
    return path


def export(textclf_cli, trained, output: Path, *args: str):
    return textclf_cli("export", str(trained["run"]), "--output", str(output), *args, env=trained["env"])


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


# -- B: what --overwrite may replace ---------------------------------------------------------------
@pytest.mark.parametrize("overwrite", [True, False])
def test_a_directory_that_is_not_a_bundle_is_never_replaced(trained, textclf_cli, tmp_path, overwrite):
    output = precious(tmp_path / "precious")
    before = tree(output)
    result = export(textclf_cli, trained, output, *(["--overwrite"] if overwrite else []))
    assert (result.returncode, lines(result.stderr)) == (2, [
        f"error: --output {output}: exists and is neither a textclf bundle nor an empty directory, which are "
        f"all --overwrite replaces; choose another directory"])
    assert tree(output) == before and leftovers(tmp_path) == []


@pytest.mark.parametrize("where", ["run", "run/bundle", "run/model/bundle"])
def test_an_output_in_the_run_is_refused(trained, textclf_cli, tmp_path, where):
    run = Path(shutil.copytree(trained["run"], tmp_path / "run"))
    before = tree(run)
    output = tmp_path / where
    result = textclf_cli("export", str(run), "--output", str(output), "--overwrite", env=trained["env"])
    assert (result.returncode, lines(result.stderr)) == (2, [
        f"error: --output {output}: inside the run {run}, which the bundle must not change; choose a "
        f"directory outside it"])
    assert tree(run) == before


def test_an_output_holding_the_run_is_refused(trained, textclf_cli, tmp_path):
    run = Path(shutil.copytree(trained["run"], tmp_path / "runs" / "mine"))
    before = tree(tmp_path / "runs")
    output = tmp_path / "runs"
    result = textclf_cli("export", str(run), "--output", str(output), "--overwrite", env=trained["env"])
    assert (result.returncode, lines(result.stderr)) == (2, [
        f"error: --output {output}: holds the run {run}; choose a directory that does not"])
    assert tree(tmp_path / "runs") == before
    # The same run reached through a symbolic link is the same run.
    (tmp_path / "link").symlink_to(run)
    linked = textclf_cli("export", str(tmp_path / "link"), "--output", str(run / "b"), env=trained["env"])
    assert (linked.returncode, lines(linked.stderr)) == (2, [
        f"error: --output {run / 'b'}: inside the run {tmp_path / 'link'}, which the bundle must not change; "
        f"choose a directory outside it"])


def test_overwrite_replaces_a_bundle_or_an_empty_directory(trained, textclf_cli, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert export(textclf_cli, trained, empty, "--overwrite").returncode == 0
    old = Path(shutil.copytree(trained["bundle"], tmp_path / "old"))
    (old / "stale.txt").write_text("from an older bundle")
    result = export(textclf_cli, trained, old, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in old.iterdir()) == ["README.md", "model.onnx", "textclf.json", "tokenizer.json"]
    assert leftovers(tmp_path) == []


# -- C: two writers of one target ------------------------------------------------------------------
def test_a_directory_written_meanwhile_is_kept_and_the_new_one_refused(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(atomic.TargetExists):
        with atomic.directory(target, exist_ok=False) as tmp:
            (tmp / "mine").write_text("mine")
            precious(target)  # another process, between any check and the rename
    assert sorted(tree(target)) == ["data.csv", "notes", "notes/thesis.tex"]
    assert leftovers(tmp_path) == []


def test_with_exist_ok_the_first_writer_wins_silently(tmp_path):
    """What a content-addressed entry (the token cache) wants: both writers made the same."""
    target = tmp_path / "entry"
    with atomic.directory(target) as tmp:
        (tmp / "meta.json").write_text("second")
        target.mkdir()
        (target / "meta.json").write_text("first")
    assert (target / "meta.json").read_text() == "first" and leftovers(tmp_path) == []


def test_replace_replaces_only_what_it_checked(tmp_path):
    target = tmp_path / "out"
    (target / "textclf.json").parent.mkdir()
    (target / "textclf.json").write_text("{}")
    with pytest.raises(atomic.TargetExists):
        with atomic.directory(target, replace=True, replaceable=lambda p: (p / "textclf.json").exists()) as tmp:
            (tmp / "textclf.json").write_text("new")
            shutil.rmtree(target)
            precious(target)  # swapped for somebody's work after the caller checked it
    assert sorted(tree(target)) == ["data.csv", "notes", "notes/thesis.tex"]
    assert leftovers(tmp_path) == []


def test_a_writer_between_the_two_renames_loses_nothing(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "textclf.json").write_text("old")

    def replaceable(old: Path) -> bool:
        (target / "textclf.json").parent.mkdir()
        (target / "textclf.json").write_text("other")  # another export lands in that instant
        return True

    with pytest.raises(atomic.TargetExists) as caught:
        with atomic.directory(target, replace=True, replaceable=replaceable) as tmp:
            (tmp / "textclf.json").write_text("mine")
    assert (target / "textclf.json").read_text() == "other"
    kept = caught.value.kept
    assert kept is not None and kept.parent == tmp_path and (kept / "textclf.json").read_text() == "old"
    assert leftovers(tmp_path) == []


def test_two_exports_to_one_new_output_never_lose_one(trained, textclf_cli, tmp_path, monkeypatch):
    import textclf.export

    output = tmp_path / "bundle"
    parity = textclf.export._parity

    def other_export_finishes_first(*args: Any) -> Any:
        if not output.exists():
            shutil.copytree(trained["bundle"], output)
        return parity(*args)

    monkeypatch.setattr(textclf.export, "_parity", other_export_finishes_first)
    before = tree(trained["bundle"])
    result = export(textclf_cli, trained, output)
    assert (result.returncode, lines(result.stderr)[-1]) == (1, (
        f"error: --output {output}: written by another export meanwhile, and kept; nothing was written; replace "
        f"it with --overwrite, or choose another directory"))
    assert tree(output) == before and leftovers(tmp_path) == []


def test_overwrite_never_replaces_what_took_the_bundles_place_meanwhile(trained, textclf_cli, tmp_path,
                                                                         monkeypatch):
    import textclf.export

    output = Path(shutil.copytree(trained["bundle"], tmp_path / "bundle"))
    parity = textclf.export._parity

    def swapped_for_somebodys_work(*args: Any) -> Any:
        if (output / "textclf.json").exists():
            shutil.rmtree(output)
            precious(output)
        return parity(*args)

    monkeypatch.setattr(textclf.export, "_parity", swapped_for_somebodys_work)
    result = export(textclf_cli, trained, output, "--overwrite")
    assert (result.returncode, lines(result.stderr)[-1]) == (1, (
        f"error: --output {output}: changed while the bundle was written (another export to it, or no longer a "
        f"bundle) and was kept; nothing was written; export again"))
    assert sorted(tree(output)) == ["data.csv", "notes", "notes/thesis.tex"] and leftovers(tmp_path) == []


# -- D: what killed writes leave behind -------------------------------------------------------------
def killed_write(target: Path) -> Path:
    """The temporary directory a write of ``target`` killed halfway left behind."""
    before = set(target.parent.iterdir()) if target.parent.exists() else set()
    result = subprocess.run([sys.executable, "-c", KILLED, str(target)], capture_output=True)
    assert result.returncode == -9, result.stderr
    (left,) = set(target.parent.iterdir()) - before
    assert (left / "half-written").is_file() and not target.exists()
    return left


def named_like(left: Path, *, host: str | None = None, pid: int | None = None) -> Path:
    """A leftover named as ``left`` is, but from another host or process."""
    match = re.fullmatch(r"(\..+\.tmp-)([A-Za-z0-9]+)-(\d+)-(\w{7})\w", left.name)
    assert match, left.name
    name = f"{match[1]}{host or match[2]}-{pid or match[3]}-{match[4]}{'y' if left.name[-1] == 'x' else 'x'}"
    shutil.copytree(left, left.with_name(name))
    return left.with_name(name)


def aged(path: Path, seconds: float) -> Path:
    os.utime(path, (time.time() - seconds, time.time() - seconds))
    return path


def test_leftovers_of_killed_writes_are_removed_by_the_next_write(tmp_path):
    target = tmp_path / "out"
    dead = killed_write(target)
    alive = named_like(dead, pid=os.getpid())
    elsewhere = named_like(dead, host="otherhost")
    elsewhere_old = aged(named_like(dead, host="otherhost2"), atomic.STALE_AGE + 60)
    reused_pid_old = aged(named_like(dead, pid=1), atomic.STALE_AGE + 60)
    older_textclf = tmp_path / ".out.tmp-k2j4_x9a"
    older_textclf_old = aged(Path(shutil.copytree(dead, tmp_path / ".out.tmp-abcd1234")), atomic.STALE_AGE + 60)
    older_textclf.mkdir()
    other_target = Path(shutil.copytree(dead, tmp_path / dead.name.replace(".out.", ".other.", 1)))
    unrelated = [tmp_path / ".out.backup", tmp_path / ".out.old-2024"]  # somebody's own, however old
    for path in unrelated:
        path.mkdir()
        aged(path, atomic.STALE_AGE + 60)

    with atomic.directory(target) as tmp:
        (tmp / "done").write_text("x")
    assert (target / "done").is_file()
    gone = {dead, elsewhere_old, reused_pid_old, older_textclf_old}
    assert not any(p.exists() for p in gone)
    assert sorted(leftovers(tmp_path)) == sorted(p.name for p in (alive, elsewhere, older_textclf, other_target,
                                                                  *unrelated))


def test_a_replaced_target_moved_aside_by_a_killed_write_is_put_back(tmp_path):
    target = tmp_path / "out"
    dead = killed_write(target)
    old = dead.with_name(dead.name.replace(".tmp-", ".old-"))
    dead.rename(old)
    (old / "textclf.json").write_text("the bundle that was being replaced")
    assert atomic.clean_stale(target) == []
    assert (target / "textclf.json").read_text() == "the bundle that was being replaced"
    assert leftovers(tmp_path) == []


def test_the_next_export_removes_a_killed_exports_leftovers(trained, textclf_cli, tmp_path):
    output = tmp_path / "bundle"
    left = killed_write(output)
    result = export(textclf_cli, trained, output)
    assert result.returncode == 0, result.stderr
    assert not left.exists() and leftovers(tmp_path) == []


def test_the_token_cache_removes_a_killed_writes_leftovers(tmp_path):
    from textclf.data import cache

    entry = tmp_path / "cache" / cache.cache_key({"data": "x"})
    left = killed_write(entry)
    splits = {"train": cache.tokenize(lambda texts: [[1, 2, 3] for _ in texts], ["a", "b"], np.array([0, 1]))}
    cache.save(entry, splits, {"data": "x"})
    assert json.loads((entry / "meta.json").read_text())["rows"] == {"train": 2}
    assert not left.exists() and leftovers(entry.parent) == []
