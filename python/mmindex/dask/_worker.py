"""What the workers of :mod:`mmindex.dask` run: each task describes or
extracts a few images and returns one outcome per image."""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from .. import _convert, _mmindex, errors
from .._vocabulary import Vocabulary
from ..reports import RecordError
from ._items import Item, path_of

_TUNED = False


def tune_allocator() -> None:
    """Once per worker process, on glibc: lets the allocator keep up to 64
    MiB of freed memory and serve blocks under 32 MiB from its heaps
    (glibc's own adaptive maxima). Dask's nanny starts workers with
    ``MALLOC_TRIM_THRESHOLD_=65536``, which returns every freed image
    buffer to the system at once, so each image's buffers page-fault in
    again: extraction then takes about 1.5 times as long, a third of it in
    the kernel."""
    global _TUNED
    if _TUNED:
        return
    _TUNED = True
    import ctypes
    import platform

    if platform.libc_ver()[0] != "glibc":
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_trim_threshold, 64 << 20)
        libc.mallopt(m_mmap_threshold, 32 << 20)
    except (OSError, AttributeError):
        # Only speed is at stake.
        pass


def describe(settings: Dict[str, Any], chunk: List[Item]) -> List[Tuple[int, Any]]:
    """Training descriptors of each image: ``(binary, width, bytes)``, or a
    :class:`RecordError` for an image that cannot be described."""
    tune_allocator()
    out: List[Tuple[int, Any]] = []
    for pos, id, image in chunk:
        try:
            out.append((pos, _mmindex.describe(_convert.image(image, "rgb"), **settings)))
        except errors.ImageError as e:
            out.append((pos, RecordError(id=id, path=path_of(image), reason=e.reason or str(e))))
    return out


def extract(
    vocabulary: Vocabulary, max_file_bytes: int, chunk: List[Item]
) -> List[Tuple[int, Any]]:
    """Each image's record, or a :class:`RecordError`."""
    tune_allocator()
    out: List[Tuple[int, Any]] = []
    for pos, id, image in chunk:
        try:
            out.append((pos, vocabulary.extract(id, image, max_file_bytes=max_file_bytes)))
        except errors.ImageError as e:
            out.append((pos, RecordError(id=id, path=path_of(image), reason=e.reason or str(e))))
    return out
