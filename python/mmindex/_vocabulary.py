"""``Vocabulary`` and ``ExtractedRecord``: images described away from any
index, for workers that never open it (a Dask cluster, another machine)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple, Union

from . import _convert, _mmindex
from ._typing import ImageLike
from .reports import Id

if TYPE_CHECKING:
    import numpy

__all__ = ["Vocabulary", "ExtractedRecord"]

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class ExtractedRecord:
    """One image described with a :class:`Vocabulary`: what
    :meth:`Writer.add_extracted <mmindex.Writer.add_extracted>` stores.
    Plain data (pickles, travels between processes).

    ``words`` is a ``uint32`` array, one visual word per feature;
    ``keypoints`` a ``(features, 4)`` ``float32`` array of x, y, size and
    angle (-1 when the feature has none), in pixels of the described image.
    """

    id: Id
    vocabulary: int
    source: bytes
    content_hash: int
    words: "numpy.ndarray[Any, Any]"
    keypoints: "numpy.ndarray[Any, Any]"

    def _native(self) -> Tuple[Any, int, bytes, int, bytes, bytes]:
        np = _convert._numpy()
        words = np.ascontiguousarray(self.words, dtype="<u4").tobytes()
        keypoints = np.ascontiguousarray(self.keypoints, dtype="<f4").tobytes()
        return (self.id, self.vocabulary, self.source, self.content_hash, words, keypoints)


class Vocabulary:
    """A vocabulary exported from an index (:meth:`Index.export_vocabulary
    <mmindex.Index.export_vocabulary>`): codebook, IDF weights and
    extraction settings, in a versioned, checksummed file format.

    :meth:`extract` describes an image exactly as an index on this
    vocabulary would, without any index. Pickles as its bytes.
    """

    def __init__(self, native: _mmindex.Vocabulary) -> None:
        """Use :meth:`load`, :meth:`from_bytes` or
        :meth:`Index.export_vocabulary <mmindex.Index.export_vocabulary>`."""
        self._native = native

    @classmethod
    def load(cls, path: PathLike) -> "Vocabulary":
        """Reads a vocabulary file (``VocabularyError`` when damaged)."""
        return cls(_mmindex.Vocabulary.load(path))

    @classmethod
    def from_bytes(cls, data: bytes) -> "Vocabulary":
        """Reads a vocabulary from :meth:`to_bytes`' output."""
        return cls(_mmindex.Vocabulary.from_bytes(bytes(data)))

    def to_bytes(self) -> bytes:
        """The vocabulary file's bytes."""
        return self._native.to_bytes()

    def save(self, path: PathLike) -> None:
        """Writes the vocabulary file durably (temporary file, sync,
        rename)."""
        self._native.save(path)

    @property
    def id(self) -> int:
        """The same for every export of this vocabulary, different for any
        other."""
        return self._native.id

    @property
    def words(self) -> int:
        """Number of visual words."""
        return self._native.words

    @property
    def settings(self) -> Dict[str, Any]:
        """The extraction settings: ``feature``, ``max_side``,
        ``max_pixels``, ``max_features``, ``min_features``."""
        return dict(self._native.settings)

    def extract(
        self, id: Id, image: ImageLike, *, color_order: str = "rgb", max_file_bytes: Optional[int] = None
    ) -> ExtractedRecord:
        """Describes one image (a path, encoded bytes or a pixel array) as
        the record ``id``. Raises ``ImageError`` for an image that cannot be
        read or described."""
        np = _convert._numpy()
        vocab, source, content_hash, words, keypoints = self._native.extract(
            _convert.image(image, color_order), max_file_bytes
        )
        return ExtractedRecord(
            id=id,
            vocabulary=vocab,
            source=source,
            content_hash=content_hash,
            words=np.frombuffer(words, dtype="<u4"),
            keypoints=np.frombuffer(keypoints, dtype="<f4").reshape(-1, 4),
        )

    def __reduce__(self) -> Tuple[Any, Tuple[bytes]]:
        return (Vocabulary.from_bytes, (self.to_bytes(),))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"Vocabulary(id={self.id:016x}, words={self.words}, feature={self.settings['feature']!r})"
