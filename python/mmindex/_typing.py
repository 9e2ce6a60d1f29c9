"""Type aliases of mmindex's arguments (re-exported by ``mmindex``)."""

from __future__ import annotations

import os
from typing import Any, Iterable, Mapping, Protocol, Sequence, Tuple, Union

from .reports import Id

__all__ = ["ArrayLike", "ImageLike", "Records", "WordsLike", "IdLike"]


class ArrayLike(Protocol):
    """Anything NumPy reads as an array: a ``numpy.ndarray``, a Pillow
    image."""

    @property
    def __array_interface__(self) -> Mapping[str, Any]: ...


#: An image: a file path, encoded image bytes (JPEG, PNG, ...), or a uint8
#: pixel array of shape HxW (grey), HxWx3 or HxWx4 (colour; RGB by default,
#: ``color_order="bgr"`` for OpenCV's arrays).
ImageLike = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, ArrayLike]

#: A record id (``str``, ``bytes`` or ``int``), returned as given.
IdLike = Id

#: Records to ingest: a folder of images (ids are the paths relative to it),
#: a mapping of id to image, or an iterable of ``(id, image)`` pairs.
Records = Union[
    str, "os.PathLike[str]", Mapping[Any, ImageLike], Iterable[Tuple[Any, ImageLike]]
]

#: Visual words: a 1-D integer array, or a sequence of ints.
WordsLike = Union[ArrayLike, Sequence[int]]
