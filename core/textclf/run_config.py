"""A run's configuration, resolved once: the chosen components and the value of every option.

::

    command line / config file / a run's config.yaml / Python dicts
        -> resolve()      the precedence, in resolve_values(), and nowhere else
        -> RunConfig      what the pipeline, export and test take

Torch-free until a component is chosen: choosing imports the component's module, nothing more.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from textclf.errors import ComponentError, UsageError, component_code, did_you_mean, options_of
from textclf.kinds import KINDS, MODEL, TRAINER, Kind, kind_named
from textclf.options import NAME_KEY, Option, component_options, to_plain
from textclf.registry import Component, Registry
from textclf.training.trainer_options import TrainerOptions, naming_trainer_options

#: Sections and the values given in each: ``{"data": {"batch_size": 64}}``.
Sections = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Chosen:
    """A component picked for a run: its registration, its class, its options and (once resolved)
    their values."""

    kind: Kind
    component: Component
    cls: Any
    options: tuple[Option, ...]
    values: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def by_name(cls, registry: Registry, kind: Kind, name: str) -> Chosen:
        """Import the component ``name`` of ``kind``, check its contract, derive its options."""
        component = registry.get(kind, name)
        return cls._checked(kind, component, component.load())

    @classmethod
    def by_class(cls, kind: Kind, klass: type) -> Chosen:
        """A component given as a class (the Python API's way in)."""
        target = f"{klass.__module__}:{klass.__qualname__}"
        return cls._checked(kind, Component(kind.name, klass.__name__.lower(), target, "", "python", ""), klass)

    @classmethod
    def _checked(cls, kind: Kind, component: Component, klass: Any) -> Chosen:
        base = kind.base_class()
        if not (inspect.isclass(klass) and issubclass(klass, base)):
            raise ComponentError(
                f"{kind.name} '{component.name}' ({component.target}) from {component.plugin} "
                f"{component.plugin_version} is not a textclf.{base.__name__}; report this to the "
                f"plugin's authors"
            )
        return cls(kind, component, klass, tuple(component_options(klass, kind.section, kind.supplied)))

    @property
    def owner(self) -> str:
        """How messages name it: ``data 'imdb'``."""
        return f"{self.kind.name} '{self.component.name}'"

    def naming_options(self) -> AbstractContextManager[None]:
        """Errors raised inside name this component's options (see ``textclf.errors``)."""
        return options_of(self.kind.section, (o.name for o in self.options))

    @contextmanager
    def constructing(self) -> Iterator[None]:
        """Around the component's constructor (or a model's ``load``): what it raises is one
        line naming the component and its options, whatever the exception's type."""
        with self.naming_options(), component_code(self.owner, [o.name for o in self.options]):
            yield

    def build(self, **supplied: Any) -> Any:
        """The component, constructed with the resolved values and what the pipeline ``supplied``."""
        with self.constructing():
            return self.cls(**supplied, **self.values)


@dataclass(frozen=True)
class RunConfig:
    """Every component of a run with its options' values, and the trainer's options."""

    components: Mapping[str, Chosen]
    trainer: TrainerOptions

    def __getitem__(self, kind: Kind) -> Chosen:
        return self.components[kind.name]

    def as_config(self) -> dict[str, dict[str, Any]]:
        """The config a run records: each section with its component's qualified name first."""
        config = {c.kind.section: {NAME_KEY: c.component.qualified_name, **to_plain(dict(c.values))}
                  for c in self.components.values()}
        config[TRAINER] = to_plain(dataclasses.asdict(self.trainer))
        return config

    def plugin_versions(self) -> dict[str, str]:
        from textclf import __version__

        versions = {"textclf": __version__}
        versions.update({c.component.plugin: c.component.plugin_version for c in self.components.values()})
        return versions


def trainer_options() -> list[Option]:
    return component_options(TrainerOptions, TRAINER)


def resolve_values(options: list[Option] | tuple[Option, ...], *, command_line: Mapping[str, Any],
                   config: Mapping[str, Any], suggested: Mapping[str, Any] | None = None,
                   where: str, owner: str) -> dict[str, Any]:
    """The value of every option, by the one rule of precedence: the command line, else the
    config file, else the model's suggestion, else the constructor's default."""
    suggested = suggested or {}
    known = {o.name for o in options}
    for key in config:
        if key != NAME_KEY and key not in known:
            guess = did_you_mean(key, known) or f"; its options are: {', '.join(sorted(known)) or 'none'}"
            raise UsageError(f"{where}: unknown key '{key}' for {owner}{guess}")
    values: dict[str, Any] = {}
    missing: list[str] = []
    for option in options:
        if option.name in command_line:
            values[option.name] = command_line[option.name]
        elif option.name in config:
            values[option.name] = option.convert(config[option.name], f"{where}: {option.name}")
        elif option.name in suggested:
            values[option.name] = option.convert(suggested[option.name], f"{owner} suggestion")
        elif option.required:
            missing.append(option.flag)
        else:
            values[option.name] = option.default
    if missing:
        raise UsageError(f"{owner} needs {', '.join(missing)}; set it on the command line or in --config")
    return values


def resolve(chosen: Mapping[str, Chosen], config: Sections, command_line: Sections, where: str) -> RunConfig:
    """The values of every chosen component's options and of the trainer's. The model resolves
    first, because it may suggest values for the other sections."""
    def values(options: Any, section: str, owner: str, suggested: Mapping[str, Any]) -> dict[str, Any]:
        return resolve_values(options, command_line=command_line.get(section, {}),
                              config=config.get(section, {}), suggested=suggested,
                              where=f"{where}: {section}", owner=owner)

    suggestions: Mapping[str, Mapping[str, Any]] = {}
    resolved: dict[str, Chosen] = {}
    model = chosen.get(MODEL.name)
    if model is not None:
        resolved[MODEL.name] = dataclasses.replace(
            model, values=values(model.options, MODEL.section, model.owner, {}))
        suggestions = model.cls.suggested_options(dict(resolved[MODEL.name].values)) or {}
    for kind in KINDS:
        if kind.name in chosen and kind is not MODEL:
            c = chosen[kind.name]
            resolved[kind.name] = dataclasses.replace(
                c, values=values(c.options, kind.section, c.owner, suggestions.get(kind.section, {})))
    trainer = values(trainer_options(), TRAINER, "the trainer", suggestions.get(TRAINER, {}))
    ordered = {kind.name: resolved[kind.name] for kind in KINDS if kind.name in resolved}
    with naming_trainer_options():
        return RunConfig(ordered, TrainerOptions(**trainer))


def from_classes(classes: Mapping[str, type], config: Sections | None = None) -> RunConfig:
    """A run's components given as classes rather than names: the Python API's way in.

    ``from_classes({"data": Files, "model": DistilBERT, "lit-model": Classifier},
    {"data": {"train": "train.csv"}, "trainer": {"max_epochs": 1}})``; options not given take the
    model's suggestions, then the constructors' defaults, exactly as on the command line.
    """
    chosen = {kind.name: Chosen.by_class(kind, cls)
              for kind, cls in ((kind_named(name), cls) for name, cls in classes.items())}
    return resolve(chosen, config or {}, {}, "config")


def resolve_recorded(registry: Registry, config: Sections, where: str,
                     overrides: Sections | None = None) -> RunConfig:
    """A run's recorded config resolved again, its components found by their recorded names."""
    chosen = {kind.name: Chosen.by_name(registry, kind, config.get(kind.section, {}).get(NAME_KEY) or "?")
              for kind in KINDS}
    return resolve(chosen, config, overrides or {}, where)
