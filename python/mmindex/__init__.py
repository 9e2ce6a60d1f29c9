"""mmindex: an embedded image-retrieval engine.

Index the images your records refer to and ask "which stored images look
like this one?"::

    import mmindex

    with mmindex.Index.open("photos.idx", feature="rootsift", words=1000) as index:
        with index.writer() as w:
            w.build("photos/")                     # ids: paths relative to the folder
            w.add({42: "uploads/42.jpg"})           # ids: str, bytes or int, kept as given
            w.remove(["photos/old.jpg"])
        for hit in index.search("query.jpg", top_k=5):
            print(hit.id, hit.score, hit.inliers)

Queries and images are paths, encoded bytes, or uint8 pixel arrays (NumPy,
OpenCV, Pillow). Calls release the GIL. Errors are :class:`mmindex.Error`
subclasses. The prototype's two classes are in :mod:`mmindex.compat`.
See docs/PYTHON.md.
"""

from __future__ import annotations

from typing import Union

from . import augment
from ._index import Index, ProgressCallback, Writer, compact, verify
from ._mmindex import DEFAULT_RERANK, DEFAULT_RERANK_PATIENCE, MAX_WORKERS, MIN_INLIERS
from ._mmindex import decode_id as _decode_id
from ._mmindex import encode_id as _encode_id
from ._typing import ArrayLike, ImageLike, Records, WordsLike
from ._sharded import ShardedSearcher, ShardHit, shard_of
from ._vocabulary import ExtractedRecord, Vocabulary
from .errors import (
    ClosedError,
    CompactionError,
    CorruptionError,
    DamagedError,
    Error,
    ImageError,
    IncompatibleFormatError,
    InternalError,
    InvalidConfigError,
    IoError,
    LockedError,
    NoCodebookError,
    NotAnIndexError,
    RecordsError,
    StalePreparedQueryError,
    StorageError,
    TooFewDescriptorsError,
    TrainingError,
    VocabularyError,
    WriterBusyError,
)
from .reports import (
    AddReport,
    CompactReport,
    Config,
    Hit,
    Id,
    RebuildReport,
    Record,
    RecordError,
    Space,
    Stats,
    TrainReport,
    VerifyReport,
    WarmReport,
)

__version__ = "0.1.0"

__all__ = [
    "Index",
    "Writer",
    "Vocabulary",
    "ExtractedRecord",
    "ShardedSearcher",
    "ShardHit",
    "shard_of",
    "compact",
    "verify",
    "encode_id",
    "decode_id",
    "augment",
    "ProgressCallback",
    "DEFAULT_RERANK",
    "DEFAULT_RERANK_PATIENCE",
    "MAX_WORKERS",
    "MIN_INLIERS",
    "ArrayLike",
    "ImageLike",
    "Records",
    "WordsLike",
    "Id",
    "Hit",
    "RecordError",
    "AddReport",
    "TrainReport",
    "RebuildReport",
    "Stats",
    "Space",
    "VerifyReport",
    "Record",
    "CompactReport",
    "WarmReport",
    "Config",
    "Error",
    "ImageError",
    "CorruptionError",
    "DamagedError",
    "IncompatibleFormatError",
    "NotAnIndexError",
    "LockedError",
    "WriterBusyError",
    "NoCodebookError",
    "TooFewDescriptorsError",
    "InvalidConfigError",
    "StorageError",
    "IoError",
    "RecordsError",
    "CompactionError",
    "TrainingError",
    "StalePreparedQueryError",
    "VocabularyError",
    "ClosedError",
    "InternalError",
]


def encode_id(id: Union[Id, bytearray]) -> bytes:
    """The bytes an id is stored as: a ``str`` as its UTF-8 (what the
    command line and the server show), an ``int`` as ``b"\\xffi"`` and its
    decimal digits, ``bytes`` as themselves when they are not UTF-8 (and do
    not start with ``0xFF``), else ``b"\\xffb"`` and the bytes. See
    docs/PYTHON.md, "Ids"."""
    return _encode_id(id)


def decode_id(stored: bytes) -> Id:
    """The id stored as ``stored`` (the inverse of :func:`encode_id`)."""
    result: Id = _decode_id(stored)
    return result
