"""``textclf plugins new``: a new plugin that works and has its tests, from the templates here."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

from textclf import __version__
from textclf.errors import UsageError
from textclf.kinds import kind_named

#: The working component a new plugin of each kind starts with: its module (and template), its
#: help line, how its tests train it, and how a user trains with it.
STARTERS = {
    "data": {"module": "data",
             "help": "labelled texts from a JSON Lines file",
             "training": ('    sample = tmp_path / "sample.jsonl"\n'
                          '    write_rows(sample, separable_texts(120))\n'
                          '    check_training(tmp_path, data="$name", data_options={"path": str(sample)})'),
             "usage": "textclf train --data $name --data.path texts.jsonl --model MODEL"},
    "model": {"module": "model",
              "help": "averaged word embeddings and a linear layer",
              "training": '    check_training(tmp_path, model="$name")',
              "usage": "textclf train --data DATA --model $name"},
    "lit-model": {"module": "regime",
                  "help": "SGD with Nesterov momentum and a cosine schedule",
                  "training": '    check_training(tmp_path, lit_model="$name")',
                  "usage": "textclf train --data DATA --model MODEL --lit-model $name"},
}
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def new_plugin(name: str, kind: str, output: Path) -> list[Path]:
    """Write the plugin ``textclf-NAME`` providing a ``kind`` component called ``name`` under
    ``output``; returns the files written."""
    if not _NAME.match(name):
        raise UsageError(f"plugins new {name}: use lower-case letters, digits and hyphens, "
                         f"starting with a letter (e.g. movie-reviews)")
    dist = f"textclf-{name}"
    root = output / dist
    if root.exists():
        raise UsageError(f"{root}: already exists; choose another name or --output")
    spec = STARTERS[kind]
    package = dist.replace("-", "_")
    major, minor = (int(part) for part in __version__.split(".")[:2])
    values = {
        "name": name, "dist": dist, "package": package, "kind": kind, "hook": kind_named(kind).hook,
        "module": spec["module"], "flag_prefix": kind, "help": spec["help"],
        "class_name": "".join(part.capitalize() for part in name.split("-")),
        "textclf_min": f"{major}.{minor}", "textclf_next": f"{major}.{minor + 1}",
    }
    values["training"] = Template(spec["training"]).substitute(values)
    values["usage"] = Template(spec["usage"]).substitute(values)
    files = {
        "pyproject.toml": "pyproject.toml.tmpl", "README.md": "README.md.tmpl",
        f"{package}/__init__.py": "init.py.tmpl", f"{package}/plugin.py": "plugin.py.tmpl",
        f"{package}/{spec['module']}.py": f"{spec['module']}.py.tmpl",
        "tests/test_plugin.py": "test_plugin.py.tmpl",
    }
    templates = resources.files("textclf") / "templates"
    written = []
    for target, template in files.items():
        path = root / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(templates.joinpath(template).read_text()).substitute(values))
        written.append(path)
    return written
