"""Choosing components by name and resolving every option of a run.

Torch-free until a component is chosen: choosing imports the component's module, nothing more.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from textclf.errors import ComponentError
from textclf.options import NAME_KEY, Option, component_options, resolve_values, to_plain
from textclf.registry import Component, Registry
from textclf.training.options import TrainerOptions

DEFAULT_LIT_MODEL = "classifier"
#: Config section of each component kind.
SECTION = {"data": "data", "model": "model", "lit-model": "lit_model"}
#: Constructor arguments the pipeline supplies itself, so they are never options.
PIPELINE_ARGS = {"data": (), "model": ("labels", "train_texts"), "lit-model": ("model",)}
#: The base class each kind must derive from, imported only when a run is built.
CONTRACTS = {"data": "textclf.data:BaseDataModule", "model": "textclf.models:BaseModel",
             "lit-model": "textclf.lit_models:BaseLitModel"}


@dataclass
class Chosen:
    """A component picked for a run, with its class and its options."""

    kind: str
    component: Component
    cls: Any
    options: list[Option]

    @property
    def section(self) -> str:
        return SECTION[self.kind]

    def check_contract(self) -> None:
        """Fail clearly when the class does not implement its kind's contract."""
        module, _, name = CONTRACTS[self.kind].partition(":")
        base = getattr(__import__(module, fromlist=[name]), name)
        if not (inspect.isclass(self.cls) and issubclass(self.cls, base)):
            raise ComponentError(
                f"{self.kind} '{self.component.name}' ({self.component.target}) from "
                f"{self.component.plugin} {self.component.plugin_version} is not a "
                f"textclf.{name}; report this to the plugin's authors"
            )


def choose(registry: Registry, kind: str, name: str) -> Chosen:
    """Import the component ``name`` of ``kind``, check its contract, derive its options."""
    component = registry.get(kind, name)
    chosen = Chosen(kind, component, component.load(), [])
    chosen.check_contract()
    chosen.options = component_options(chosen.cls, SECTION[kind], PIPELINE_ARGS[kind])
    return chosen


def from_classes(classes: dict[str, Any], config: dict[str, dict[str, Any]] | None = None) -> Resolved:
    """A run's components given as classes rather than names: the Python API's way in.

    ``from_classes({"data": Files, "model": DistilBERT, "lit-model": Classifier},
    {"data": {"train": "train.csv"}, "trainer": {"max_epochs": 1}})``; options not given take the
    model's suggestions, then the constructors' defaults, exactly as on the command line.
    """
    chosen = {}
    for kind, cls in classes.items():
        target = f"{cls.__module__}:{cls.__qualname__}"
        component = Component(kind, cls.__name__.lower(), target, "", "python", "")
        chosen[kind] = Chosen(kind, component, cls, [])
        chosen[kind].check_contract()
        chosen[kind].options = component_options(cls, SECTION[kind], PIPELINE_ARGS[kind])
    return resolve(chosen, config or {}, {}, "config")


def resolve_recorded(registry: Registry, config: dict[str, dict[str, Any]], where: str,
                     overrides: dict[str, dict[str, Any]] | None = None) -> Resolved:
    """A run's recorded config resolved again, components found by their recorded names."""
    chosen = {kind: choose(registry, kind, config.get(section, {}).get(NAME_KEY, "") or "?")
              for kind, section in SECTION.items()}
    return resolve(chosen, config, overrides or {}, where)


def trainer_options() -> list[Option]:
    return component_options(TrainerOptions, "trainer", prefix=None)


@dataclass
class Resolved:
    """A run's components and the value of every one of their options, plus the trainer's."""

    chosen: dict[str, Chosen]
    values: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_config(self) -> dict[str, dict[str, Any]]:
        """The config a run records: each section with its component's qualified name first."""
        config: dict[str, dict[str, Any]] = {}
        for chosen in self.chosen.values():
            config[chosen.section] = {NAME_KEY: chosen.component.qualified_name,
                                      **to_plain(self.values[chosen.section])}
        config["trainer"] = to_plain(self.values["trainer"])
        return config

    def plugin_versions(self) -> dict[str, str]:
        from textclf import __version__

        versions = {"textclf": __version__}
        versions.update({c.component.plugin: c.component.plugin_version for c in self.chosen.values()})
        return versions


def resolve(chosen: dict[str, Chosen], config: dict[str, dict[str, Any]],
            command_line: dict[str, dict[str, Any]], where: str) -> Resolved:
    """Every option's value: command line, then config file, then the model's suggestion, then
    the constructor's default. The model resolves first, because it may suggest the others'."""
    resolved = Resolved(chosen)

    def section_values(options: list[Option], section: str, owner: str,
                       suggested: dict[str, Any] | None = None) -> dict[str, Any]:
        return resolve_values(options, config=config.get(section, {}),
                              command_line=command_line.get(section, {}), suggested=suggested,
                              where=f"{where}: {section}", owner=owner)

    suggestions: dict[str, dict[str, Any]] = {}
    model = chosen.get("model")
    if model is not None:
        resolved.values["model"] = section_values(model.options, "model", _owner(model))
        suggest = getattr(model.cls, "suggested_options", None)
        if callable(suggest):
            suggestions = suggest(resolved.values["model"]) or {}
    for kind, c in chosen.items():
        if kind != "model":
            resolved.values[c.section] = section_values(c.options, c.section, _owner(c),
                                                        suggestions.get(c.section))
    resolved.values["trainer"] = section_values(trainer_options(), "trainer", "the trainer",
                                                suggestions.get("trainer"))
    return resolved


def _owner(chosen: Chosen) -> str:
    return f"{chosen.kind} '{chosen.component.name}'"
