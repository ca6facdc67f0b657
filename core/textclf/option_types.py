"""The value type of an option, from its parameter's annotation: how a string on the command line
or a value in a config file becomes what the constructor expects. Built on click's types."""

from __future__ import annotations

import enum
import inspect
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Union

import click

REQUIRED = inspect.Parameter.empty


class NullableType(click.ParamType):
    """``none`` (or ``null``) for ``None``, anything else through the inner type."""

    def __init__(self, inner: click.ParamType) -> None:
        self.inner = inner
        self.name = inner.name

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None or (isinstance(value, str) and value.strip().lower() in {"none", "null"}):
            return None
        return self.inner.convert(value, param, ctx)

    def to_info_dict(self) -> Any:
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


class BoolType(click.types.BoolParamType):
    """A boolean: true or false, also spelled yes/no, on/off, 1/0, t/f or y/n (any case).

    Unlike click's own, an empty string is not false and a refused value is told the spellings
    to use, rather than a sorted table of every state with the empty one first."""

    SPELLINGS: dict[str, bool] = {
        "true": True, "false": False, "yes": True, "no": False, "on": True, "off": False,
        "1": True, "0": False, "t": True, "f": False, "y": True, "n": False,
    }

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):  # ``flag: 1`` in a YAML file
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in self.SPELLINGS:
            return self.SPELLINGS[value.strip().lower()]
        self.fail(f"{value!r} is not a valid boolean; use true or false "
                  f"(yes/no, on/off, 1/0, t/f and y/n work too).", param, ctx)


#: The one boolean type of options; ``is_bool`` recognises it.
BOOL = BoolType()


class PathType(click.ParamType):
    """A filesystem path; whether it must exist is the component's business."""

    name = "path"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, (str, Path)) and str(value):
            return Path(value).expanduser()
        self.fail(f"{value!r} is not a path", param, ctx)


_SCALARS: dict[Any, click.ParamType] = {
    bool: BOOL, int: click.INT, float: click.FLOAT, str: click.STRING, Path: PathType(),
}


def click_type(annotation: Any, default: Any = REQUIRED) -> click.ParamType | None:
    """The type for an annotation, or ``None`` when a command line cannot express it."""
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


def is_bool(param_type: click.ParamType) -> bool:
    """Whether the type is a (possibly nullable) boolean: a flag on the command line."""
    inner = param_type.inner if isinstance(param_type, NullableType) else param_type
    return isinstance(inner, click.types.BoolParamType)
