"""The plugin host: loads plugins from the ``textclf`` entry-point group, one at a time.

Every plugin is isolated: one that fails to import, targets another API version, misspells a hook
or raises in a hook is recorded as broken with a one-line reason, and the others keep working.
``TEXTCLF_STRICT_PLUGINS=1`` turns any such problem into an error; ``TEXTCLF_LOAD_PLUGINS``
(only these distributions; empty: none) and ``TEXTCLF_DISABLE_PLUGINS`` select which load.
"""

from __future__ import annotations

import inspect
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
from textclf.kinds import KINDS, Kind
from textclf.registry import Component, Registry, normalize_dist, validate_registration

ENTRY_POINT_GROUP = "textclf"
SUPPORTED_PLUGIN_APIS = frozenset({PLUGIN_API_VERSION})
#: The distribution name of textclf's own plugin, the built-ins.
CORE = "textclf"

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

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


def env_list(name: str) -> list[str] | None:
    """A comma-separated environment variable as normalized names; ``None`` when it is unset."""
    value = os.environ.get(name)
    if value is None:
        return None
    return [normalize_dist(part.strip()) for part in value.split(",") if part.strip()]


class PluginHost:
    """Loads the built-in plugin and the installed ones, and collects what they register.

    ``core_commands`` are the commands of the program hosting the plugins (the ``textclf`` CLI):
    they are listed as the built-in plugin's, and no plugin may replace one.
    """

    def __init__(self, *, strict: bool | None = None, on_problem: Callable[[str], None] | None = None,
                 core_commands: Mapping[str, click.Command] | None = None) -> None:
        if strict is None:
            strict = os.environ.get("TEXTCLF_STRICT_PLUGINS", "").lower() in {"1", "true", "yes"}
        self.strict = strict
        self.on_problem = on_problem
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: list[Plugin] = []
        self.registry = Registry()
        self.problems: list[str] = []
        self.core_commands = dict(core_commands or {})
        #: Every plugin's command by name; none replaces a core command or an earlier plugin's.
        self.commands: dict[str, click.Command] = {}
        self._command_owner: dict[str, str] = {name: CORE for name in self.core_commands}
        self._external_loaded = False

    # -- loading ---------------------------------------------------------------------------
    def load_builtins(self) -> None:
        """Register the core's own components, through the same hooks as any plugin's."""
        from textclf import __version__, builtins

        self._add(Plugin(name=CORE, version=__version__, builtin=True, module=builtins))
        self.plugins[-1].commands = dict(self.core_commands)

    def load_entry_points(self) -> None:
        """Load every installed plugin that the environment variables allow."""
        if self._external_loaded:
            return
        self._external_loaded = True
        only = env_list("TEXTCLF_LOAD_PLUGINS")
        skip = set(env_list("TEXTCLF_DISABLE_PLUGINS") or [])
        installed: set[str] = set()
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=_sort_key):
            dist = normalize_dist(ep.dist.name) if ep.dist else ep.name
            installed.add(dist)
            if (only is not None and dist not in only) or dist in skip:
                continue
            version = ep.dist.version if ep.dist else "?"
            plugin = Plugin(name=dist, version=version, entry_point=f"{ep.name} = {ep.value}")
            try:
                plugin.module = ep.load()
            except Exception as exc:  # an import error in a plugin must not take the CLI down
                self._fail(plugin, f"failed to load ({ep.value}): {type(exc).__name__}: {exc}")
                continue
            self._add(plugin)
        for variable, names in (("TEXTCLF_LOAD_PLUGINS", only or []), ("TEXTCLF_DISABLE_PLUGINS", skip)):
            for name in sorted(set(names) - installed):
                self._problem(
                    f"{variable} names {name}, which is not an installed plugin "
                    f"(installed: {', '.join(sorted(installed)) or 'none'})"
                )

    def _add(self, plugin: Plugin) -> None:
        problem = self._check_api(plugin) or self._check_hooks(plugin)
        if problem:
            self._fail(plugin, problem)
            return
        try:
            self.pm.register(plugin.module, name=f"{plugin.name}:{plugin.entry_point}")
        except Exception as exc:  # pluggy's own validation, e.g. the same module registered twice
            self._fail(plugin, " ".join(str(exc).split()))
            return
        try:
            components, commands = self._collect(plugin)
        except _HookFailed as exc:
            self.pm.unregister(plugin.module)
            self._fail(plugin, str(exc))
            return
        plugin.components = components
        plugin.commands = commands
        for component in components:
            self.registry.add(component)
        self.plugins.append(plugin)
        for name, command in list(commands.items()):
            if name in self._command_owner:
                del plugin.commands[name]
                self._problem(
                    f"plugin {plugin.label} adds command '{name}', which "
                    f"{self._command_owner[name]} already provides; ignored"
                )
                continue
            self.commands[name], self._command_owner[name] = command, plugin.name

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

    def _collect(self, plugin: Plugin) -> tuple[list[Component], dict[str, click.Command]]:
        """Call each of this plugin's hooks on its own, so one plugin's failure stays its own."""
        components: list[Component] = []
        seen: set[tuple[Kind, str]] = set()
        staging = click.Group("staging")
        for caller in self.pm.get_hookcallers(plugin.module) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin is not plugin.module:
                    continue
                if caller.name == "register_commands":
                    args: dict[str, Any] = {"cli": staging}
                else:
                    args = {"register": _Registrar(_REGISTER_HOOKS[caller.name], plugin, components, seen)}
                try:
                    impl.function(*(args[name] for name in impl.argnames))
                except Exception as exc:
                    raise _HookFailed(
                        f"raised {type(exc).__name__} in hook {caller.name}: {exc}"
                    ) from exc
        return components, dict(staging.commands)

    # -- problems --------------------------------------------------------------------------
    def _fail(self, plugin: Plugin, reason: str) -> None:
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


class _HookFailed(Exception):
    pass


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
