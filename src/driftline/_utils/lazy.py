"""Packages whose public names are imported on first use (PEP 562).

``lazy_package(__name__, {"Name": "driftline.x.module", ...})`` makes the
package load ``Name`` from its module only when it is first read, so that
importing the package (or any of its submodules, as the command line does)
stays cheap. A missing optional dependency becomes a
:class:`~driftline.errors.MissingDependencyError` naming the extra.

A submodule named like one of the exports (``driftline.report.compare`` and
the function ``compare``) does not replace the export when it is imported:
the package attribute stays the public object, as with an eager
``from .compare import compare``.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Mapping
from typing import Any

from driftline.errors import missing_extra


class _LazyPackage(types.ModuleType):
    _lazy_exports: Mapping[str, str]

    def __getattr__(self, name: str) -> Any:
        module = self._lazy_exports.get(name)
        if module is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        try:
            value = getattr(importlib.import_module(module), name)
        except ImportError as exc:
            missing = missing_extra(exc)
            if missing is None:
                raise
            raise missing from None
        self.__dict__[name] = value
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        submodule = isinstance(value, types.ModuleType) and value.__name__.endswith(f".{name}")
        if submodule and name in self._lazy_exports:
            return  # the import system binding a submodule over a same-named export
        super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted({*self.__dict__.get("__all__", ()), *self.__dict__})


def lazy_package(name: str, exports: Mapping[str, str]) -> None:
    """Make the package ``name`` load each of ``exports`` (name -> module) on first use."""
    package = sys.modules[name]
    package.__class__ = _LazyPackage
    package.__dict__["_lazy_exports"] = dict(exports)
