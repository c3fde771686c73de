"""Images of one batch decoded once, and their per-image measurements.

An image column holds encoded files (bytes: PNG, JPEG, ... decoded with
Pillow, ``pip install 'driftline[images]'``) or arrays (an Arrow fixed-shape
tensor of ``height x width`` or ``height x width x channels``, as
``driftline.profile`` makes from a numpy array of images). Pixels are scaled
to [0, 1] (8-bit values by 255; float arrays whose maximum is above 1, by 255
too). An image that cannot be decoded gives NaN everywhere and is counted by
its column as a type error.
"""

from __future__ import annotations

import io
import threading
from typing import Any

import numpy as np
import pyarrow as pa

from driftline.errors import require

NAMES = (
    "width", "height", "aspect", "brightness", "contrast", "colourfulness", "blur",
    "mean_red", "mean_green", "mean_blue",
)  # fmt: skip
_memo = threading.local()


def _pixels(value: Any, shape: tuple[int, ...] | None) -> np.ndarray | None:
    """One value as an ``h x w x 3`` float array in [0, 1], or None if it is no image."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        require("PIL", "images")
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(bytes(value))) as img:
                arr = np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
            return None
        return arr
    arr = np.asarray(value, dtype=np.float64)
    if shape is not None:
        arr = arr.reshape(shape)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4) or 0 in arr.shape:
        return None
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    arr = arr[:, :, :3]
    if not np.isfinite(arr).all():
        return None
    if arr.max() > 1.0:
        arr = arr / 255.0
    return arr


def measure(rgb: np.ndarray) -> dict[str, float]:
    """The measurements of one image (``h x w x 3`` in [0, 1])."""
    r, g, b = rgb[:, :, 0], rgb[:, :, 1], rgb[:, :, 2]
    gray = 0.299 * r + 0.587 * g + 0.114 * b  # ITU-R BT.601 luma
    rg, yb = r - g, 0.5 * (r + g) - b
    h, w = gray.shape
    if h >= 3 and w >= 3:  # variance of the 4-neighbour Laplacian on interior pixels
        lap = (
            gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:]
            - 4.0 * gray[1:-1, 1:-1]
        )  # fmt: skip
        blur = float(lap.var())
    else:
        blur = float("nan")
    return {
        "width": float(w),
        "height": float(h),
        "aspect": w / h,
        "brightness": float(gray.mean()),
        "contrast": float(gray.std()),
        # Hasler and Suesstrunk (2003), on [0, 1] values
        "colourfulness": float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())),
        "blur": blur,
        "mean_red": float(r.mean()),
        "mean_green": float(g.mean()),
        "mean_blue": float(b.mean()),
    }


def tensor_shape(t: pa.DataType) -> tuple[int, ...] | None:
    """The per-image shape of a fixed-shape tensor column (None for other types)."""
    shape = getattr(t, "shape", None)
    return tuple(int(s) for s in shape) if shape is not None else None


def features(values: pa.Array) -> dict[str, np.ndarray]:
    """Per image: every measurement of :data:`NAMES`, and ``bad`` (1: not an image)."""
    memo = getattr(_memo, "last", None)
    if memo is not None and memo[0] is values:
        out: dict[str, np.ndarray] = memo[1]
        return out
    shape = tensor_shape(values.type)
    storage = values.storage if isinstance(values, pa.ExtensionArray) else values
    n = len(values)
    out = {name: np.full(n, np.nan) for name in NAMES}
    out["bad"] = np.zeros(n)
    for i, value in enumerate(storage.to_pylist()):
        if value is None:
            continue
        rgb = _pixels(value, shape)
        if rgb is None:
            out["bad"][i] = 1.0
            continue
        for name, v in measure(rgb).items():
            out[name][i] = v
    _memo.last = (values, out)
    return out
