"""The exceptions mmindex raises.

Every error from the engine is an :class:`Error`; catch that to catch them
all. Each subclass carries the fields that identify what failed (a path, an
id, a reason) as attributes. Wrong argument types raise the built-in
``TypeError``; a value out of range raises :class:`InvalidConfigError`,
which is also a ``ValueError``.
"""

from __future__ import annotations

from os import PathLike, fspath
from typing import Optional, Union

__all__ = [
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


def _path(p: Union[str, "PathLike[str]", None]) -> Optional[str]:
    return None if p is None else fspath(p)


class Error(Exception):
    """Base class of every error mmindex raises.

    ``str(e)`` is the full message; ``reason`` the cause alone, when the
    error has one.
    """

    reason: Optional[str]

    def __init__(self, message: str, *, reason: Optional[str] = None) -> None:
        super().__init__(message)
        self.reason = reason


class ImageError(Error):
    """An image could not be read, decoded or described.

    ``path`` is the file, or ``"<bytes>"`` / ``"<pixels>"`` for images given
    in memory.
    """

    path: Optional[str]

    def __init__(
        self,
        message: str,
        *,
        path: Union[str, "PathLike[str]", None] = None,
        reason: Optional[str] = None,
    ) -> None:
        super().__init__(message, reason=reason)
        self.path = _path(path)


class CorruptionError(Error):
    """A stored value does not decode: the index is damaged.

    ``tree`` and ``key`` (hex) locate the value; both are ``None`` for
    :class:`DamagedError`.
    """

    tree: Optional[str]
    key: Optional[str]

    def __init__(
        self,
        message: str,
        *,
        tree: Optional[str] = None,
        key: Optional[str] = None,
        reason: Optional[str] = None,
    ) -> None:
        super().__init__(message, reason=reason)
        self.tree = tree
        self.key = key


class DamagedError(CorruptionError):
    """The storage is damaged (sled could not read an entry, or its recovery
    discarded acknowledged writes). Nothing more is written to the index;
    :func:`mmindex.verify` reports what is damaged without changing it."""


class IncompatibleFormatError(Error):
    """The index was written in a format this build cannot read.

    ``found`` is the stored format version, ``supported`` the newest this
    build reads.
    """

    found: Optional[int]
    supported: Optional[int]

    def __init__(
        self, message: str, *, found: Optional[int] = None, supported: Optional[int] = None
    ) -> None:
        super().__init__(message)
        self.found = found
        self.supported = supported


class NotAnIndexError(Error):
    """The directory exists but holds no mmindex index (or none exists and
    ``create=False`` was given)."""

    path: Optional[str]

    def __init__(
        self,
        message: str,
        *,
        path: Union[str, "PathLike[str]", None] = None,
        reason: Optional[str] = None,
    ) -> None:
        super().__init__(message, reason=reason)
        self.path = _path(path)


class LockedError(Error):
    """The index is open elsewhere: in another process, or (for
    :func:`mmindex.compact`) still open in this one."""

    path: Optional[str]

    def __init__(self, message: str, *, path: Union[str, "PathLike[str]", None] = None) -> None:
        super().__init__(message)
        self.path = _path(path)


class WriterBusyError(Error):
    """Another writer of this index is open, or this writer is running
    another call."""


class NoCodebookError(Error):
    """The index has no codebook yet: build or train it first."""


class TooFewDescriptorsError(Error):
    """Training found fewer descriptors (``found``) than it needs
    (``needed``)."""

    found: Optional[int]
    needed: Optional[int]

    def __init__(
        self, message: str, *, found: Optional[int] = None, needed: Optional[int] = None
    ) -> None:
        super().__init__(message)
        self.found = found
        self.needed = needed


class InvalidConfigError(Error, ValueError):
    """An option or argument is out of its documented range."""


class StorageError(Error):
    """The storage engine (sled) reported an error."""


class IoError(Error, OSError):
    """A file operation outside the storage engine failed on ``path``."""

    path: Optional[str]

    def __init__(
        self,
        message: str,
        *,
        path: Union[str, "PathLike[str]", None] = None,
        reason: Optional[str] = None,
    ) -> None:
        Error.__init__(self, message, reason=reason)
        self.path = _path(path)


class RecordsError(Error):
    """A records file could not be used at all."""

    path: Optional[str]

    def __init__(
        self,
        message: str,
        *,
        path: Union[str, "PathLike[str]", None] = None,
        reason: Optional[str] = None,
    ) -> None:
        super().__init__(message, reason=reason)
        self.path = _path(path)


class CompactionError(Error):
    """A compaction's copy did not hold what the index holds; the index was
    left as it was."""

    path: Optional[str]

    def __init__(
        self,
        message: str,
        *,
        path: Union[str, "PathLike[str]", None] = None,
        reason: Optional[str] = None,
    ) -> None:
        super().__init__(message, reason=reason)
        self.path = _path(path)


class TrainingError(Error):
    """Clustering failed while training a codebook."""


class StalePreparedQueryError(Error):
    """A prepared query was quantized against a vocabulary the index no
    longer searches (a rebuild since): prepare it again."""


class VocabularyError(Error):
    """Bytes given as an exported vocabulary are not one or are damaged, or
    a record was described with another vocabulary than the index's."""


class ClosedError(Error):
    """The index or writer was closed."""


class InternalError(Error):
    """A bug inside mmindex (a Rust panic), caught before it could end the
    interpreter. The index is left as its last committed batch."""
