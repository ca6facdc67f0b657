"""Shared fixtures for the core's tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from plugin_site import PluginSite


@pytest.fixture
def site(tmp_path: Path) -> PluginSite:
    """An empty plugin site; ``site.add(...)`` installs a plugin, ``site.run(...)`` runs textclf."""
    return PluginSite(tmp_path / "site")


@pytest.fixture
def cli(site, monkeypatch, capsys):
    """Run ``textclf ARGS`` inside the test process: the same CLI as the script, without paying
    for torch's import again. Plugins come from ``site``."""
    import os

    from plugin_site import Result

    from textclf.cli import main
    from textclf.plugins import reset_host

    monkeypatch.syspath_prepend(str(site.root))

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Result:
        with monkeypatch.context() as patch:
            for key in [k for k in os.environ if k.startswith("TEXTCLF_")]:
                patch.delenv(key)
            for key, value in (env or {}).items():
                patch.setenv(key, value)
            patch.setenv("COLUMNS", "250")
            if cwd is not None:
                patch.chdir(cwd)
            reset_host()
            forget_modules_under(site.root)
            capsys.readouterr()
            try:
                main(list(args))
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            out, err = capsys.readouterr()
        return Result(code, out, err)

    yield run
    forget_modules_under(site.root)


def forget_modules_under(root: Path) -> None:
    """Drop modules imported from ``root``, so that each test imports its own plugin sources."""
    import sys

    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", "") or "").startswith(str(root)):
            del sys.modules[name]
