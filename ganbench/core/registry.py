"""Plugin manager and name registries.

Plugins come only from installed entry points in the ``ganbench`` group (built-ins included) and from
objects registered in-process (``ganbench.testing``). ``GANBENCH_LOAD_PLUGINS`` restricts which entry
points load: a comma-separated list of entry-point names or distribution names (``ganbench`` means the
built-ins); set but empty, no entry point loads.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import inspect
import os
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy

from ganbench.core import hookspecs
from ganbench.core.errors import DataError, GanbenchError, PluginError, unknown_name

if TYPE_CHECKING:
    from ganbench.core.contract import Recipe

KINDS = ("generator", "critic", "loss", "regularizer", "model", "dataset", "metric", "executor", "tracker")
HOOK_FOR_KIND = {
    "generator": "register_generators",
    "critic": "register_critics",
    "loss": "register_losses",
    "regularizer": "register_regularizers",
    "model": "register_models",
    "dataset": "register_datasets",
    "metric": "register_metrics",
    "executor": "register_executors",
    "tracker": "register_trackers",
}
ENV_LOAD = "GANBENCH_LOAD_PLUGINS"
#: (name, plugin object) pairs registered in-process, e.g. by ``ganbench.testing.plugin``.
IN_PROCESS: list[tuple[str, object]] = []


@dataclass
class Entry:
    name: str
    factory: Callable[..., Any]
    plugin: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class PluginInfo:
    name: str
    version: str
    distribution: str
    registers: dict[str, list[str]] = field(default_factory=dict)
    #: sha256 of the plugin's source files (its module, or its whole package), so an edited plugin is a
    #: different plugin even when its version number did not change
    code_hash: str = ""


def code_hash(obj: object) -> str:
    """A hash of the source that defines ``obj``: every ``.py`` file of its package (or its module's file, or
    the file that defines its class); empty when there is no source file."""
    module = obj if isinstance(obj, types.ModuleType) else inspect.getmodule(type(obj))
    path = getattr(module, "__file__", None)
    if not path:
        return ""
    path = os.path.abspath(path)
    is_package = os.path.basename(path) == "__init__.py"
    folder = os.path.dirname(path)
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs if f.endswith(".py")
                   ) if is_package else [path]
    digest = hashlib.sha256()
    for file in files:
        digest.update(os.path.relpath(file, folder).encode())
        try:
            with open(file, "rb") as fh:
                digest.update(fh.read())
        except OSError:
            continue
    return digest.hexdigest()[:12]


def source_module(factory: Callable[..., Any]) -> types.ModuleType | None:
    """The module that defines a factory: a function's or class's own module, a ``functools.partial``'s
    function's, a callable object's class's."""
    target = getattr(factory, "func", factory)  # functools.partial
    module = inspect.getmodule(target)
    if module is None or not getattr(module, "__file__", None):
        module = inspect.getmodule(type(target))
    return module


def module_hash(module: types.ModuleType | None) -> str:
    """sha256 (12 hex digits) of one module's source file; empty without one."""
    path = getattr(module, "__file__", None)
    if not path:
        return ""
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()[:12]
    except OSError:
        return ""


