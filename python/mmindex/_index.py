"""``Index``: the library's index handle for Python (``Writer`` is in
``_writer``)."""

from __future__ import annotations

import os
from types import TracebackType
from typing import Any, Callable, List, Mapping, Optional, Tuple, Type, Union

from . import _convert, _mmindex
from ._progress import Bars
from ._typing import ImageLike, WordsLike
from ._vocabulary import Vocabulary
from ._writer import Writer
from .errors import ClosedError
from .reports import (
    CompactReport,
    Config,
    Hit,
    Id,
    Record,
    Space,
    Stats,
    VerifyReport,
    WarmReport,
)

__all__ = ["Index", "Writer", "compact", "verify", "ProgressCallback"]

#: Receives ``(phase, done, total)``: at the start of each phase of a long
#: call (``done == 0``) and after each batch. Phases: ``"extract"``,
#: ``"train"``, ``"quantize"``, ``"index"`` (build, rebuild) and ``"add"``.
ProgressCallback = Callable[[str, int, int], object]

PathLike = Union[str, "os.PathLike[str]"]


def _hits(raw: List[Tuple[Any, float, Optional[int]]]) -> List[Hit]:
    return [Hit(i, s, n) for (i, s, n) in raw]


class Index:
    """An image index in one directory.

    Open it with :meth:`Index.open`. Searches may run from any number of
    threads at once (each releases the GIL); one :class:`Writer` at a time
    adds, replaces and removes records meanwhile, and searches never see
    half a batch. One process at a time may open a directory.

    Use it as a context manager, or call :meth:`close`, to release the
    directory.
    """

    def __init__(self, native: _mmindex.Index, reopen: Mapping[str, Any]) -> None:
        """Use :meth:`Index.open`."""
        self._native = native
        self._reopen = dict(reopen)

    @classmethod
    def open(
        cls,
        path: PathLike,
        *,
        create: bool = True,
        feature: str = "rootsift",
        words: int = 20000,
        max_side: int = 1024,
        max_pixels: int = 250_000_000,
        max_features: Optional[int] = None,
        min_features: int = 50,
        sample_cap: int = 200_000,
        samples_per_word: int = 20,
        kmeans_iterations: int = 10,
        seed: int = 42,
        scoring: str = "cosine",
        seal_postings: Optional[int] = None,
        block_cache_bytes: Optional[int] = None,
        vocabulary: Optional[Vocabulary] = None,
    ) -> "Index":
        """Opens the index at ``path``, creating it with these options when
        the directory is absent or empty.

        The options are the library's, with its defaults; they matter only
        when the index is created (an existing index keeps its stored
        configuration, see :meth:`config`), except ``seal_postings`` and
        ``block_cache_bytes``, which are run-time settings.

        Args:
            create: False refuses to create an index (``NotAnIndexError``).
            feature: ``"sift"``, ``"rootsift"``, ``"orb"``, ``"akaze"`` or
                ``"brisk"`` (any case).
            words: visual words of the codebook.
            max_side: longer image side in pixels above which images are
                downscaled (0 = no cap).
            max_pixels: images declaring more pixels are refused (0 = none).
            max_features: keypoints kept per image (None: the feature's
                default, 700 for SIFT and RootSIFT, 2,000 for the binary
                features).
            min_features: fewer keypoints make the detector retry with lower
                thresholds.
            sample_cap: descriptors sampled for training at most.
            samples_per_word: training sample size per word.
            kmeans_iterations: k-means iterations at most.
            seed: seed of every random choice in training.
            scoring: ``"cosine"`` or ``"l1"`` (DBoW2's score).
            seal_postings: postings of the newest records kept unsealed
                before they are sealed into posting blocks (library default
                when None).
            block_cache_bytes: bytes of posting lists searches keep in
                memory (library default when None: an eighth of the memory
                budget, at least 64 MiB).
            vocabulary: an exported vocabulary whose feature, words and
                extraction settings replace those options, for an index
                that will :meth:`Writer.install_vocabulary` it.

        Raises:
            LockedError: another process has the index open.
            NotAnIndexError: the directory holds something else.
            IncompatibleFormatError, CorruptionError: see their docs.
            InvalidConfigError: an option is out of range.
        """
        if vocabulary is not None:
            v = vocabulary.settings
            feature, words = v["feature"], vocabulary.words
            max_side, max_pixels = v["max_side"], v["max_pixels"]
            max_features, min_features = v["max_features"], v["min_features"]
        native = _mmindex.Index.open(
            path,
            create=create,
            feature=feature,
            words=words,
            max_side=max_side,
            max_pixels=max_pixels,
            max_features=max_features,
            min_features=min_features,
            sample_cap=sample_cap,
            samples_per_word=samples_per_word,
            kmeans_iterations=kmeans_iterations,
            seed=seed,
            scoring=scoring,
            seal_postings=seal_postings,
            block_cache_bytes=block_cache_bytes,
        )
        return cls(native, {"seal_postings": seal_postings, "block_cache_bytes": block_cache_bytes})

    # -- life cycle -----------------------------------------------------

    @property
    def path(self) -> str:
        """The index directory."""
        return os.fspath(self._native.path)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._native.closed

    def close(self) -> None:
        """Releases the index; the directory is unlocked once the writers
        made from it are closed too. Further calls raise ``ClosedError``."""
        self._native.close()

    def __enter__(self) -> "Index":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<mmindex.Index {self.path!r} ({state})>"

    # -- writing --------------------------------------------------------

    def writer(
        self,
        *,
        workers: int = 0,
        batch_size: int = 50,
        memory_fraction: float = 0.8,
        memory_limit: Optional[int] = None,
        max_file_bytes: int = 256 << 20,
        training_images: int = 1000,
        progress: Union[bool, ProgressCallback, None] = None,
    ) -> "Writer":
        """The index's writer; use it as a context manager (``with
        index.writer() as w:``) or close it, so that another can start.

        Args:
            workers: extraction threads (0 = one per core, at most
                ``mmindex.MAX_WORKERS``).
            batch_size: records per batch; each batch is one transaction,
                durable when the call returns.
            memory_fraction: share of the available RAM the writer may use.
            memory_limit: absolute cap on that budget, in bytes.
            max_file_bytes: image files larger than this are refused (a
                per-record error) before they are read.
            training_images: builds and rebuilds of more images than this
                train the codebook on this many, chosen at random, and
                describe the others while storing them, with no temporary
                files; up to this many, every image's descriptors are
                spilled to a temporary file until the codebook exists (0 =
                always).
            progress: a callback ``(phase, done, total)``, or True for a
                tqdm progress bar per phase (when tqdm is installed).

        Raises:
            WriterBusyError: another writer of this index is open.
        """
        bars: Optional[Bars] = None
        callback: Optional[ProgressCallback]
        if progress is True:
            bars = Bars.create()
            callback = bars
        elif progress is False or progress is None:
            callback = None
        else:
            callback = progress
        native = self._native.writer(
            workers=workers,
            batch_size=batch_size,
            memory_fraction=memory_fraction,
            memory_limit=memory_limit,
            max_file_bytes=max_file_bytes,
            training_images=training_images,
            progress=callback,
        )
        return Writer(native, bars)

    # -- searching ------------------------------------------------------

    def search(
        self,
        query: ImageLike,
        top_k: int = 10,
        *,
        mode: str = "inverted",
        rerank: int = 300,
        rerank_patience: int = 150,
        scoring: Optional[str] = None,
        threads: int = 0,
        query_share: float = 1.0,
        color_order: str = "rgb",
    ) -> List[Hit]:
        """The ``top_k`` stored records most similar to an image, best first.

        Args:
            query: a path, encoded image bytes, or a uint8 pixel array (HxW,
                HxWx3 or HxWx4).
            mode: ``"inverted"`` (posting lists of the query's words) or
                ``"sequential"`` (every histogram); both rank identically.
            rerank: how many of the best bag-of-words candidates are
                verified geometrically at most (0 = rank by score alone).
            rerank_patience: verification stops once this many candidates
                in a row, in bag-of-words order, fail it (0 = verify all
                ``rerank``).
            scoring: ``"cosine"`` or ``"l1"``; None uses the index's.
            threads: tasks one search may use (0 = chosen by size).
            query_share: approximate search below 1: the share of the
                query's weight kept, its lightest words dropped
                (docs/SCORING.md, "Approximate search"); 1 is exact.
            color_order: ``"rgb"`` (Pillow, NumPy) or ``"bgr"`` (OpenCV) for
                3- and 4-channel arrays.

        Raises:
            ImageError: the query cannot be read or decoded.
            NoCodebookError: the index has not been built yet.
        """
        _convert.check_order(color_order)
        q = _convert.image(query, color_order)
        return _hits(
            self._native.search(
                q,
                top_k=top_k,
                mode=mode,
                rerank=rerank,
                rerank_patience=rerank_patience,
                scoring=scoring,
                threads=threads,
                query_share=query_share,
            )
        )

    def search_words(
        self,
        words: WordsLike,
        top_k: int = 10,
        *,
        mode: str = "inverted",
        scoring: Optional[str] = None,
        threads: int = 0,
        query_share: float = 1.0,
    ) -> List[Hit]:
        """Searches with a query already quantized to visual words (one
        entry per feature), as computed elsewhere: no extraction, no
        geometric re-ranking. ``query_share`` as for :meth:`search`."""
        return _hits(
            self._native.search_words(
                _convert.words(words),
                top_k=top_k,
                mode=mode,
                scoring=scoring,
                threads=threads,
                query_share=query_share,
            )
        )

    def warm(self, max_bytes: Optional[int] = None) -> WarmReport:
        """Reads the most frequent words' posting lists into the search
        cache ahead of queries (up to ``max_bytes``, or the cache's size)."""
        words, size = self._native.warm(max_bytes)
        return WarmReport(words=words, bytes=size)

    # -- reading --------------------------------------------------------

    def config(self) -> Config:
        """The index's persistent configuration."""
        return Config(**self._native.config())

    def stats(self) -> Stats:
        """Counts and sizes (cheap)."""
        return Stats(**self._native.stats())

    def space(self) -> Space:
        """Logical bytes per kind of stored data (reads the whole index)."""
        return Space(**self._native.space())

    def verify(self) -> VerifyReport:
        """Checks every invariant between the stored trees; violations are
        reported, not raised."""
        violations, notes = self._native.verify()
        return VerifyReport(violations=violations, notes=notes)

    def record(self, id: Id) -> Optional[Record]:
        """A stored record's metadata, or None."""
        r = self._native.record(id)
        if r is None:
            return None
        rid, source, content_hash, words, features = r
        return Record(
            id=rid, source=source, content_hash=content_hash, words=words, features=features
        )

    def __contains__(self, id: object) -> bool:
        return self._native.contains(id)

    def __len__(self) -> int:
        return int(self._native.stats()["records"])

    def ids(self) -> List[Id]:
        """Every stored record id, in the byte order of their stored forms."""
        return self._native.ids()

    def flush(self) -> None:
        """Makes every change durable now (each batch already is)."""
        self._native.flush()

    def export_vocabulary(self) -> Vocabulary:
        """The active vocabulary (codebook, IDF weights, extraction
        settings), for describing images elsewhere
        (:meth:`Vocabulary.extract`) and for other indexes that must score
        alike. ``NoCodebookError`` before the first training."""
        return Vocabulary(self._native.export_vocabulary())

    def compact(self) -> CompactReport:
        """Rewrites the index into a fresh directory to give back space,
        then opens it again. Every writer of this index must be closed
        (``LockedError`` otherwise); crash-safe at any instant."""
        path = self.path
        self._native.close()
        try:
            report = compact(path)
        finally:
            self._native = _mmindex.Index.open(path, create=False, **self._reopen)
        return report


def compact(path: PathLike) -> CompactReport:
    """Rewrites the index at ``path`` (closed: ``LockedError`` while it is
    open, here or elsewhere) into a fresh directory and swaps it in when
    that gives back space. Crash-safe at any instant."""
    d = _mmindex.compact(path)
    return CompactReport(
        bytes_before=d["bytes_before"],
        bytes_after=d["bytes_after"],
        copy_bytes=d["copy_bytes"],
        kept=d["kept"],
        posting_blocks=(d["posting_blocks"][0], d["posting_blocks"][1]),
    )


def verify(path: PathLike) -> VerifyReport:
    """Checks the index at ``path`` (closed) on a copy, without writing a
    byte of it: also reports acknowledged writes that the storage engine's
    recovery would discard."""
    violations, notes = _mmindex.verify_path(path)
    return VerifyReport(violations=violations, notes=notes)
