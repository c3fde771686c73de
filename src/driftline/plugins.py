"""Registries of named extensions, and the entry-point plug-ins that fill them.

Each kind of extension (drift methods, notifiers, ...) has one
:class:`Registry`. A built-in registers itself when its module is imported;
a third-party package registers through a Python entry point in the
registry's group, e.g. in its pyproject.toml::

    [project.entry-points."driftline.drift_methods"]
    energy = "my_package.energy:METHOD"

The entry point names either the object to register (a
:class:`~driftline.stats.drift.registry.DriftMethod`, ...) or a module that
registers its objects on import. Plug-ins are loaded the first time a
registry is read, so ``import driftline`` stays cheap; a plug-in that fails to
load or clashes with a registered name raises :class:`~driftline.errors.PluginError`
naming the entry point and the package it came from.

Everything that lists or dispatches extensions (rules, CLI choices,
configuration validation, docs tables) reads the registry, so adding a
built-in is one module plus its docs, and a plug-in needs no change to
driftline. ``driftline plugins`` lists what is registered.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
import types
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, Protocol, TypeVar

from driftline.errors import PluginError


class Named(Protocol):
    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=Named)


class Registry(Generic[T]):
    """Named extensions of one kind; built-ins plus the plug-ins of entry-point ``group``."""

    def __init__(
        self,
        kind: str,
        group: str,
        entry_type: type[T],
        builtins: Callable[[], None] | None = None,
    ) -> None:
        self.kind = kind
        self.group = group
        self.entry_type = entry_type
        self._builtins = builtins
        self._items: dict[str, T] = {}
        self._origin: dict[str, str] = {}
        self._loaded = False
        self._lock = threading.RLock()

    # -- registering ---------------------------------------------------------------
    def register(self, item: T, *, origin: str = "driftline") -> T:
        """Add ``item`` under ``item.name``; a second item with that name is a PluginError."""
        if not isinstance(item, self.entry_type):
            raise PluginError(
                f"{origin}: a {self.kind} must be a {self.entry_type.__name__}, "
                f"got {type(item).__name__}"
            )
        with self._lock:
            have = self._origin.get(item.name)
            if have is not None and self._items[item.name] is not item:
                raise PluginError(
                    f"{self.kind} {item.name!r} from {origin} clashes with the one from {have}; "
                    "give it another name"
                )
            self._items[item.name] = item
            self._origin[item.name] = origin
        return item

    def _load(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            self._loaded = True
            if self._builtins is not None:
                self._builtins()
            for ep in sorted(entry_points(group=self.group), key=lambda e: e.name):
                self._load_entry_point(ep)

    def _load_entry_point(self, ep: EntryPoint) -> None:
        dist = ep.dist.name if ep.dist is not None else "an unknown package"
        origin = f"plug-in {ep.name!r} ({ep.value}, package {dist}, group {self.group})"
        try:
            loaded = ep.load()
        except Exception as exc:
            raise PluginError(f"{origin} cannot be loaded: {type(exc).__name__}: {exc}") from exc
        if isinstance(loaded, types.ModuleType):
            return  # a module that registered its objects when imported
        items = loaded if isinstance(loaded, list | tuple) else [loaded]
        for item in items:
            self.register(item, origin=origin)

    # -- reading -------------------------------------------------------------------
    def __getitem__(self, name: str) -> T:
        self._load()
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(
                f"unknown {self.kind} {name!r}; registered: {', '.join(self.names())}"
            ) from None

    def get(self, name: str) -> T | None:
        self._load()
        return self._items.get(name)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._items

    def __iter__(self) -> Iterator[T]:
        self._load()
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        self._load()
        return len(self._items)

    def names(self) -> tuple[str, ...]:
        """Registered names, built-ins first in registration order, then plug-ins."""
        self._load()
        return tuple(self._items)

    def origin(self, name: str) -> str:
        """Where ``name`` came from: "driftline" or the plug-in's entry point and package."""
        self._load()
        return self._origin[name]

    def is_builtin(self, name: str) -> bool:
        return self.origin(name) == "driftline"


def register_modules(
    registry: Registry[T],
    package: str,
    *,
    attrs: tuple[str, ...],
    order: tuple[str, ...] = (),
    skip: frozenset[str] = frozenset(),
) -> None:
    """Register the built-ins declared by the modules of ``package``.

    Each public module (not ``_private``, not ``registry``, not in ``skip``) is
    imported, those named in ``order`` first and the rest by name, and the first
    of ``attrs`` it defines is registered: a list/tuple of items or one item
    (e.g. ``attrs=("METHODS", "METHOD")``). Adding a built-in is adding a module.
    """
    pkg = importlib.import_module(package)
    found = {m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_")} - {
        "registry",
        *skip,
    }
    for name in [*(m for m in order if m in found), *sorted(found - set(order))]:
        module = importlib.import_module(f"{package}.{name}")
        for attr in attrs:
            declared = getattr(module, attr, None)
            if declared is None:
                continue
            for item in declared if isinstance(declared, list | tuple) else [declared]:
                registry.register(item)
            break


__all__ = ["Named", "Registry", "register_modules"]
