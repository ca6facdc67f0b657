"""pytest fixtures for textclf and its plugins, loaded through the ``pytest11`` entry point.

- ``textclf_site``: an empty ``PluginSite``; ``textclf_site.add(...)`` installs a throwaway
  plugin, ``textclf_site.run(...)`` runs the ``textclf`` script in a subprocess.
- ``textclf_cli``: runs ``textclf ARGS`` inside the test process (plugins from
  ``textclf_site``), returning a ``Result``; much faster when a command would import torch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

import pytest

from textclf.testing.sites import PluginSite, Result, forget_modules_under


@pytest.fixture
def textclf_site(tmp_path: Path) -> PluginSite:
    return PluginSite(tmp_path / "site")


@pytest.fixture
def textclf_cli(textclf_site: PluginSite, monkeypatch: pytest.MonkeyPatch,
                capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., Result]]:
    # The function the installed ``textclf`` script runs; each call is a fresh invocation.
    main = next(iter(metadata.entry_points(group="console_scripts", name="textclf"))).load()
    monkeypatch.syspath_prepend(str(textclf_site.root))

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Result:
        with monkeypatch.context() as patch:
            for key in [k for k in os.environ if k.startswith("TEXTCLF_")]:
                patch.delenv(key)
            for key, value in (env or {}).items():
                patch.setenv(key, value)
            patch.setenv("COLUMNS", "250")
            if cwd is not None:
                patch.chdir(cwd)
            forget_modules_under(textclf_site.root)
            capsys.readouterr()
            try:
                main(list(args))
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            out, err = capsys.readouterr()
        return Result(code, out, err)

    yield run
    forget_modules_under(textclf_site.root)
