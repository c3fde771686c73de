"""The descriptor registry: per-value numbers derived from text or images.

A descriptor turns one value of a text or image column into a number (a text's
length in characters, an image's brightness, ...). Each is declared once as a
:class:`Descriptor` in a module of :mod:`driftline.stats.descriptors`
(``METHODS``); plug-ins add theirs through the ``driftline.descriptors`` entry
point. A text or image column's profile keeps one numeric profile per
descriptor, so each descriptor drifts, is checked and is charted like a numeric
column (``column.descriptor``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa

from driftline.plugins import Registry, register_modules

DescriptorKind = Literal["text", "image"]
KINDS: tuple[DescriptorKind, ...] = ("text", "image")


@dataclass(frozen=True)
class Descriptor:
    """A per-value number of a text or image column.

    ``compute(values)`` gets one batch of the column as an Arrow array (strings
    for text; binary or lists for images, see :mod:`.image`) and returns a
    float64 array of the same length, NaN where the value is missing or the
    descriptor is undefined for it (a letter share of a text without letters).
    """

    name: str
    kind: DescriptorKind
    compute: Callable[[pa.Array], np.ndarray]
    description: str = ""
    unit: str = ""
    #: profiled for every column of the kind; else only when configured by name
    by_default: bool = True

    def __post_init__(self) -> None:
        from driftline.errors import PluginError

        if not self.name.isidentifier():
            raise PluginError(f"descriptor name {self.name!r}: allowed: a Python identifier")
        if self.kind not in KINDS:
            raise PluginError(
                f"descriptor {self.name!r}: kind {self.kind!r}; allowed: {', '.join(KINDS)}"
            )


def _builtins() -> None:
    register_modules(DESCRIPTORS, "driftline.stats.descriptors", attrs=("METHODS",))


DESCRIPTORS: Registry[Descriptor] = Registry(
    "descriptor", "driftline.descriptors", Descriptor, _builtins
)


def descriptors_for(kind: DescriptorKind) -> tuple[Descriptor, ...]:
    """The registered descriptors profiled by default for a column kind, in order."""
    return tuple(d for d in DESCRIPTORS if d.kind == kind and d.by_default)


__all__ = ["DESCRIPTORS", "KINDS", "Descriptor", "DescriptorKind", "descriptors_for"]
