"""Descriptors: numbers per text or image value, profiled like numeric columns.

:mod:`.registry` holds :data:`DESCRIPTORS`; :mod:`.text` and :mod:`.image` the
built-ins (image descriptors need Pillow for encoded images:
``pip install 'driftline[images]'``).
"""

from driftline.stats.descriptors.registry import (
    DESCRIPTORS,
    Descriptor,
    DescriptorKind,
    descriptors_for,
)

__all__ = ["DESCRIPTORS", "Descriptor", "DescriptorKind", "descriptors_for"]
