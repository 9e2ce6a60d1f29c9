"""``Writer``: the one writer of an index, for Python."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Iterable, Mapping, Optional, Tuple, Type, Union

from . import _convert, _mmindex
from ._progress import Bars
from ._typing import ArrayLike, Records, WordsLike
from ._vocabulary import ExtractedRecord, Vocabulary
from .reports import AddReport, Id, RebuildReport, TrainReport

__all__ = ["Writer"]


class Writer:
    """The one writer of an index: builds, adds, replaces and removes
    records. Each batch is one transaction, durable when the call returns;
    a record that cannot be indexed is reported in the call's report and
    the rest go on.

    Calls release the GIL; searches from other threads run meanwhile. A
    writer runs one call at a time (``WriterBusyError`` otherwise).
    """

    def __init__(self, native: _mmindex.Writer, bars: Optional[Bars] = None) -> None:
        """Use :meth:`Index.writer`."""
        self._native = native
        self._bars = bars

    def __enter__(self) -> "Writer":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._native.closed

    def close(self) -> None:
        """Ends the writer, so that another can start."""
        self._native.close()
        if self._bars is not None:
            self._bars.close()

    def _done(self) -> None:
        if self._bars is not None:
            self._bars.close()

    def build(
        self, records: Records, *, color_order: str = "rgb"
    ) -> Tuple[TrainReport, AddReport]:
        """Trains a codebook on the records' images and stores every one of
        them, describing each image once. The index must hold no records.

        Args:
            records: a folder (every image under it; ids are the paths
                relative to it), a mapping of id to image, or ``(id, image)``
                pairs; images are paths, bytes or pixel arrays.

        Raises:
            InvalidConfigError: the index already holds records.
            TooFewDescriptorsError: the images give too few features.
        """
        try:
            train, add = self._native.build(_convert.records(records, color_order))
        finally:
            self._done()
        return TrainReport._from(train), AddReport._from(add)

    def train(self, records: Records, *, color_order: str = "rgb") -> TrainReport:
        """Trains and installs a codebook without storing the records."""
        try:
            return TrainReport._from(self._native.train(_convert.records(records, color_order)))
        finally:
            self._done()

    def add(self, records: Records, *, color_order: str = "rgb") -> AddReport:
        """Adds records; an id given again replaces its record."""
        try:
            return AddReport._from(self._native.add(_convert.records(records, color_order)))
        finally:
            self._done()

    def add_words(
        self, records: Union[Mapping[Any, WordsLike], Iterable[Tuple[Any, WordsLike]]]
    ) -> AddReport:
        """Adds records given as visual words (one per feature, computed
        elsewhere), as ``(id, words)`` pairs or a mapping; words are 1-D
        integer arrays or sequences of ints."""
        items = records.items() if isinstance(records, Mapping) else records
        return AddReport._from(self._native.add_words([(i, _convert.words(w)) for i, w in items]))

    def install_vocabulary(self, vocabulary: Vocabulary) -> int:
        """Installs an exported vocabulary as the index's generation (the
        index must hold no records and be opened with ``vocabulary=``).
        Returns the generation."""
        return self._native.install_vocabulary(vocabulary._native)

    def add_extracted(self, records: Iterable[ExtractedRecord]) -> AddReport:
        """Adds records described with the index's vocabulary
        (:meth:`Vocabulary.extract`, anywhere), geometry included, as
        :meth:`add` would store them. A record described with another
        vocabulary fails alone."""
        return AddReport._from(self._native.add_extracted([r._native() for r in records]))

    def remove(self, ids: Union[Id, Iterable[Id]]) -> int:
        """Removes records by id (one id, or several) in one transaction;
        returns how many existed."""
        if isinstance(ids, (str, bytes, bytearray, int)):
            return self._native.remove([ids])
        return self._native.remove(ids)

    def rebuild(self, *, words: Optional[int] = None, feature: Optional[str] = None) -> RebuildReport:
        """Trains a new codebook over the stored records (optionally with
        another size or feature), re-extracting each from its file, and
        switches to it atomically; searches go on meanwhile. Records added
        from bytes or arrays have no file: the rebuild then refuses."""
        try:
            return RebuildReport._from(self._native.rebuild(words=words, feature=feature))
        finally:
            self._done()

    def seal(self) -> None:
        """Seals the records added so far into posting blocks now."""
        self._native.seal()

    def install_codebook(self, centroids: ArrayLike, idf: Optional[Iterable[float]] = None) -> int:
        """Installs a codebook trained elsewhere as a new generation (the
        index must hold no records): a ``(words, 128)`` float32 array for
        SIFT and RootSIFT, or a ``(words, bytes)`` uint8 array of bit
        strings for ORB (32), AKAZE (61) and BRISK (64); ``idf`` one weight
        per word (all 1 when None). Returns the generation."""
        np = _convert._numpy()
        a = np.asarray(centroids)
        if a.ndim != 2:
            raise ValueError(f"centroids are a 2-D array, not of shape {a.shape}")
        binary = a.dtype == np.uint8
        if not binary:
            a = a.astype("<f4")
        data = np.ascontiguousarray(a).tobytes()
        weights = None if idf is None else [float(x) for x in idf]
        return self._native.install_codebook(data, a.shape[0], a.shape[1], binary, weights)
