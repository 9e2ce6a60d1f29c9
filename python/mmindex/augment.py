"""Image transforms for tests, demos and evaluation: the same photo
rotated, scaled, cropped or recompressed, returned as encoded bytes (PNG,
or JPEG for :func:`jpeg`); and :func:`decode` to get pixels.

These are the library's own transforms (OpenCV), so a demo needs neither
OpenCV nor Pillow in Python.
"""

from __future__ import annotations

from typing import Any

from . import _mmindex

__all__ = ["rotate", "scale", "jpeg", "crop", "region", "perspective", "photometric", "blur", "decode"]


def rotate(data: bytes, degrees: float) -> bytes:
    """Rotated about the centre (counter-clockwise), same canvas, borders
    reflected."""
    return _mmindex.augment(data, "rotate", degrees)


def scale(data: bytes, factor: float) -> bytes:
    """Both sides multiplied by ``factor``."""
    return _mmindex.augment(data, "scale", factor)


def jpeg(data: bytes, quality: int) -> bytes:
    """Re-encoded as JPEG at ``quality`` (1-100)."""
    return _mmindex.augment(data, "jpeg", float(quality))


def crop(data: bytes, fraction: float) -> bytes:
    """The centred crop keeping ``fraction`` of each side."""
    return _mmindex.augment(data, "crop", fraction)


def region(data: bytes, x: float, y: float, w: float, h: float) -> bytes:
    """The crop at left ``x``, top ``y``, width ``w``, height ``h``, as
    fractions of the image's sides."""
    return _mmindex.augment(data, "region", x, y, w, h)


def perspective(data: bytes, fraction: float) -> bytes:
    """A viewpoint change: the top edge pulled in by ``fraction`` of the
    width on each side (below 0.5)."""
    return _mmindex.augment(data, "perspective", fraction)


def photometric(data: bytes, contrast: float, brightness: float) -> bytes:
    """Each pixel ``v`` becomes ``contrast * v + brightness``."""
    return _mmindex.augment(data, "photometric", contrast, brightness)


def blur(data: bytes, sigma: float) -> bytes:
    """Gaussian blur of standard deviation ``sigma`` pixels (0-20]."""
    return _mmindex.augment(data, "blur", sigma)


def decode(data: bytes) -> Any:
    """Decodes image bytes to an HxWx3 uint8 RGB ``numpy.ndarray`` (needs
    numpy), as Pillow would give it."""
    import numpy as np

    w, h, pixels = _mmindex.decode_pixels(data)
    return np.frombuffer(pixels, dtype=np.uint8).reshape(h, w, 3)
