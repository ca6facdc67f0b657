"""``textclf plugins new``: each kind of generated plugin installs and passes its own tests."""

from __future__ import annotations

import subprocess
import sys

from textclf.testing import lines

KINDS = {"data": "demo-data", "model": "demo-model", "lit-model": "demo-regime"}


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)


def test_every_kind_of_new_plugin_installs_and_passes_its_own_tests(site, tmp_path):
    for kind, name in KINDS.items():
        made = site.run("plugins", "new", name, "--kind", kind, "--output", str(tmp_path))
        assert made.returncode == 0, made.stderr
        assert lines(made.stdout)[-1] == (
            f"Next: cd {tmp_path / f'textclf-{name}'} && pip install -e '.[test]' && pytest")
    dists = [f"textclf-{name}" for name in KINDS.values()]
    try:
        installed = pip("install", "--no-index", "--no-build-isolation", "--no-deps",
                        *(str(tmp_path / d) for d in dists))
        assert installed.returncode == 0, installed.stderr
        listed = site.run("plugins", "--json")
        assert set(dists) <= {p["name"] for p in __import__("json").loads(listed.stdout)["plugins"]}
        tested = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                 "--import-mode=importlib", *(str(tmp_path / d / "tests") for d in dists)],
                                capture_output=True, text=True, cwd=tmp_path, timeout=600)
        assert tested.returncode == 0, tested.stdout[-3000:]
        assert "9 passed" in tested.stdout
    finally:
        pip("uninstall", "-y", *dists)


def test_new_refuses_bad_names_and_existing_directories(site, tmp_path):
    bad = site.run("plugins", "new", "Movie_Reviews", "--output", str(tmp_path))
    assert (bad.returncode, lines(bad.stderr)) == (2, [
        "error: plugins new Movie_Reviews: use lower-case letters, digits and hyphens, starting "
        "with a letter (e.g. movie-reviews)"])
    (tmp_path / "textclf-taken").mkdir()
    taken = site.run("plugins", "new", "taken", "--output", str(tmp_path))
    assert (taken.returncode, lines(taken.stderr)) == (2, [
        f"error: {tmp_path / 'textclf-taken'}: already exists; choose another name or --output"])
