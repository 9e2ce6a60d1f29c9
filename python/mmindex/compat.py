"""The Python prototype's two index classes, as drop-in replacements.

``MultimediaSequential`` and ``MultimediaInverted`` keep the prototype's
constructor, ``build``, ``build_codebook`` and ``search``; code written for
the prototype runs with only its import changed::

    from mmindex.compat import MultimediaSequential

    idx = MultimediaSequential(index_dir="./index", files_dir="./images",
                               field_name="image_field", feature_type="SIFT",
                               n_clusters=100)
    idx.build(records=records, use_multiprocessing=True, n_workers=4)
    results = idx.search("query.jpg", top_k=10)   # [(record, score), ...]

Both are the engine's two search modes over the same kind of index, so
they rank identically. Each class keeps its index in its own folder under
``index_dir`` (``sequential/`` or ``inverted/``), as the prototype did: the
mmindex index in ``index/`` and the records in ``records.pickle``.

``records.pickle`` holds the rows given to ``build`` (any picklable values,
as in the prototype), so open only index folders you trust, as with any
pickle.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
from types import TracebackType
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Type, Union

from ._index import Index
from ._typing import ImageLike
from .errors import NoCodebookError
from .reports import AddReport, TrainReport

__all__ = ["MultimediaSequential", "MultimediaInverted"]

_log = logging.getLogger("mmindex.compat")

_FEATURES = {"sift": "sift", "rootsift": "rootsift", "orb": "orb", "akaze": "akaze", "brisk": "brisk"}

#: A record: a row (a mapping) whose ``field_name`` holds an image file name,
#: or any object with that attribute.
Row = Any


def _feature(feature_type: str) -> str:
    f = _FEATURES.get(str(feature_type).lower())
    if f is None:
        raise ValueError(
            f"feature type {feature_type!r} is not supported by mmindex "
            "(use SIFT, RootSIFT, ORB, AKAZE or BRISK)"
        )
    return f


def _field(row: Row, name: str) -> Any:
    if isinstance(row, Mapping):
        return row.get(name)
    return getattr(row, name, None)


class _MultimediaIndex:
    """The prototype's interface over one mmindex index."""

    _mode = "inverted"

    def __init__(
        self,
        index_dir: str,
        files_dir: str,
        field_name: str,
        feature_type: str = "SIFT",
        n_clusters: int = 100,
    ) -> None:
        self.index_dir = index_dir
        self.files_dir = files_dir
        self.field_name = field_name
        self.feature_type = feature_type
        self.n_clusters = n_clusters
        self.method_dir = os.path.join(index_dir, self._mode)
        self._index_path = os.path.join(self.method_dir, "index")
        self._records_path = os.path.join(self.method_dir, "records.pickle")
        self._feature = _feature(feature_type)
        os.makedirs(self.method_dir, exist_ok=True)
        #: The report of the last ``build``: failed images are in ``failed``.
        self.last_report: Optional[AddReport] = None
        self._records: Dict[int, Row] = self._load_records()
        self._index = self._open()

    # -- storage ------------------------------------------------------------

    def _open(self) -> Index:
        return Index.open(self._index_path, feature=self._feature, words=self.n_clusters)

    def _reset(self) -> None:
        """An empty index in place of the old one (the prototype's build
        replaced everything)."""
        self._index.close()
        shutil.rmtree(self._index_path, ignore_errors=True)
        self._index = self._open()
        self._records = {}
        self._save_records()

    def _load_records(self) -> Dict[int, Row]:
        try:
            with open(self._records_path, "rb") as f:
                loaded: Dict[int, Row] = pickle.load(f)
                return loaded
        except FileNotFoundError:
            return {}

    def _save_records(self) -> None:
        self._write_records(pickle.dumps(self._records, protocol=pickle.HIGHEST_PROTOCOL))

    def _write_records(self, payload: bytes) -> None:
        tmp = self._records_path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._records_path)

    def _path(self, name: Union[str, "os.PathLike[str]"]) -> str:
        return os.path.join(self.files_dir, os.fspath(name))

    @staticmethod
    def _workers(use_multiprocessing: bool, n_workers: Optional[int]) -> int:
        if not use_multiprocessing:
            return 1
        return n_workers or 0

    # -- the prototype's interface -----------------------------------------

    def build_codebook(
        self, filenames: Iterable[str], n_workers: Optional[int] = None, batch_size: int = 50
    ) -> TrainReport:
        """Trains the codebook (``n_clusters`` visual words) on these image
        files under ``files_dir``, replacing the index's content. A
        following :meth:`build` indexes its records with this codebook."""
        self._reset()
        names = list(filenames)
        with self._index.writer(workers=n_workers or 0, batch_size=batch_size) as w:
            return w.train([(i, self._path(n)) for i, n in enumerate(names)])

    def build(
        self,
        records: Iterable[Row],
        use_multiprocessing: bool = True,
        n_workers: Optional[int] = None,
    ) -> AddReport:
        """Indexes the records (rows whose ``field_name`` names an image
        under ``files_dir``), replacing the index's content; the codebook is
        trained on their images, unless :meth:`build_codebook` just trained
        one. Rows without a file name are skipped, as are images that cannot
        be read (logged, and listed in ``last_report.failed``).

        Extraction runs in threads of this process (``n_workers``, default
        one per core; one when ``use_multiprocessing`` is False)."""
        rows = list(records)
        kept: Dict[int, Row] = {}
        sources: List[Tuple[int, str]] = []
        for i, row in enumerate(rows):
            name = _field(row, self.field_name)
            if not name:
                continue
            kept[i] = row
            sources.append((i, self._path(name)))
        # Rows that cannot be stored fail here, before the index changes.
        pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL)
        stats = self._index.stats()
        keep_codebook = stats.records == 0 and stats.words > 0 and not self._records
        if not keep_codebook:
            self._reset()
        workers = self._workers(use_multiprocessing, n_workers)
        with self._index.writer(workers=workers) as w:
            if keep_codebook:
                report = w.add(sources)
            else:
                _, report = w.build(sources)
        for bad in report.failed:
            _log.warning("skipped %s", bad)
            if isinstance(bad.id, int):
                kept.pop(bad.id, None)
        self._records = kept
        self._save_records()
        self.last_report = report
        return report

    def search(self, query_path: Union[str, ImageLike], top_k: int = 10) -> List[Tuple[Row, float]]:
        """The ``top_k`` records whose images look most like the query, best
        first, as ``(record, score)`` pairs; scores are cosine similarities
        of TF-IDF histograms in (0, 1]. The query is a file path (as given,
        or under ``files_dir``), bytes, or a pixel array. An index not built
        yet answers ``[]``, as the prototype did."""
        query: Any = query_path
        if isinstance(query_path, str) and not os.path.exists(query_path):
            under = self._path(query_path)
            if os.path.exists(under):
                query = under
        try:
            hits = self._index.search(query, top_k=top_k, mode=self._mode)
        except NoCodebookError:
            return []
        out: List[Tuple[Row, float]] = []
        for h in hits:
            if isinstance(h.id, int) and h.id in self._records:
                out.append((self._records[h.id], h.score))
        return out

    # -- extras -----------------------------------------------------------

    @property
    def index(self) -> Index:
        """The underlying :class:`mmindex.Index`."""
        return self._index

    def close(self) -> None:
        """Releases the index folder."""
        self._index.close()

    def __enter__(self) -> "_MultimediaIndex":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self._records)


class MultimediaSequential(_MultimediaIndex):
    """The prototype's sequential index: every stored histogram is scored
    (mmindex's sequential search mode)."""

    _mode = "sequential"


class MultimediaInverted(_MultimediaIndex):
    """The prototype's inverted index: only the posting lists of the
    query's visual words are walked (mmindex's inverted search mode)."""

    _mode = "inverted"
