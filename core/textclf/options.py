"""A component's typed ``__init__`` as command-line options and config keys.

``def __init__(self, batch_size: int = 32)`` on the chosen data module becomes the option
``--data.batch-size`` (an integer, default 32, help from the docstring) and the config key
``batch_size`` under ``data:``. Parameters the pipeline supplies itself (a model's ``labels``, a
lit-model's ``model``) are not options; nor are parameters of types a command line cannot spell.
"""

from __future__ import annotations

import enum
import inspect
import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

import click

from textclf.errors import ComponentError, UsageError

REQUIRED = inspect.Parameter.empty
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
    prefix: str | None = None

    @property
    def flag(self) -> str:
        """``--data.batch-size`` for a component, ``--max-epochs`` for an unprefixed section."""
        flag = self.name.replace("_", "-")
        return f"--{self.prefix}.{flag}" if self.prefix else f"--{flag}"

    @property
    def dest(self) -> str:
        return f"{self.section}__{self.name}"

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def click_option(self) -> click.Option:
        """The click option; its default is ``None`` so that an unset option can be told apart."""
        shown = "[required]" if self.required else f"[default: {format_value(self.default)}]"
        extra: dict[str, Any] = {}
        if _is_bool(self.type):  # ``--data.keep-html`` alone means true; a value may follow
            extra = {"is_flag": False, "flag_value": True}
        return click.Option(
            [self.flag, self.dest], type=self.type, default=None,
            help=f"{self.help}  {shown}" if self.help else shown, **extra,
        )

    def convert(self, value: Any, where: str) -> Any:
        """Convert a value from a config file; ``where`` names its origin in the error."""
        try:
            return self.type.convert(value, None, None)
        except click.BadParameter as exc:
            raise UsageError(f"{where}: {exc.message}") from None


def format_value(value: Any) -> str:
    """A default as a user would type it: ``true``, ``none``, ``0.1``, ``a,b``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, (list, tuple)):
        return ",".join(format_value(v) for v in value)
    return str(value)


_SAME_AS_SECTION = object()


def to_plain(value: Any) -> Any:
    """A resolved value as a config file holds it: paths absolute, enums by value, tuples as lists."""
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value.resolve())
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return format_value(value)


def component_options(obj: Any, section: str, exclude: Sequence[str] = (),
                      prefix: Any = _SAME_AS_SECTION) -> list[Option]:
    """The options of a component class (or factory function), following ``**kwargs`` upwards.

    Flags are ``--<prefix>.<name>``; the prefix defaults to the section (``lit_model`` gives
    ``--lit-model.lr``) and ``None`` gives bare ``--<name>``.
    """
    if prefix is _SAME_AS_SECTION:
        prefix = section.replace("_", "-")
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
            annotation = hints.get(param.name, param.annotation)
            param_type = click_type(annotation, param.default)
            if param_type is None:
                continue  # not expressible on a command line; set it from Python
            options.append(Option(section, param.name, param_type, param.default,
                                  docs.get(param.name, ""), prefix))
    return options


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


# -- types -----------------------------------------------------------------------------------
class NullableType(click.ParamType):
    """``none`` (or ``null``) for ``None``, anything else through the inner type."""

    def __init__(self, inner: click.ParamType) -> None:
        self.inner = inner
        self.name = inner.name

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None or (isinstance(value, str) and value.strip().lower() in {"none", "null"}):
            return None
        return self.inner.convert(value, param, ctx)

    def to_info_dict(self) -> dict[str, Any]:
        return {**self.inner.to_info_dict(), "nullable": True}


class ListType(click.ParamType):
    """A comma-separated list on the command line, a YAML list in a config file."""

    def __init__(self, inner: click.ParamType, container: type = list) -> None:
        self.inner, self.container = inner, container
        self.name = f"{inner.name},..."

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        elif not isinstance(value, (list, tuple)):
            value = [value]
        return self.container(self.inner.convert(item, param, ctx) for item in value)


class EnumType(click.Choice):
    """An ``Enum`` parameter: its values are the choices."""

    def __init__(self, enum_type: type[enum.Enum]) -> None:
        self.enum_type = enum_type
        super().__init__([str(member.value) for member in enum_type])

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, self.enum_type):
            return value
        chosen = super().convert(value, param, ctx)
        return next(member for member in self.enum_type if str(member.value) == chosen)


class PathType(click.ParamType):
    """A filesystem path; whether it must exist is the component's business."""

    name = "path"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, (str, Path)) and str(value):
            return Path(value).expanduser()
        self.fail(f"{value!r} is not a path", param, ctx)


_SCALARS: dict[Any, click.ParamType] = {
    bool: click.BOOL, int: click.INT, float: click.FLOAT, str: click.STRING, Path: PathType(),
}


def click_type(annotation: Any, default: Any = REQUIRED) -> click.ParamType | None:
    """The click type for an annotation, or ``None`` when a command line cannot express it."""
    if annotation is REQUIRED or isinstance(annotation, str):
        if default is REQUIRED or default is None:
            return click.STRING
        annotation = type(default)
    if annotation is typing.Any:
        return click.STRING
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        if len(members) == 1 and len(members) < len(args):
            inner = click_type(members[0])
            return NullableType(inner) if inner else None
        if set(members) == {int, float}:
            return click.FLOAT
        return None
    if origin is Literal:
        if all(isinstance(a, str) for a in args):
            return click.Choice(list(args))
        return None
    if origin in (list, tuple, Sequence, typing.Sequence) or annotation in (list, tuple):
        element = args[0] if args else str
        inner = click_type(element)
        if inner is None or (origin is tuple and len(args) == 2 and args[1] is not Ellipsis):
            return None
        return ListType(inner, tuple if origin is tuple else list)
    if inspect.isclass(annotation) and issubclass(annotation, enum.Enum):
        return EnumType(annotation)
    if inspect.isclass(annotation) and issubclass(annotation, Path):
        return _SCALARS[Path]
    return _SCALARS.get(annotation)


def _is_bool(param_type: click.ParamType) -> bool:
    inner = param_type.inner if isinstance(param_type, NullableType) else param_type
    return inner is click.BOOL


def resolve_values(
    options: list[Option], *, config: dict[str, Any], command_line: dict[str, Any],
    suggested: dict[str, Any] | None = None, where: str, owner: str,
) -> dict[str, Any]:
    """The value of every option: command line, else config, else suggestion, else default."""
    known = {o.name for o in options}
    for key in config:
        if key != NAME_KEY and key not in known:
            raise UsageError(f"{where}: unknown key '{key}' for {owner}{_did_you_mean(key, known)}")
    values: dict[str, Any] = {}
    missing: list[str] = []
    for option in options:
        if option.name in command_line:
            values[option.name] = command_line[option.name]
        elif option.name in config:
            values[option.name] = option.convert(config[option.name], f"{where}: {option.name}")
        elif suggested and option.name in suggested:
            values[option.name] = option.convert(suggested[option.name], f"{owner} suggestion")
        elif option.required:
            missing.append(option.flag)
        else:
            values[option.name] = option.default
    if missing:
        raise UsageError(f"{owner} needs {', '.join(missing)}; set it on the command line or in --config")
    return values


def _did_you_mean(key: str, known: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, sorted(known), n=1)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f"; its options are: {', '.join(sorted(known)) or 'none'}"
