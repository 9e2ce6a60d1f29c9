"""Python values into the native layer's inputs: images, records, words."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Iterable, List, Mapping, Tuple, Union

if TYPE_CHECKING:
    from ._mmindex import NativeImage
    from ._typing import ImageLike, Records, WordsLike

_ORDERS = ("rgb", "bgr")


def _numpy() -> Any:
    try:
        import numpy
    except ImportError as e:  # pragma: no cover - numpy is a test dependency
        raise TypeError("reading pixel arrays needs numpy (pip install numpy)") from e
    return numpy


def check_order(color_order: str) -> str:
    if color_order not in _ORDERS:
        raise ValueError(f"color_order is 'rgb' or 'bgr', not {color_order!r}")
    return color_order


def _ndarray() -> Any:
    """``numpy.ndarray`` when NumPy is imported (an array exists only then)."""
    np = sys.modules.get("numpy")
    return None if np is None else np.ndarray


def pixels(obj: Any, color_order: str) -> Tuple[Any, str]:
    """An array-like (a Pillow image, ...) as a NumPy array with its colour
    order; the native layer checks its dtype and shape and copies it."""
    return (_numpy().asarray(obj), color_order)


def image(obj: "ImageLike", color_order: str) -> "NativeImage":
    """A path, encoded bytes or pixel array as the native layer takes it."""
    if isinstance(obj, (bytes, bytearray)):
        return obj
    if isinstance(obj, memoryview):
        return obj.tobytes()
    if isinstance(obj, str) or hasattr(obj, "__fspath__"):
        return obj  # type: ignore[return-value]
    nd = _ndarray()
    if nd is not None and isinstance(obj, nd):
        # Checked and copied (once, whatever its strides) by the native layer.
        return (obj, color_order)
    if hasattr(obj, "__array_interface__") or hasattr(obj, "__array__"):
        return pixels(obj, color_order)
    raise TypeError(
        "an image is a path, encoded bytes, or a uint8 pixel array (HxW or HxWx3), "
        f"not {type(obj).__name__}"
    )


def records(
    records: "Records", color_order: str
) -> Union[str, "os.PathLike[str]", List[Tuple[Any, "NativeImage"]]]:
    """A folder, a mapping of id to image, or (id, image) pairs."""
    check_order(color_order)
    if isinstance(records, str) or isinstance(records, os.PathLike):
        return records
    items: Iterable[Any] = records.items() if isinstance(records, Mapping) else records
    out: List[Tuple[Any, "NativeImage"]] = []
    for item in items:
        try:
            rid, img = item
        except (TypeError, ValueError):
            raise TypeError(
                "records are (id, image) pairs, a mapping of id to image, or a folder; "
                f"found {type(item).__name__}"
            ) from None
        out.append((rid, image(img, color_order)))
    return out


def words(w: "WordsLike") -> Union[bytes, List[int]]:
    """Visual words as little-endian uint32 bytes (from an array) or ints."""
    if hasattr(w, "__array_interface__") or hasattr(w, "__array__"):
        np = _numpy()
        a = np.asarray(w)
        if a.ndim != 1 or a.dtype.kind not in "ui":
            raise TypeError(f"words are a 1-D integer array, not {a.dtype} of shape {a.shape}")
        if a.size and (a.min() < 0 or a.max() > 0xFFFFFFFF):
            raise ValueError("words are in 0..2**32-1")
        return bytes(np.ascontiguousarray(a, dtype="<u4").tobytes())
    return [int(x) for x in w]
