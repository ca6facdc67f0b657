"""A component's typed ``__init__`` as options: command-line flags and config keys.

``def __init__(self, batch_size: int = 32)`` on the chosen data module becomes the option
``--data.batch-size`` (an integer, default 32, help from the docstring) and the config key
``batch_size`` under ``data:``. Parameters the pipeline supplies itself (a model's ``labels``, a
lit-model's ``model``) are not options; nor are parameters of types a command line cannot spell.
"""

from __future__ import annotations

import enum
import inspect
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import click

from textclf import kinds
from textclf.errors import ComponentError, UsageError
from textclf.option_types import REQUIRED, EnumType, ListType, NullableType, PathType, click_type

#: The key that names the component itself inside its config section.
NAME_KEY = "name"


@dataclass(frozen=True)
class Option:
    """One constructor parameter of a component, seen as a CLI option and a config key."""

    section: str
    name: str
    type: click.ParamType
    default: Any
    help: str

    @property
    def flag(self) -> str:
        """``--data.batch-size`` for a component, ``--max-epochs`` for the trainer."""
        return kinds.flag(self.section, self.name)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def convert(self, value: Any, where: str) -> Any:
        """Convert a value from a config file; ``where`` names its origin in the error.

        A mapping, or a list where one value is expected (or a list of lists), is refused before
        anything looks into it: YAML aliases can make a small file a huge nest of lists."""
        inner = self.type.inner if isinstance(self.type, NullableType) else self.type
        items = value if isinstance(inner, ListType) and isinstance(value, (list, tuple)) else [value]
        nested = next((item for item in items if isinstance(item, (dict, list, tuple, set))), None)
        if nested is not None:
            expected = "single values in a list" if items is value else "a single value"
            raise UsageError(f"{where}: expected {expected}, got a {type(nested).__name__}")
        try:
            return self.type.convert(value, None, None)
        except click.BadParameter as exc:
            raise UsageError(f"{where}: {exc.message}") from None
        except (ValueError, TypeError, OverflowError):  # click lets int(inf) and friends through
            raise UsageError(f"{where}: {format_value(value)[:60]!r} is not a valid {self.type.name}") from None


