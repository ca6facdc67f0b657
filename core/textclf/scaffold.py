"""``textclf plugins new``: a new plugin that works and has its tests, from the templates here."""

from __future__ import annotations

import keyword
import re
from importlib import resources
from dataclasses import dataclass
from pathlib import Path
from string import Template

from textclf import __version__
from textclf.errors import UsageError
from textclf.kinds import kind_named

#: What every distribution made by ``plugins new`` is called: ``textclf-<something>``.
PREFIX = "textclf-"

@dataclass(frozen=True)
class Starter:
    """The working component a new plugin of one kind starts with."""

    #: Its module, and the template that module is written from (``model.py.tmpl``).
    module: str
    #: Its help line, registered with it and shown by ``textclf plugins``.
    help: str
    #: The kit's checks its tests run, and the tests after the two every plugin has.
    checks: tuple[str, ...]
    tests: str
    #: Further names the tests import from ``textclf.testing``.
    imports: tuple[str, ...]
    #: What the tests show, for their module's docstring.
    summary: str
    #: How a user trains with it.
    usage: str


STARTERS = {
    "data": Starter(
        module="data",
        help="labelled texts from a JSON Lines file",
        checks=("check_plugin", "check_component", "check_training"),
        tests=('def test_a_few_training_steps(tmp_path):\n'
               '    sample = tmp_path / "sample.jsonl"\n'
               '    write_rows(sample, separable_texts(120))\n'
               '    check_training(tmp_path, data="$name", data_options={"path": str(sample)})\n'),
        imports=("separable_texts", "write_rows"),
        summary="it loads, keeps its contract, and trains",
        usage="textclf train --data $name --data.path texts.jsonl --model MODEL"),
    "model": Starter(
        module="model",
        help="a Kim-style CNN (convolutions 3, 4 and 5 tokens wide over word embeddings, "
             "max-pooled over time, then a linear layer)",
        checks=("check_plugin", "check_component", "check_model", "check_training", "check_export"),
        tests=('def test_the_model_keeps_the_model_contract():\n'
               '    # output width, padding, texts of 0, 1 and 2 tokens, the max length, save and load\n'
               '    check_model("$name")\n'
               '\n\n'
               'def test_a_few_training_steps(tmp_path):\n'
               '    check_training(tmp_path, model="$name")\n'
               '\n\n'
               'def test_the_exported_bundle_predicts_as_the_model_does(tmp_path):\n'
               '    check_export(tmp_path, model="$name")\n'),
        imports=(),
        summary="it loads, keeps the model contract, trains and exports",
        usage="textclf train --data DATA --model $name"),
    "lit-model": Starter(
        module="regime",
        help="SGD with Nesterov momentum and a cosine schedule",
        checks=("check_plugin", "check_component", "check_training"),
        tests=('def test_a_few_training_steps(tmp_path):\n'
               '    check_training(tmp_path, lit_model="$name")\n'),
        imports=(),
        summary="it loads, keeps its contract, and trains",
        usage="textclf train --data DATA --model MODEL --lit-model $name"),
}
#: Appended to a component's class name that would hide a name its module imports (``--name
#: tokenizer`` would make ``class Tokenizer``) or be a keyword (``--name none``).
_CLASS_SUFFIX = {"data": "Data", "model": "Model", "lit-model": "Regime"}
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_IMPORT = re.compile(r"^(?:from \S+ import (?P<names>.+)|import (?P<module>[\w.]+))$", re.MULTILINE)


def plugin_names(dist: str, name: str | None = None) -> tuple[str, str]:
    """The distribution and the component name ``plugins new DIST [--name NAME]`` means:
    ``textclf-`` is put in front of a DIST without it, and NAME defaults to DIST without it."""
    rest = dist[len(PREFIX):] if dist.startswith(PREFIX) else dist
    if not _NAME.match(rest):
        raise UsageError(f"plugins new {dist}: use lower-case letters, digits and hyphens, starting "
                         f"with a letter (e.g. movie-reviews, or textclf-movie-reviews)")
    if name is not None and not _NAME.match(name):
        raise UsageError(f"plugins new --name {name}: use lower-case letters, digits and hyphens, "
                         f"starting with a letter (e.g. textcnn)")
    return PREFIX + rest, rest if name is None else name


