"""Running a plugin's own code: in a daemon thread, watched against a time limit, with what it
prints kept apart. The plugin host (``textclf.plugins``) decides what comes of each run."""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO, cast

import click

from textclf.registry import Component

if TYPE_CHECKING:
    from textclf.plugins import Plugin

#: Seconds between the watcher's wake-ups.
_TICK = 0.2


@dataclass
class Run:
    """Running one plugin's own code: its import, then its hooks; and what came of it."""

    plugin: Plugin
    load: Callable[[], Any]
    #: The entry point's value, ``package.module``.
    target: str = ""
    #: The hook running (or that raised); "" while importing.
    stage: str = ""
    registered: bool = False
    timed_out: bool = False
    error: BaseException | None = None
    problem: str | None = None
    components: list[Component] = field(default_factory=list)
    commands: Mapping[str, click.Command] = field(default_factory=dict)


class Watch:
    """Told of each stage of a run; says whether the run goes on."""

    def stage(self, run: Run, stage: str, then: Callable[[], None] | None = None) -> bool:
        raise NotImplementedError


class Unwatched(Watch):
    """For the built-ins: textclf's own code, run in the calling thread."""

    def stage(self, run: Run, stage: str, then: Callable[[], None] | None = None) -> bool:
        run.stage = stage
        if then:
            then()
        return True


class Worker(Watch):
    """A daemon thread running plugins' code one after the other, watched from the calling thread.

    The worker tells of each stage under ``lock``, and stops there once ``cancelled``; the watcher
    gives up under the same lock, so a worker it left behind cannot change what it decided.
    """

    def __init__(self, runs: list[Run], run_code: Callable[[Run, Watch], None],
                 captures: dict[int, list[str]]) -> None:
        self.runs, self.run_code, self.captures = runs, run_code, captures
        self.lock = threading.Lock()
        self.cancelled = self.finished = False
        self.current, self.started = runs[0], time.monotonic()
        self.done = threading.Event()
        threading.Thread(target=self._work, name="textclf plugins", daemon=True).start()

    def watch(self, limit: float | None) -> Run | None:
        """Wait for the worker; the run it is stuck in when one stage outlasts ``limit``."""
        try:
            # Waking now and then lets a Ctrl-C that the kernel handed to the plugin's thread run
            # its handler here: a long wait would sleep through it.
            while not self.done.wait(_TICK if limit is None else
                                     min(_TICK, max(0.0, self.started + limit - time.monotonic()))):
                if limit is None:
                    continue
                with self.lock:
                    if not self.finished and time.monotonic() - self.started >= limit:
                        self.cancelled = self.current.timed_out = True
                        return self.current
            return None
        except BaseException:  # Ctrl-C: the worker stops at its next stage
            with self.lock:
                self.cancelled = True
            raise

    def stage(self, run: Run, stage: str, then: Callable[[], None] | None = None) -> bool:
        with self.lock:
            if self.cancelled:
                return False
            self.current, run.stage, self.started = run, stage, time.monotonic()
            if then:
                then()
            return True

    def _work(self) -> None:
        me = threading.get_ident()
        try:
            for run in self.runs:
                self.captures[me] = run.plugin.output
                if not self.stage(run, ""):
                    return
                self.run_code(run, self)
                if isinstance(run.error, KeyboardInterrupt):
                    break
            with self.lock:
                self.finished = not self.cancelled
        finally:
            self.captures.pop(me, None)
            self.done.set()


class OutputRouter:
    """Stands for ``sys.stdout`` or ``sys.stderr`` while plugins load: a write from a thread that
    runs a plugin's code goes to that plugin's output, any other to ``stream``."""

    def __init__(self, stream: TextIO, captures: Mapping[int, list[str]]) -> None:
        self.stream, self.captures = stream, captures

    def write(self, text: str) -> int:
        # Refuse bytes as a text stream does: click probes a stream with write(b"").
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        output = self.captures.get(threading.get_ident())
        if output is None:
            return self.stream.write(text)
        output.append(text)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if threading.get_ident() not in self.captures:
            self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@contextmanager
def output_kept_apart(captures: Mapping[int, list[str]]) -> Iterator[None]:
    """While plugins load, what their code writes to ``sys.stdout`` or ``sys.stderr`` goes to
    their ``output``; everything else (the host's own warnings) to the real streams."""
    saved = sys.stdout, sys.stderr
    routers = [OutputRouter(stream, captures) if stream is not None else None
               for stream in saved]
    sys.stdout, sys.stderr = cast(TextIO, routers[0]), cast(TextIO, routers[1])
    try:
        yield
    finally:
        # Plugin code given up on may still print: then keep routing its output away.
        if not captures:
            if sys.stdout is routers[0]:
                sys.stdout = saved[0]
            if sys.stderr is routers[1]:
                sys.stderr = saved[1]


def limit(seconds: float) -> float | None:
    return seconds if 0 < seconds < math.inf else None


def seconds_text(seconds: float) -> str:
    return f"{seconds:g} s"


def describe(exc: BaseException | None) -> str:
    if isinstance(exc, SystemExit):
        return f"it called {exit_call(exc)}"
    return f"{type(exc).__name__}: {exc}"


def exit_call(exc: SystemExit) -> str:
    return "sys.exit()" if exc.code is None else f"sys.exit({exc.code!r})"


def printed_lines(output: list[str]) -> list[str]:
    return [line.strip() for line in "".join(output).splitlines() if line.strip()]


def quote(line: str, width: int = 100) -> str:
    return "'" + (line if len(line) <= width else line[: width - 3] + "...") + "'"