def format_value(value: Any) -> str:
    """A value as a user would type it: ``true``, ``none``, ``0.1``, ``a,b``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, (list, tuple)):
        return ",".join(format_value(v) for v in value)
    return str(value)


def to_plain(value: Any) -> Any:
    """A value as a config file (or JSON) holds it: paths absolute, enums by value, tuples as lists."""
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value.resolve())
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return format_value(value)


def component_options(obj: Any, section: str, exclude: Sequence[str] = ()) -> list[Option]:
    """The options of a component class (or factory function), following ``**kwargs`` upwards."""
    options: list[Option] = []
    seen = set(exclude)
    docs = _param_docs(obj)
    for function, hints in _signature_chain(obj):
        for param in inspect.signature(function).parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or param.name in seen:
                continue
            if param.name == "self" and param.kind == param.POSITIONAL_OR_KEYWORD:
                continue
            seen.add(param.name)
            if param.name == NAME_KEY:
                raise ComponentError(
                    f"{_qualname(obj)} has a constructor parameter '{NAME_KEY}', which textclf "
                    f"reserves for the component's name in config files; rename the parameter"
                )
            param_type = click_type(hints.get(param.name, param.annotation), param.default)
            if param_type is None:
                continue  # not expressible on a command line; set it from Python
            options.append(Option(section, param.name, param_type, param.default,
                                  docs.get(param.name, "")))
    return options


def constructor_arguments(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """What a call ``cls(*args, **kwargs)`` gives each constructor parameter, defaults included,
    following ``**kwargs`` into the base classes that receive them."""
    values: dict[str, Any] = {}
    for function, _ in _signature_chain(cls):
        signature = inspect.signature(function)
        bound = signature.bind(None, *args, **kwargs)
        bound.apply_defaults()
        arguments = bound.arguments
        args, kwargs = (), {}
        for param in list(signature.parameters.values())[1:]:
            if param.kind is param.VAR_KEYWORD:
                kwargs = dict(arguments.get(param.name, {}))
            elif param.kind is not param.VAR_POSITIONAL:
                values.setdefault(param.name, arguments[param.name])
    return values


class RecordsOptions:
    """Records the arguments of its constructor call, defaults included, as ``init_options``
    (plain values, as a config file holds them): the one way components remember their options.
    Plain values lose some types (JSON and YAML have no tuples, paths or enums);
    ``recorded_arguments`` gives them back."""

    #: Constructor parameters left out of ``init_options``.
    unrecorded: ClassVar[tuple[str, ...]] = ()
    init_options: dict[str, Any]

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        self = super().__new__(cls)
        values = constructor_arguments(cls, args, kwargs)
        # object.__setattr__: nn.Module's own would look for state its __init__ has not made yet.
        object.__setattr__(self, "init_options", {k: to_plain(v) for k, v in values.items()
                                                  if k not in cls.unrecorded})
        return self


def restore_types(function: Any, arguments: dict[str, Any]) -> dict[str, Any]:
    """``arguments`` of ``function`` with plain values given back their declared types: a list
    for a ``tuple[...]`` parameter becomes a tuple (its items converted too), a string for a
    ``Path`` a path, a value for an ``Enum`` its member. A value that does not convert is left
    as it is, for the constructor to judge."""
    params = inspect.signature(function).parameters
    hints = _type_hints(function)
    restored = dict(arguments)
    for name, value in arguments.items():
        param = params.get(name)
        if param is None or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or value is None:
            continue
        declared = click_type(hints.get(name, param.annotation), param.default)
        if isinstance(declared, NullableType):
            declared = declared.inner
        if not ((isinstance(declared, ListType) and declared.container is tuple and isinstance(value, list))
                or (isinstance(declared, PathType) and isinstance(value, str))
                or (isinstance(declared, EnumType) and not isinstance(value, declared.enum_type))):
            continue
        try:
            restored[name] = declared.convert(value, None, None)
        except (click.BadParameter, ValueError, TypeError, OverflowError):
            pass
    return restored


def recorded_arguments(cls: type, recorded: dict[str, Any]) -> dict[str, Any]:
    """Options a component recorded (``init_options``, read back from JSON or YAML) as its
    constructor declares them: lists for ``tuple[...]`` parameters become tuples, strings for
    paths and enums paths and members, along the constructors that ``**kwargs`` reach."""
    restored = dict(recorded)
    for function, _ in _signature_chain(cls):
        restored.update(restore_types(function, {k: v for k, v in restored.items()
                                                 if k in inspect.signature(function).parameters}))
    return restored


def _signature_chain(obj: Any) -> Iterator[tuple[Any, dict[str, Any]]]:
    """Each ``__init__`` along the MRO that receives this one's ``**kwargs``."""
    if not inspect.isclass(obj):
        yield obj, _type_hints(obj)
        return
    for klass in obj.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        yield init, _type_hints(init)
        params = inspect.signature(init).parameters.values()
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return


def _type_hints(function: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(function)
    except Exception:  # a hint naming something only imported under TYPE_CHECKING
        return {}


def _param_docs(obj: Any) -> dict[str, str]:
    """First line of each parameter's description, from Google, NumPy or reST docstrings."""
    try:
        import docstring_parser
    except ImportError:
        return {}
    owners = obj.__mro__ if inspect.isclass(obj) else (obj,)
    docs: dict[str, str] = {}
    for owner in owners:
        for text in (owner.__doc__, getattr(owner.__dict__.get("__init__"), "__doc__", None)):
            if not text:
                continue
            for param in docstring_parser.parse(text).params:
                if param.description and param.arg_name not in docs:
                    docs[param.arg_name] = " ".join(param.description.split("\n\n")[0].split())
    return docs


def _qualname(obj: Any) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"
