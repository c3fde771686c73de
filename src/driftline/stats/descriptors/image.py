"""Built-in image descriptors: size, light, colour and sharpness per image.

Computed by :mod:`._images` (decode once per batch): width and height in
pixels, aspect (width / height), brightness (mean BT.601 luma in [0, 1]),
contrast (its standard deviation), colourfulness (Hasler and Suesstrunk),
blur (variance of the 4-neighbour Laplacian of the luma: lower is blurrier)
and the mean of each colour channel.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from driftline.stats.descriptors import _images
from driftline.stats.descriptors.registry import Descriptor

_WHAT = {
    "width": ("width in pixels", "px"),
    "height": ("height in pixels", "px"),
    "aspect": ("width / height", ""),
    "brightness": ("mean luma (ITU-R BT.601), 0 black to 1 white", ""),
    "contrast": ("standard deviation of the luma (RMS contrast)", ""),
    "colourfulness": ("Hasler-Suesstrunk colourfulness on [0, 1] channels", ""),
    "blur": ("variance of the Laplacian of the luma (lower: blurrier)", ""),
    "mean_red": ("mean red channel in [0, 1]", ""),
    "mean_green": ("mean green channel in [0, 1]", ""),
    "mean_blue": ("mean blue channel in [0, 1]", ""),
}


def _one(name: str) -> Callable[[pa.Array], np.ndarray]:
    def compute(values: pa.Array) -> np.ndarray:
        return _images.features(values)[name]

    compute.__name__ = name
    return compute


METHODS = [
    Descriptor(name, "image", _one(name), what, unit) for name, (what, unit) in _WHAT.items()
]
