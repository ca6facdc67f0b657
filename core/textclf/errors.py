"""The exceptions a user can act on: the CLI prints them as one line, without a traceback.

A message names a component's options by their parameter, in backticks: ``"`batch_size` 0: must
be at least 1"``. Who shows the message decides how the option is spelled: the command line as
its flag (``--data.batch-size 0: ...``), Python as its config key (```data.batch_size` 0: ...``),
so the same error reads right for both and survives a renamed flag. Whoever runs a component
says whose options its errors name (``options_of``); only those names are spelled, so backticks
in a third-party message quoted inside are left alone.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager

from textclf.kinds import SECTIONS

#: An option named in a message: `parameter`, or `section.parameter`.
_OPTION = re.compile(r"`(?:([a-z_]+)\.)?([A-Za-z_][A-Za-z0-9_]*)`")

#: How a front end spells option ``parameter`` of config section ``section`` (None: none).
Spelling = Callable[[str | None, str], str]


def config_key(section: str | None, parameter: str) -> str:
    """The option as a config file nests it, in backticks: `data.batch_size` (or `output`, an
    option of no section)."""
    return f"`{section}.{parameter}`" if section else f"`{parameter}`"


def render(message: str, spell: Spelling, section: str | None = None,
           options: Collection[str] = ()) -> str:
    """``message`` with its options spelled by ``spell``: each `section.parameter`, and each bare
    `parameter` that is one of ``options`` (of ``section``)."""
    def spelled(match: re.Match[str]) -> str:
        named, parameter = match.group(1), match.group(2)
        if named is None and parameter in options:
            return spell(section, parameter)
        if named in SECTIONS:
            return spell(named, parameter)
        return match.group(0)

    return _OPTION.sub(spelled, message)


class TextclfError(Exception):
    """A mistake in the user's input or environment; the message says what to do about it."""

    exit_code = 1
    #: The config section whose options the message names (None: options of no component).
    section: str | None = None
    #: The names of those options.
    options: frozenset[str] = frozenset()

    def render(self, spell: Spelling = config_key) -> str:
        """The message with each option it names spelled by ``spell``."""
        return render(super().__str__(), spell, self.section, self.options)

    def __str__(self) -> str:
        return self.render()


class UsageError(TextclfError):
    """A bad option, option value or config file."""

    exit_code = 2


class OptionError(TextclfError):
    """A component option whose value cannot work: ``OptionError(f"`ngrams` {n}: choose 1 to 4")``."""


class PluginError(TextclfError):
    """A plugin could not be loaded, or broke the plugin API."""


class ComponentError(TextclfError):
    """A component name that is unknown, ambiguous, or cannot be imported."""

    exit_code = 2


class ComponentFailure(TextclfError):
    """A component's own code raised something other than a ``TextclfError`` (a ``ValueError``
    from its constructor, say); shown as one line naming the component, like any user error."""


@contextmanager
def component_code(owner: str, options: Collection[str] = ()) -> Iterator[None]:
    """Exceptions from a component's own code (``owner``: ``model 'textcnn'``) become one-line
    ``ComponentFailure``s; the options of ``options`` the message names are marked as options,
    so that the command line spells them as flags. ``TextclfError``s pass unchanged."""
    try:
        yield
    except TextclfError:
        raise
    except Exception as exc:
        message = " ".join(str(exc).split()) or "(no message)"
        for option in sorted(options, key=len, reverse=True):
            message = re.sub(rf"(?<![`\w.-]){re.escape(option)}(?![`\w])", f"`{option}`", message)
        raise ComponentFailure(f"{owner}: {type(exc).__name__}: {message} (TEXTCLF_DEBUG=1 shows "
                               f"the traceback)") from exc


@contextmanager
def options_of(section: str | None, options: Iterable[str]) -> Iterator[None]:
    """Errors raised inside name ``options`` of config section ``section`` (unless they say)."""
    try:
        yield
    except TextclfError as exc:
        if not exc.options:
            exc.section, exc.options = section, frozenset(options)
        raise


def did_you_mean(word: str, choices: Iterable[str], *, quote: str = "'") -> str:
    """``"; did you mean 'train'?"`` for the closest of ``choices``, or ``""`` when none is close."""
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f"; did you mean {quote}{close[0]}{quote}?" if close else ""
