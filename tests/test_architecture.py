"""The rules that keep textclf easy to change (docs/architecture.md), and its declared plugin API
(docs/plugins.md): each is checked here, so that breaking one fails a test, not a review."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import textclf
from textclf import hookspecs
from textclf.kinds import KINDS

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "core" / "textclf"
HEAVY = ("torch", "pytorch_lightning", "lightning", "transformers", "torchmetrics", "onnx")


def imports_of(source: str) -> set[tuple[str, str]]:
    """Every ``(module, name)`` a Python source imports, at any depth: ``import a.b`` gives
    ``("a.b", "")``, ``from a import b`` gives ``("a", "b")``."""
    found: set[tuple[str, str]] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update((alias.name, "") for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update((node.module, alias.name) for alias in node.names)
    return found


def loaded_after(statement: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``statement``."""
    probe = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


@pytest.mark.parametrize("module", ["textclf", "textclf.runtime", "textclf.text", "textclf.plugins", "textclf.signing",
                                    "textclf.run_config", "textclf.cli", "textclf.training.processes",
                                    "textclf.serve", "textclf.cli.serve"])
def test_light_modules_never_import_training_libraries(module):
    loaded = loaded_after(f"import {module}")
    assert module in loaded
    assert not {name.split(".")[0] for name in loaded} & set(HEAVY)


def test_the_plugin_host_does_not_import_the_command_line():
    loaded = loaded_after("from textclf.plugins import PluginHost\nPluginHost().load_builtins()")
    assert not [name for name in loaded if name == "textclf.cli" or name.startswith("textclf.cli.")]


def test_nothing_outside_the_cli_package_imports_it():
    def imports_cli(path: Path) -> bool:
        return any(module == "textclf.cli" or module.startswith("textclf.cli.")
                   or (module == "textclf" and name == "cli") for module, name in imports_of(path.read_text()))

    # ``python -m textclf`` (__main__.py) is the command line's own entry point.
    outside = [path for path in CORE.rglob("*.py") if path.relative_to(CORE).parts[0] not in ("cli", "__main__.py")]
    assert [str(path.relative_to(ROOT)) for path in outside if imports_cli(path)] == []


#: Modules a plugin may import from, besides ``textclf`` itself.
PUBLIC_MODULES = ("textclf.runtime", "textclf.testing", "textclf.hookspecs")


def plugin_sources() -> dict[Path, str]:
    """The repository's plugins, examples, and the templates ``plugins new`` writes from (their
    $placeholders made into names)."""
    files = [path for base in ("plugins", "examples") for path in (ROOT / base).rglob("*.py")]
    sources = {path: path.read_text() for path in files}
    sources.update({path: path.read_text().replace("$training", "    pass").replace("$", "x")
                    for path in (CORE / "templates").glob("*.py.tmpl")})
    return sources


def test_plugins_examples_and_templates_use_only_the_public_api():
    def internal(module: str, name: str) -> bool:
        if module == "textclf":
            return name not in textclf.__all__ and f"textclf.{name}" not in PUBLIC_MODULES
        return module.split(".")[0] == "textclf" and not any(
            module == public or module.startswith(f"{public}.") for public in PUBLIC_MODULES)

    found = {str(path.relative_to(ROOT)): sorted(f"{module}:{name}" for module, name in imports_of(source)
                                                 if internal(module, name))
             for path, source in plugin_sources().items()}
    assert {path: names for path, names in found.items() if names} == {}


def test_the_public_api_resolves_and_is_documented():
    documented = (ROOT / "docs" / "plugins.md").read_text()
    for name in textclf.__all__:
        assert getattr(textclf, name) is not None
        assert re.search(rf"`(textclf\.)?{re.escape(name)}\b", documented), f"{name} is not in docs/plugins.md"


def test_every_hook_is_documented_and_every_kind_has_its_hook():
    documented = (ROOT / "docs" / "plugins.md").read_text()
    specs = {name for name, value in vars(hookspecs).items() if hasattr(value, "textclf_spec")}
    for name in specs:
        assert f"`{name}(" in documented, f"hook {name} is not in docs/plugins.md"
        assert getattr(hookspecs, name).__doc__, f"hook {name} has no docstring"
    assert {kind.hook for kind in KINDS} <= specs
    for kind in KINDS:
        assert kind.base_class().__doc__, f"{kind.base} has no docstring"


def test_the_package_ships_its_type_information():
    assert (CORE / "py.typed").is_file()
