"""``textclf install`` / ``uninstall`` run pip in textclf's environment, broken plugins or not."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from pathlib import Path

import plugin_sources as src
import pytest
from textclf.testing import lines

DIST = "textclf-roundtrip-probe"


def build_wheel(directory: Path) -> Path:
    """A minimal, valid wheel of a plugin that provides one data component."""
    files = {
        "textclf_roundtrip_probe.py": src.data_only("probe", "textclf_roundtrip_probe:Probe", "Probe data"),
        "textclf_roundtrip_probe-1.0.dist-info/METADATA":
            f"Metadata-Version: 2.1\nName: {DIST}\nVersion: 1.0\n",
        "textclf_roundtrip_probe-1.0.dist-info/WHEEL":
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        "textclf_roundtrip_probe-1.0.dist-info/entry_points.txt":
            "[textclf]\nprobe = textclf_roundtrip_probe\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    record.append("textclf_roundtrip_probe-1.0.dist-info/RECORD,,")
    files["textclf_roundtrip_probe-1.0.dist-info/RECORD"] = "\n".join(record) + "\n"
    wheel = directory / "textclf_roundtrip_probe-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel


def plugin_names(site) -> list[str]:
    result = site.run("plugins", "--json")
    return [p["name"] for p in json.loads(result.stdout)["plugins"]]


@pytest.mark.timeout(300)
def test_install_and_uninstall_round_trip_with_a_broken_plugin_present(site, tmp_path):
    site.add("textclf-bad", src.BROKEN_IMPORT)
    strict = {"TEXTCLF_STRICT_PLUGINS": "1"}  # not even strict mode may stop install/uninstall
    wheel = build_wheel(tmp_path)
    try:
        installed = site.run("install", "--no-index", "--no-deps", str(wheel), env=strict)
        assert installed.returncode == 0, installed.stderr
        assert f"Successfully installed {DIST}-1.0" in installed.stdout
        assert DIST in plugin_names(site)

        removed = site.run("uninstall", "-y", DIST, env=strict)
        assert removed.returncode == 0, removed.stderr
        assert f"Successfully uninstalled {DIST}-1.0" in removed.stdout
        assert DIST not in plugin_names(site)
    finally:
        site.run("uninstall", "-y", DIST)


def test_install_failure_is_one_error_with_pips_status(site, tmp_path):
    result = site.run("install", "--no-index", str(tmp_path / "missing-1.0-py3-none-any.whl"))
    assert result.returncode == 1
    assert lines(result.stderr)[-1] == (
        f"error: pip install --no-index {tmp_path / 'missing-1.0-py3-none-any.whl'} failed "
        f"(exit status 1); see pip's output above"
    )


def test_install_needs_a_package(site):
    result = site.run("install")
    assert result.returncode == 2
    assert lines(result.stderr) == [
        "error: Missing argument 'PIP_ARGS...'. (see 'textclf install --help')"
    ]