class Registry:
    """Everything the loaded plugins registered, by kind and name."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        self.plugins: dict[str, PluginInfo] = {}
        self._guessed: set[tuple[str, str]] = set()

    def identity(self, used: dict[str, list[str]]) -> dict[str, str]:
        """``{distribution: version}`` of the plugins that registered the named things (``{kind: [names]}``).
        The version carries the hash of the plugins' source (``0.1.0+src.1a2b3c4d5e6f``), so an edited plugin
        reinstalled under the same version number is still told apart; in-process plugins (tests) are
        listed as ``in-process:<name>``."""
        by_dist: dict[str, list[PluginInfo]] = {}
        for kind, names in used.items():
            for name in names:
                info = self.plugins[self.get(kind, name).plugin]
                key = info.distribution if info.distribution != "in-process" else f"in-process:{info.name}"
                if info not in by_dist.setdefault(key, []):
                    by_dist[key].append(info)
        out = {}
        for key, infos in sorted(by_dist.items()):
            digest = hashlib.sha256("".join(sorted(i.code_hash for i in infos)).encode()).hexdigest()[:12]
            version = infos[0].version if infos[0].distribution != "in-process" else "0"
            out[key] = f"{version}+src.{digest}"
        return out

    def part_identity(self, kind: str, name: str) -> str:
        """What built one part of a run, readable: ``"bce: ganbench 0.1.0, my_plugin.losses@1a2b3c4d5e6f"``
        -- its name, the distribution and version of the plugin that registered it, and the module that
        defines its factory with a hash of that module's source. An edit to that module is a new part; an
        edit elsewhere in the distribution (a metric, another loss, a comment in a sibling) is not."""
        entry = self.get(kind, name)
        info = self.plugins[entry.plugin]
        where = (f"in-process {info.name}" if info.distribution == "in-process"
                 else f"{info.distribution} {info.version}")
        module = source_module(entry.factory)
        return f"{name}: {where}, {getattr(module, '__name__', '?')}@{module_hash(module) or 'no-source'}"

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries[kind])

    def get(self, kind: str, name: str) -> Entry:
        try:
            return self.entries[kind][name]
        except KeyError:
            raise unknown_name(kind, name, self.names(kind)) from None

    def create(self, kind: str, name: str, /, **options: Any) -> Any:
        """Call a registered factory (an option may itself be called ``kind`` or ``name``). Whatever it raises
        becomes one line naming the plugin, the kind, the name and the plugin's own message (PluginError,
        exit 4); a GanbenchError it raises passes as is, and a dataset's OSError (unreadable data) is a
        DataError."""
        entry = self.get(kind, name)
        try:
            return entry.factory(**options)
        except GanbenchError:
            raise
        except OSError as exc:
            if kind != "dataset":
                raise self._failure(entry, kind, options, exc) from None
            raise DataError(f"dataset {name}: {exc}") from None
        except Exception as exc:
            raise self._failure(entry, kind, options, exc) from None

    @staticmethod
    def _failure(entry: Entry, kind: str, options: dict[str, Any], exc: Exception) -> PluginError:
        message = " ".join(str(exc).split()) or "(no message)"
        with_options = f" with options {options}" if options else ""
        return PluginError(f"plugin {entry.plugin}: {kind} '{entry.name}'{with_options} failed: "
                           f"{type(exc).__name__}: {message}")

    def build(self, recipe: Recipe, part: str, hints: Any = None) -> Any:
        """A recipe's generator, critic or loss (``part``), built with the recipe's options for it and checked
        to be what the contract says (an ``nn.Module``, an ``AdversarialLoss``). ``hints`` (a budget's
        ``SizeHints``) go to a factory that declares a parameter named ``hints``, and to no other."""
        from torch import nn

        from ganbench.core.contract import AdversarialLoss

        name = getattr(recipe, part)
        options = dict(getattr(recipe, f"{part}_options"))
        if hints is not None and "hints" not in options and self.accepts(part, name, "hints"):
            options["hints"] = hints
        obj = self.create(part, name, **options)
        expected = AdversarialLoss if part == "loss" else nn.Module
        if not isinstance(obj, expected):
            raise PluginError(f"plugin {self.get(part, name).plugin}: {part} '{name}' factory returned "
                              f"{type(obj).__name__}, not a {expected.__module__}.{expected.__name__}")
        return obj

    def accepts(self, kind: str, name: str, option: str) -> bool:
        """Does this factory take the keyword ``option`` that ganbench passes where a factory declares it (a
        network's size ``hints``, a dataset's ``evaluate_all``, an executor's options)? As declared at
        registration: ``register(name, factory, accepts=("hints",))``. A factory registered without
        ``accepts`` (a plugin written before it) is guessed from its signature: ``option`` named as a
        parameter (``**kwargs`` does not count), with a DeprecationWarning where the guess says yes."""
        declared = self.declared_options(kind, name)
        if declared is not None:
            return option in declared
        guessed = declares(self.get(kind, name).factory, option)
        if guessed:
            self.warn_guessed(kind, name)
        return guessed

    def declared_options(self, kind: str, name: str) -> frozenset[str] | None:
        """The options the factory declared with ``accepts=`` at registration; None where it declared none."""
        entry = self.get(kind, name)
        return frozenset(entry.meta["accepts"]) if "accepts" in entry.meta else None

    def warn_guessed(self, kind: str, name: str) -> None:
        """A DeprecationWarning (once per factory): its options were guessed from its signature."""
        if (kind, name) not in self._guessed:
            self._guessed.add((kind, name))
            warnings.warn(f"plugin {self.get(kind, name).plugin}: {kind} '{name}' is registered without "
                          "accepts=(...); the options ganbench passes it were guessed from its signature "
                          "(deprecated: declare them when registering, docs/plugins.md)", DeprecationWarning,
                          stacklevel=3)

    def _registrar(self, kind: str, plugin: str) -> Callable[..., None]:
        def register(name: str, factory: Callable[..., Any], **meta: Any) -> None:
            if not isinstance(name, str) or not name or name != name.strip() or "," in name:
                raise PluginError(f"plugin {plugin} registered an invalid {kind} name {name!r}")
            if not callable(factory):
                raise PluginError(f"plugin {plugin} registered {kind} '{name}' with a non-callable factory")
            if "accepts" in meta:
                meta["accepts"] = _checked_accepts(plugin, kind, name, factory, meta["accepts"])
            existing = self.entries[kind].get(name)
            if existing is not None:
                raise PluginError(
                    f"{kind} name '{name}' is registered twice: by plugin {existing.plugin} and by plugin "
                    f"{plugin}; uninstall one or restrict {ENV_LOAD}"
                )
            self.entries[kind][name] = Entry(name, factory, plugin, dict(meta))
            self.plugins[plugin].registers.setdefault(kind, []).append(name)

        return register


def _checked_accepts(plugin: str, kind: str, name: str, factory: Callable[..., Any], accepts: Any) -> frozenset[str]:
    """``accepts=`` as registered: names of keyword options the factory takes (fail fast otherwise)."""
    if isinstance(accepts, str) or not all(isinstance(a, str) for a in accepts):
        raise PluginError(f"plugin {plugin}: {kind} '{name}': accepts= must be a list of option names, "
                          f"got {accepts!r}")
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return frozenset(accepts)
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        missing = sorted(set(accepts) - set(params))
        if missing:
            raise PluginError(f"plugin {plugin}: {kind} '{name}' declares accepts={', '.join(missing)} but its "
                              "factory takes no such keyword")
    return frozenset(accepts)


def declares(factory: Callable[..., Any], parameter: str) -> bool:
    """Does ``factory`` name ``parameter`` in its signature (``**kwargs`` does not count)?"""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return parameter in params and params[parameter].kind not in (inspect.Parameter.VAR_POSITIONAL,
                                                                   inspect.Parameter.VAR_KEYWORD)


def _selected(ep: md.EntryPoint, wanted: set[str] | None) -> bool:
    if wanted is None:
        return True
    dist = ep.dist.name if ep.dist is not None else ""
    return ep.name in wanted or dist in wanted


def _check_wanted(wanted: set[str] | None, installed: list[md.EntryPoint]) -> None:
    """Every name in GANBENCH_LOAD_PLUGINS must name an installed plugin (entry point or distribution)."""
    known = {ep.name for ep in installed} | {ep.dist.name for ep in installed if ep.dist is not None}
    unknown = sorted((wanted or set()) - known)
    if unknown:
        raise PluginError(
            f"{ENV_LOAD} names no installed plugin: {', '.join(unknown)}. Installed: {', '.join(sorted(known))} "
            f"(entry-point or distribution names; 'ganbench' = the built-ins)"
        )


def _no_hooks(info: PluginInfo, obj: object) -> str:
    where = f"{info.distribution} {info.version}" if info.distribution != "in-process" else "in-process"
    undecorated = sorted(n for n in dir(obj) if n.startswith("register_") and callable(getattr(obj, n)))
    why = (f"{', '.join(undecorated)} {'is' if len(undecorated) == 1 else 'are'} not decorated with "
           "@ganbench.api.hookimpl" if undecorated else
           f"it has none of the hooks {', '.join(HOOK_FOR_KIND.values())}")
    return f"plugin '{info.name}' ({where}) registers nothing: {why}"


def load_registry(extra: list[tuple[str, object]] | None = None, env: dict[str, str] | None = None) -> Registry:
    """Load the selected entry-point plugins plus ``extra`` (name, module-or-object) pairs."""
    raw = (os.environ if env is None else env).get(ENV_LOAD)
    wanted = None if raw is None else {p.strip() for p in raw.split(",") if p.strip()}

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    registry = Registry()
    infos: list[tuple[object, PluginInfo]] = []

    installed = sorted(md.entry_points(group=hookspecs.PROJECT), key=lambda e: e.name)
    _check_wanted(wanted, installed)
    for ep in installed:
        if not _selected(ep, wanted):
            continue
        dist = ep.dist.name if ep.dist is not None else "?"
        version = ep.dist.version if ep.dist is not None else "?"
        try:
            module = ep.load()
        except Exception as exc:  # a broken third-party plugin must not look like a ganbench bug
            raise PluginError(
                f"plugin '{ep.name}' ({dist} {version}, {ep.value}) failed to import: "
                f"{type(exc).__name__}: {exc}. Uninstall it or leave it out of {ENV_LOAD}."
            ) from exc
        infos.append((module, PluginInfo(ep.name, version, dist, code_hash=code_hash(module))))

    for name, obj in [*IN_PROCESS, *(extra or [])]:
        infos.append((obj, PluginInfo(name, "in-process", "in-process", code_hash=code_hash(obj))))

    for obj, info in infos:
        if pm.is_registered(obj):  # installed and also registered in-process (its own tests): load it once
            continue
        if info.name in registry.plugins:
            raise PluginError(f"two plugins are named '{info.name}'")
        try:
            pm.register(obj, name=info.name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin '{info.name}' is invalid: {exc}") from exc
        if not pm.get_hookcallers(obj):
            raise PluginError(_no_hooks(info, obj))
        registry.plugins[info.name] = info
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"{exc} (misspelt hook? known hooks: {', '.join(HOOK_FOR_KIND.values())})") from exc

    for kind, hook in HOOK_FOR_KIND.items():
        caller = getattr(pm.hook, hook)
        for impl in reversed(caller.get_hookimpls()):  # registration order, deterministic
            args = {"register": registry._registrar(kind, impl.plugin_name)}
            impl.function(**{k: v for k, v in args.items() if k in impl.argnames})
    return registry