def new_plugin(dist: str, kind: str, output: Path, name: str | None = None) -> list[Path]:
    """Write the plugin distribution ``dist`` (``textclf-`` put in front if missing) under
    ``output``, providing a ``kind`` component called ``name`` (by default, ``dist`` without
    ``textclf-``); returns the files written. Everything is checked before anything is written."""
    dist, name = plugin_names(dist, name)
    if name in _builtin_names(kind):
        raise UsageError(f"plugins new --name {name}: textclf's own {kind} '{name}' has that name; a "
                         f"plugin's would be reachable only as {dist}:{name}; choose another name")
    root = output / dist
    if root.exists():
        raise UsageError(f"{root}: already exists; choose another name or --output")
    spec = STARTERS[kind]
    package = dist.replace("-", "_")
    templates = resources.files("textclf") / "templates"
    component = templates.joinpath(f"{spec.module}.py.tmpl").read_text()
    class_name = "".join(part.capitalize() for part in name.split("-"))
    if keyword.iskeyword(class_name) or class_name in _imported_names(component):
        class_name += _CLASS_SUFFIX[kind]
    major, minor = (int(part) for part in __version__.split(".")[:2])
    checks = list(spec.checks)
    values = {
        "name": name, "dist": dist, "package": package, "kind": kind, "hook": kind_named(kind).hook,
        "module": spec.module, "flag_prefix": kind, "help": spec.help, "class_name": class_name,
        "textclf_min": f"{major}.{minor}", "textclf_next": f"{major}.{minor + 1}",
        "summary": spec.summary, "imports": ", ".join(sorted([*checks, *spec.imports])),
        "kit": ", ".join(f"`{check}`" for check in checks[:-1]) + f" and `{checks[-1]}`",
    }
    values["tests"] = Template(spec.tests).substitute(values).rstrip("\n")
    values["usage"] = Template(spec.usage).substitute(values)
    files = {
        "pyproject.toml": "pyproject.toml.tmpl", "README.md": "README.md.tmpl",
        f"{package}/__init__.py": "init.py.tmpl", f"{package}/plugin.py": "plugin.py.tmpl",
        f"{package}/{spec.module}.py": f"{spec.module}.py.tmpl",
        "tests/test_plugin.py": "test_plugin.py.tmpl",
    }
    rendered = {target: Template(templates.joinpath(template).read_text()).substitute(values)
                for target, template in files.items()}
    written = []
    for target, text in rendered.items():
        path = root / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def next_steps(dist: str, kind: str, output: Path, name: str | None = None) -> list[str]:
    """What to do once ``new_plugin`` has written the plugin: test it, then train with it."""
    dist, name = plugin_names(dist, name)
    usage = Template(STARTERS[kind].usage).substitute(name=name)
    return [f"Next: cd {output / dist} && pip install -e '.[test]' && pytest",
            f"Then: {usage}"]


def _builtin_names(kind: str) -> list[str]:
    """The names of textclf's own components of ``kind`` (``files`` for data)."""
    from textclf import builtins

    found: list[str] = []
    hook = getattr(builtins, kind_named(kind).hook, None)
    if hook is not None:
        hook(lambda name, target, *, help="": found.append(name))
    return found


def _imported_names(source: str) -> set[str]:
    """The names a template's one-line imports bind."""
    names = set()
    for match in _IMPORT.finditer(source):
        if match["module"]:
            names.add(match["module"].split(".")[0])
        else:
            names.update(part.split(" as ")[-1].strip() for part in match["names"].split(","))
    return names
