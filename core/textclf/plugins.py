"""The plugin host: loads plugins from the ``textclf`` entry-point group, one at a time.

Every plugin is isolated: one that fails to import, targets another API version, misspells a hook,
raises in a hook (``sys.exit`` included) or takes longer than ``TEXTCLF_PLUGIN_TIMEOUT`` seconds to
import or to return from a hook is recorded as broken with a one-line reason, and the others keep
working. What a plugin prints while it is imported and its hooks run is kept off the terminal (a
warning line says it did), so machine-readable output such as ``textclf plugins --json`` stays
valid. ``TEXTCLF_STRICT_PLUGINS=1`` turns any such problem into an error; ``TEXTCLF_LOAD_PLUGINS``
(only these distributions; empty: none) and ``TEXTCLF_DISABLE_PLUGINS`` select which load.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import click
import pluggy

from textclf import hookspecs
from textclf.errors import PluginError, did_you_mean
from textclf.hookspecs import PLUGIN_API_VERSION
from textclf.kinds import KINDS, Kind, kind_named
from textclf.plugin_runs import (Run, Unwatched, Watch, Worker, describe, exit_call, limit, output_kept_apart,
                                 printed_lines, quote, seconds_text)
from textclf.registry import Component, Registry, normalize_dist, validate_registration

ENTRY_POINT_GROUP = "textclf"
SUPPORTED_PLUGIN_APIS = frozenset({PLUGIN_API_VERSION})
#: The distribution name of textclf's own plugin, the built-ins.
CORE = "textclf"
#: The environment variable that limits how long a plugin may take to import, and each of its hooks.
TIMEOUT_VARIABLE = "TEXTCLF_PLUGIN_TIMEOUT"
#: Seconds, when the variable is unset. Generous on purpose: a hook module imports in milliseconds,
#: and a tight limit would skip a working plugin whose import a cold disk slowed down.
DEFAULT_TIMEOUT = 10.0

_REGISTER_HOOKS = {kind.hook: kind for kind in KINDS}
_HOOK_NAMES = sorted(
    name for name, value in vars(hookspecs).items()
    if callable(value) and hasattr(value, "textclf_spec")
)


@dataclass
class Plugin:
    """One plugin distribution: where it came from, what it provides, or why it is broken."""

    name: str
    version: str
    entry_point: str = ""
    builtin: bool = False
    error: str | None = None
    components: list[Component] = field(default_factory=list)
    commands: dict[str, click.Command] = field(default_factory=dict)
    module: Any = field(default=None, repr=False)
    #: What the plugin wrote to stdout and stderr while it loaded; never shown as such.
    output: list[str] = field(default_factory=list, repr=False)

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


def env_list(name: str) -> list[str] | None:
    """A comma-separated environment variable as normalized names; ``None`` when it is unset."""
    value = os.environ.get(name)
    if value is None:
        return None
    return [normalize_dist(part.strip()) for part in value.split(",") if part.strip()]


def env_timeout() -> tuple[float | None, str | None]:
    """``TEXTCLF_PLUGIN_TIMEOUT`` in seconds (``None``: no limit, from 0 or less) and the problem
    with its value when it is not a number (the default applies then)."""
    value = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not value:
        return DEFAULT_TIMEOUT, None
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if math.isnan(seconds):
        return DEFAULT_TIMEOUT, (f"{TIMEOUT_VARIABLE}={value} is not a number of seconds; using "
                                 f"{seconds_text(DEFAULT_TIMEOUT)} (0 means no limit)")
    return limit(seconds), None


class PluginHost:
    """Loads the built-in plugin and the installed ones, and collects what they register.

    ``core_commands`` are the commands of the program hosting the plugins (the ``textclf`` CLI):
    they are listed as the built-in plugin's, and no plugin may replace one. The built-in
    components keep their names as well: a plugin's component of the same name is reachable as
    ``DIST:name`` only. ``timeout`` is how many seconds a plugin may take to import, and each of
    its hooks to return (0 or less: no limit); ``None`` reads ``TEXTCLF_PLUGIN_TIMEOUT``.
    """

    def __init__(self, *, strict: bool | None = None, on_problem: Callable[[str], None] | None = None,
                 core_commands: Mapping[str, click.Command] | None = None,
                 timeout: float | None = None) -> None:
        if strict is None:
            strict = os.environ.get("TEXTCLF_STRICT_PLUGINS", "").lower() in {"1", "true", "yes"}
        self.strict = strict
        self.on_problem = on_problem
        self._timeout_given = timeout
        #: Seconds a plugin may take to import, and each of its hooks (``None``: no limit).
        self.timeout: float | None = DEFAULT_TIMEOUT if timeout is None else limit(timeout)
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: list[Plugin] = []
        self.registry = Registry(builtin=CORE)
        self.problems: list[str] = []
        self.core_commands = dict(core_commands or {})
        #: Every plugin's command by name; none replaces a core command or an earlier plugin's.
        self.commands: dict[str, click.Command] = {}
        self._command_owner: dict[str, str] = {name: CORE for name in self.core_commands}
        self._external_loaded = False
        # Where each thread running plugin code writes; a thread still listed was given up on.
        self._captures: dict[int, list[str]] = {}

    # -- loading ---------------------------------------------------------------------------
    def load_builtins(self) -> None:
        """Register the core's own components, through the same hooks as any plugin's."""
        from textclf import __version__, builtins

        run = Run(Plugin(name=CORE, version=__version__, builtin=True), load=lambda: builtins)
        self._run_code(run, Unwatched())
        self._settle(run)
        self.plugins[-1].commands = dict(self.core_commands)

    def load_entry_points(self) -> None:
        """Load every installed plugin that the environment variables allow."""
        if self._external_loaded:
            return
        self._external_loaded = True
        if self._timeout_given is None:
            self.timeout, problem = env_timeout()
            if problem:
                self._problem(problem)
        only = env_list("TEXTCLF_LOAD_PLUGINS")
        skip = set(env_list("TEXTCLF_DISABLE_PLUGINS") or [])
        installed: set[str] = set()
        runs: list[Run] = []
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=_sort_key):
            dist = normalize_dist(ep.dist.name) if ep.dist else ep.name
            installed.add(dist)
            if (only is not None and dist not in only) or dist in skip:
                continue
            version = ep.dist.version if ep.dist else "?"
            plugin = Plugin(name=dist, version=version, entry_point=f"{ep.name} = {ep.value}")
            runs.append(Run(plugin, load=ep.load, target=ep.value))
        if runs:
            with output_kept_apart(self._captures):
                self._run_watched(runs)
                for run in runs:
                    self._settle(run)
        for variable, names in (("TEXTCLF_LOAD_PLUGINS", only or []), ("TEXTCLF_DISABLE_PLUGINS", skip)):
            for name in sorted(set(names) - installed):
                self._problem(
                    f"{variable} names {name}, which is not an installed plugin "
                    f"(installed: {', '.join(sorted(installed)) or 'none'})"
                )

    def _run_watched(self, runs: list[Run]) -> None:
        """Run the plugins' own code in a daemon thread, one plugin after the other, and give up
        on a plugin that spends longer than the limit importing or in one hook.

        A thread is the one way to stop waiting for code that hangs (a lost network call at import)
        and still exit normally: a daemon thread left behind does not hold the process. One thread
        for all the plugins, not one per call, as each wake-up of a thread can cost milliseconds
        on a busy machine. Ctrl-C goes to the main thread, waiting here, so it still stops textclf.
        """
        while runs:
            stuck = Worker(runs, self._run_code, self._captures).watch(self.timeout)
            if stuck is None:
                return
            runs = runs[runs.index(stuck) + 1:]

    def _run_code(self, run: Run, watch: Watch) -> None:
        """Import ``run``'s plugin and call its hooks, keeping in ``run`` what happened; each hook
        is a stage of ``watch``, which stops the run when it was given up on."""
        plugin = run.plugin
        try:
            plugin.module = run.load()
            run.problem = self._check_api(plugin) or self._check_hooks(plugin)
            if run.problem:
                return
            # Registered under the watch: a run given up on must not change pluggy's state later.
            if not watch.stage(run, "", then=functools.partial(self._register, run)) or run.problem:
                return
            for name, hook in self._hooks(run):
                if not watch.stage(run, name):
                    return
                hook()
        except BaseException as exc:  # the host decides, in the main thread; see _settle
            run.error = exc

    def _register(self, run: Run) -> None:
        try:
            self.pm.register(run.plugin.module, name=f"{run.plugin.name}:{run.plugin.entry_point}")
            run.registered = True
        except Exception as exc:  # pluggy's own validation, e.g. the same module registered twice
            run.problem = " ".join(str(exc).split())

    def _hooks(self, run: Run) -> list[tuple[str, Callable[[], object]]]:
        """Each of the plugin's hooks, ready to call on its own so a failure stays this plugin's;
        what they register is collected in ``run``."""
        seen: set[tuple[Kind, str]] = set()
        staging = click.Group("staging")
        run.commands = staging.commands
        hooks: list[tuple[str, Callable[[], object]]] = []
        for caller in self.pm.get_hookcallers(run.plugin.module) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin is not run.plugin.module:
                    continue
                if caller.name == "register_commands":
                    args: dict[str, Any] = {"cli": staging}
                else:
                    kind = _REGISTER_HOOKS[caller.name]
                    args = {"register": _Registrar(kind, run.plugin, run.components, seen)}
                hooks.append((caller.name,
                              functools.partial(impl.function, *(args[name] for name in impl.argnames))))
        return hooks

    def _settle(self, run: Run) -> None:
        """Record what running a plugin's code gave: its components and commands, or why not."""
        plugin = run.plugin
        if run.timed_out or (run.error is not None and not isinstance(run.error, KeyboardInterrupt)):
            if run.registered:
                self.pm.unregister(plugin.module)
            self._fail(plugin, self._failure(run))
            return
        if run.error is not None:
            raise run.error
        if run.problem:
            self._fail(plugin, run.problem)
            return
        plugin.components = list(run.components)
        plugin.commands = dict(run.commands)
        for component in plugin.components:
            self.registry.add(component)
        self.plugins.append(plugin)
        printed = printed_lines(plugin.output)
        if printed:
            self._problem(
                f"plugin {plugin.label} printed {len(printed)} line{'s' if len(printed) > 1 else ''} "
                f"while loading, hidden to keep textclf's output clean; the first: {quote(printed[0])}"
            )
        if not plugin.builtin:
            self._warn_shadowed(plugin)
        for name, command in list(plugin.commands.items()):
            if name in self._command_owner:
                del plugin.commands[name]
                self._problem(
                    f"plugin {plugin.label} adds command '{name}', which "
                    f"{self._command_owner[name]} already provides; ignored"
                )
                continue
            self.commands[name], self._command_owner[name] = command, plugin.name

    def _failure(self, run: Run) -> str:
        limit = f"{seconds_text(self.timeout or 0)} (the limit, set by {TIMEOUT_VARIABLE})"
        if not run.stage:
            what = f"still importing after {limit}" if run.timed_out else describe(run.error)
            return f"failed to load ({run.target}): {what}"
        if run.timed_out:
            return f"did not return from hook {run.stage} within {limit}"
        if isinstance(run.error, SystemExit):
            return f"called {exit_call(run.error)} in hook {run.stage}"
        return f"raised {type(run.error).__name__} in hook {run.stage}: {run.error}"

    def _warn_shadowed(self, plugin: Plugin) -> None:
        """Say which of ``plugin``'s components keep only their ``DIST:name``, as the built-ins
        own their bare names: installing a plugin must not change what a working command does."""
        builtin = {(c.kind, c.name) for p in self.plugins if p.builtin for c in p.components}
        for component in plugin.components:
            if (component.kind, component.name) in builtin:
                flag = kind_named(component.kind).flag
                self._problem(
                    f"plugin {plugin.label} registers {component.kind} '{component.name}', which "
                    f"{CORE} already provides; {flag} {component.name} stays the built-in, "
                    f"{flag} {component.qualified_name} chooses the plugin's"
                )

    def _check_api(self, plugin: Plugin) -> str | None:
        api = getattr(plugin.module, "TEXTCLF_PLUGIN_API", PLUGIN_API_VERSION)
        if api in SUPPORTED_PLUGIN_APIS:
            return None
        from textclf import __version__

        supported = ", ".join(str(v) for v in sorted(SUPPORTED_PLUGIN_APIS))
        return (
            f"targets textclf plugin API {api}, but textclf {__version__} supports API {supported}; "
            f"install a release of {plugin.name} made for API {supported}, or upgrade textclf"
        )

    def _check_hooks(self, plugin: Plugin) -> str | None:
        """What pluggy's ``check_pending`` would find, for this plugin alone and in one line."""
        for attr in dir(plugin.module):
            opts = self.pm.parse_hookimpl_opts(plugin.module, attr)
            if opts is None:
                continue
            name = opts.get("specname") or attr
            if name not in _HOOK_NAMES:
                if opts.get("optionalhook"):
                    continue
                guess = did_you_mean(name, _HOOK_NAMES, quote="")
                return f"implements unknown hook {name}{guess} (hooks: {', '.join(_HOOK_NAMES)})"
            spec_args = list(inspect.signature(getattr(hookspecs, name)).parameters)
            impl_args = list(inspect.signature(getattr(plugin.module, attr)).parameters)
            extra = [arg for arg in impl_args if arg not in spec_args]
            if extra:
                return (
                    f"implements {name}({', '.join(impl_args)}), asking for {', '.join(extra)}, "
                    f"but the hook passes only {name}({', '.join(spec_args)})"
                )
        return None

    # -- problems --------------------------------------------------------------------------
    def _fail(self, plugin: Plugin, reason: str) -> None:
        printed = printed_lines(plugin.output)
        if printed:
            reason += f", after printing {quote(printed[0])}"
        plugin.error = reason
        self.plugins.append(plugin)
        self._problem(f"plugin {plugin.label} {reason}", plugin=plugin.name)

    def _problem(self, message: str, plugin: str | None = None) -> None:
        if self.strict:
            raise PluginError(f"{message} (TEXTCLF_STRICT_PLUGINS is set)")
        if plugin:
            message += f"; skipped (TEXTCLF_DISABLE_PLUGINS={plugin} silences this)"
        self.problems.append(message)
        if self.on_problem:
            self.on_problem(message)


class _Registrar:
    """The ``register`` callback handed to one plugin's ``register_*`` hook."""

    def __init__(self, kind: Kind, plugin: Plugin, into: list[Component],
                 seen: set[tuple[Kind, str]]) -> None:
        self.kind, self.plugin, self.into, self.seen = kind, plugin, into, seen

    def __call__(self, name: str, target: str, *, help: str = "") -> None:
        validate_registration(self.kind, name, target, help)
        if (self.kind, name) in self.seen:
            raise ValueError(f"{self.kind.name} '{name}' is registered twice")
        self.seen.add((self.kind, name))
        first_line = help.strip().splitlines()[0] if help.strip() else ""
        self.into.append(Component(self.kind.name, name, target, first_line,
                                   self.plugin.name, self.plugin.version))


def _sort_key(ep: metadata.EntryPoint) -> tuple[str, str]:
    return (normalize_dist(ep.dist.name) if ep.dist else "", ep.name)
