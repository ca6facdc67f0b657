"""Named components: which plugin provides what, resolved and imported only when chosen."""

from __future__ import annotations

import contextlib
import importlib
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from textclf.errors import ComponentError, did_you_mean
from textclf.kinds import KINDS, Kind

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def normalize_dist(name: str) -> str:
    """A distribution name in canonical form (PEP 503): ``Textclf_IMDB`` -> ``textclf-imdb``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Component:
    """A component a plugin registered: its kind, name, import path and one-line help."""

    #: The kind's name (``"lit-model"``).
    kind: str
    name: str
    target: str
    help: str
    plugin: str
    plugin_version: str

    @property
    def qualified_name(self) -> str:
        """``DIST:name``, the form that picks this component when two plugins share a name."""
        return f"{self.plugin}:{self.name}"

    def load(self) -> Any:
        """Import and return the class (or factory) this component names; what its module prints
        while imported goes to stderr."""
        module_name, _, attr = self.target.partition(":")
        where = f"{self.kind} '{self.name}' ({self.target}) from {self.plugin} {self.plugin_version}"
        try:
            # Output goes to stderr: printed to stdout it would corrupt `train --print-config`.
            with contextlib.redirect_stdout(sys.stderr):
                obj: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except ImportError as exc:
            hint = _missing_dependency_hint(exc)
            raise ComponentError(f"cannot import {where}: {_describe(exc)}{hint}") from exc
        except AttributeError as exc:
            raise ComponentError(
                f"cannot import {where}: {_describe(exc)}; the plugin registered a name its "
                f"module does not define, report it to the authors of {self.plugin}"
            ) from exc
        except Exception as exc:  # a plugin's module raising at import time is the plugin's bug
            raise ComponentError(f"cannot import {where}: {_describe(exc)}") from exc
        return obj


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _missing_dependency_hint(exc: ImportError) -> str:
    training = {"torch", "pytorch_lightning", "lightning", "transformers", "torchmetrics"}
    if (exc.name or "").split(".")[0] in training:
        return "; training needs the train extra: pip install 'textclf[train]'"
    return ""


def validate_registration(kind: Kind, name: object, target: object, help: object) -> None:
    """Raise ``ValueError`` when a ``register(...)`` call does not follow the plugin API."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"invalid {kind.name} name {name!r}: use letters, digits and - _ . + (no ':' or spaces)"
        )
    if not isinstance(target, str) or not _TARGET.match(target):
        raise ValueError(
            f"invalid import path {target!r} for {kind.name} '{name}': expected 'package.module:Class'"
        )
    if not isinstance(help, str):
        raise ValueError(f"help for {kind.name} '{name}' must be a string, got {type(help).__name__}")


class Registry:
    """Every registered component, by kind; several plugins may register the same name.

    A name that the ``builtin`` distribution registers is the built-in's when given bare, whoever
    else registers it; the others' components of that name are chosen with ``DIST:name``.
    """

    def __init__(self, *, builtin: str | None = None) -> None:
        self.builtin = builtin
        self._components: dict[str, list[Component]] = {kind.name: [] for kind in KINDS}

    def add(self, component: Component) -> None:
        self._components[component.kind].append(component)

    def __iter__(self) -> Iterator[Component]:
        for kind in KINDS:
            yield from self._components[kind.name]

    def names(self, kind: Kind) -> list[str]:
        """The distinct names registered for ``kind``, sorted."""
        return sorted({c.name for c in self._components[kind.name]})

    def collisions(self) -> dict[tuple[str, str], list[Component]]:
        """Names that more than one plugin registered and that are ambiguous given bare, with the
        components behind them; a built-in's name is not, as the built-in keeps it."""
        seen: dict[tuple[str, str], list[Component]] = {}
        for component in self:
            seen.setdefault((component.kind, component.name), []).append(component)
        return {key: found for key, found in seen.items()
                if len(found) > 1 and not any(c.plugin == self.builtin for c in found)}

    def get(self, kind: Kind, name: str) -> Component:
        """The component ``name`` (or ``DIST:name``) of ``kind``; a clear error otherwise."""
        plugin, sep, short = name.rpartition(":")
        found = [c for c in self._components[kind.name] if c.name == short]
        if sep:
            chosen = [c for c in found if c.plugin == normalize_dist(plugin)]
            if not chosen:
                providers = ", ".join(sorted(c.plugin for c in found)) or "no installed plugin"
                raise ComponentError(
                    f"{kind.flag} {name}: plugin {plugin} does not provide {kind.name} '{short}' "
                    f"(it is provided by: {providers}); see 'textclf plugins'"
                )
            found = chosen
        elif len(found) > 1:
            found = [c for c in found if c.plugin == self.builtin] or found
        if not found:
            raise ComponentError(self._unknown_message(kind, name))
        if len(found) > 1:
            plugins = " and ".join(c.plugin for c in found)
            choices = " or ".join(f"{kind.flag} {c.qualified_name}" for c in found)
            raise ComponentError(
                f"{kind.flag} {name}: {kind.name} '{name}' is provided by both {plugins}; "
                f"choose one with {choices}"
            )
        return found[0]

    def _unknown_message(self, kind: Kind, name: str) -> str:
        available = self.names(kind)
        if not available:
            return (
                f"{kind.flag} {name}: unknown {kind.name} '{name}'; no {kind.plural} are installed, "
                f"install a plugin that provides one (textclf install PACKAGE)"
            )
        return (
            f"{kind.flag} {name}: unknown {kind.name} '{name}' "
            f"(available {kind.plural}: {', '.join(available)}){did_you_mean(name, available)}"
        )
