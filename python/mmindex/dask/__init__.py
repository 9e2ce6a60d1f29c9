"""Builds and ingests on a Dask cluster (``dask.distributed``).

The workers describe images; the calling process (the *driver*) holds the
index's one writer and commits what they send back, in source order, in
transactional batches. A build trains its vocabulary exactly as a local
:meth:`Writer.build <mmindex.Writer.build>` of the same images with the same
options would: the same images are sampled, their descriptors offered to
the same seeded sample in the same order, so the vocabulary, every record
and every search answer are the local build's.

Workers need mmindex (with NumPy) installed and, for images given as
paths, the same files at the same paths (a shared file system). Each
worker process runs OpenCV on one thread; run one thread per worker
process (``LocalCluster(processes=True, threads_per_worker=1)``, ``dask
worker --nthreads 1``) so that the cores are not oversubscribed. On glibc,
the first task in each worker process raises the allocator's trim and mmap
thresholds to glibc's adaptive maxima (``_worker.tune_allocator``).

Failures:

- an image that cannot be read or described is a per-record failure in the
  report, and the rest goes on;
- any other exception in a task (a worker that died, a lost connection, an
  out-of-memory error) is retried by Dask up to ``retries`` times; a task of
  several images that still fails is split and each image retried alone,
  so that only the image that cannot be described fails;
- records reach the index only through the writer's transactional batches:
  a record is stored whole or not at all, and ``on_commit`` names the ids of
  each batch once it is durable.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Optional, Union

from .. import _convert, errors
from .._index import Index, Writer
from .._progress import Bars
from .._vocabulary import ExtractedRecord, Vocabulary
from ..reports import AddReport, Id, RecordError, TrainReport
from ._items import Items
from ._tasks import Tasks, groups
from . import _worker

__all__ = ["build", "ingest", "DistributedReport"]

PathLike = Union[str, "os.PathLike[str]"]

#: Images per task: enough to make a task's overhead small against its
#: extraction (about 0.1 s per photo), few enough to spread work evenly.
DEFAULT_CHUNK = 4


@dataclass(frozen=True)
class DistributedReport:
    """What a distributed build or ingest did."""

    add: AddReport
    """Records stored, replaced and failed (every item given is in exactly
    one of added, replaced, failed)."""
    vocabulary: Vocabulary
    """The index's vocabulary (the one trained, for a build)."""
    train: Optional[TrainReport] = None
    """Training, for a build."""
    seconds: float = 0.0
    """Wall time of the call."""
    retried: List[Id] = field(default_factory=list)
    """Records whose task failed and was split to retry each image alone."""


class _Bar:
    def __init__(self, progress: Union[bool, Callable[[str, int, int], None], None]) -> None:
        self.bars: Optional[Bars] = None
        self.callback: Optional[Callable[[str, int, int], None]] = None
        if progress is True:
            self.bars = Bars.create()
            self.callback = self.bars
        elif callable(progress):
            self.callback = progress
        self.phase, self.done, self.total = "", 0, 0

    def start(self, phase: str, total: int) -> None:
        self.phase, self.done, self.total = phase, 0, total
        if self.callback is not None:
            self.callback(phase, 0, total)

    def advance(self, n: int) -> None:
        self.done += n
        if self.callback is not None:
            self.callback(self.phase, self.done, self.total)

    def close(self) -> None:
        if self.bars is not None:
            self.bars.close()


def _window(client: Any, window: Optional[int]) -> int:
    if window is not None:
        if window < 1:
            raise ValueError("window is at least 1")
        return window
    try:
        threads = int(sum(client.nthreads().values()))
    except Exception:  # noqa: BLE001 - a client that cannot tell: a modest default
        threads = 2
    return max(4, 3 * threads)


class _Committer:
    """Commits records in source order, in batches of ``batch_size``."""

    def __init__(
        self, writer: Writer, batch_size: int, on_commit: Optional[Callable[[List[Id]], None]]
    ) -> None:
        self.writer, self.batch_size, self.on_commit = writer, batch_size, on_commit
        self.records: List[ExtractedRecord] = []
        self.added, self.replaced = 0, 0
        self.empty: List[Id] = []
        self.failed: List[RecordError] = []

    def record(self, r: ExtractedRecord) -> None:
        self.records.append(r)
        if len(self.records) >= self.batch_size:
            self.flush()

    def fail(self, e: RecordError) -> None:
        self.failed.append(e)

    def flush(self) -> None:
        if not self.records:
            return
        batch, self.records = self.records, []
        report = self.writer.add_extracted(batch)
        self.added += report.added
        self.replaced += report.replaced
        self.empty.extend(report.empty)
        self.failed.extend(report.failed)
        if self.on_commit is not None:
            bad = {f.id for f in report.failed}
            self.on_commit([r.id for r in batch if r.id not in bad])

    def report(self) -> AddReport:
        self.flush()
        return AddReport(
            added=self.added, replaced=self.replaced, empty=self.empty, failed=self.failed
        )


def _extracting(
    client: Any,
    vocabulary: Vocabulary,
    max_file_bytes: int,
    window: int,
    retries: int,
    retried: List[Id],
) -> Tasks:
    """Tasks extracting records with ``vocabulary``, scattered to every
    worker (again when the cluster loses it)."""
    return Tasks(
        client,
        _worker.extract,
        lambda: (client.scatter(vocabulary, broadcast=True), max_file_bytes),
        window,
        retries,
        retried,
    )


def _stream(
    client: Any,
    items: Items,
    vocabulary: Vocabulary,
    committer: _Committer,
    held: Dict[int, Any],
    chunk: int,
    window: int,
    retries: int,
    max_file_bytes: int,
    bar: _Bar,
    retried: List[Id],
) -> None:
    """Extracts every item not in ``held`` on the workers and commits all in
    source order."""
    tasks = _extracting(client, vocabulary, max_file_bytes, window, retries, retried)
    bar.start("index", len(items))
    try:
        for positions, outcomes in tasks.run(
            groups(items, range(len(items)), chunk, lambda p: p in held)
        ):
            for p in positions:
                outcome = held.pop(p) if p in held else outcomes[p]
                if isinstance(outcome, RecordError):
                    committer.fail(outcome)
                else:
                    committer.record(outcome)
            bar.advance(len(positions))
    finally:
        tasks.cancel()
    committer.flush()


def build(
    client: Any,
    items: Any,
    path: PathLike,
    *,
    batch_size: int = 50,
    memory_fraction: float = 0.8,
    memory_limit: Optional[int] = None,
    max_file_bytes: int = 256 << 20,
    training_images: int = 1000,
    chunk: int = DEFAULT_CHUNK,
    window: Optional[int] = None,
    retries: int = 2,
    progress: Union[bool, Callable[[str, int, int], None], None] = None,
    on_commit: Optional[Callable[[List[Id]], None]] = None,
    **index_options: Any,
) -> DistributedReport:
    """Builds the index at ``path`` (created, or empty) from ``items`` on
    the cluster of ``client``: trains its vocabulary on the workers'
    descriptions of a sample, as a local build would, then stores every
    image's record.

    Args:
        client: a ``distributed.Client``.
        items: ``(id, image)`` pairs (a sequence or a mapping), or a pandas
            or Dask DataFrame with an ``id`` column and an ``image``,
            ``path`` or ``bytes`` column. An image is a path (read by the
            worker), encoded bytes or a pixel array.
        path: the index directory.
        batch_size, memory_fraction, memory_limit, max_file_bytes,
            training_images: as for :meth:`Index.writer
            <mmindex.Index.writer>`.
        chunk: images per task.
        window: tasks in flight at most (default: three per worker
            thread, at least four); bounds the driver's memory.
        retries: Dask retries of a failed task.
        progress: True for a tqdm bar per phase, or a callback
            ``(phase, done, total)``.
        on_commit: called with the ids of each batch once it is durable.
        index_options: options of :meth:`Index.open <mmindex.Index.open>`
            (``feature``, ``words``, ``seed``...).
    """
    clock = time.monotonic()
    listing = Items(items)
    window = _window(client, window)
    if chunk < 1:
        raise ValueError("chunk is at least 1")
    retried: List[Id] = []
    bar = _Bar(progress)
    with Index.open(path, **index_options) as index, index.writer(
        batch_size=batch_size,
        memory_fraction=memory_fraction,
        memory_limit=memory_limit,
        max_file_bytes=max_file_bytes,
        training_images=training_images,
    ) as writer:
        try:
            if len(index) > 0:
                raise errors.InvalidConfigError(
                    f"{index.path} already holds records: ingest() adds to it"
                )
            native = writer._native
            trainer = native.trainer()
            subset = trainer.training_subset(len(listing))
            settings = dict(trainer.settings)

            started = time.monotonic()
            held: Dict[int, Any] = {}
            describe = Tasks(
                client, _worker.describe, lambda: (settings,), window, retries, retried
            )
            bar.start("describe", len(subset))
            try:
                for positions, outcomes in describe.run(
                    groups(listing, subset, chunk, lambda p: False)
                ):
                    for p in positions:
                        d = outcomes[p]
                        if isinstance(d, RecordError):
                            # Neither offered nor quantized: reported once.
                            held[p] = d
                        else:
                            trainer.offer(*d)
                    bar.advance(len(positions))
            finally:
                describe.cancel()

            seconds = [time.monotonic() - started, 0.0, 0.0]
            started = time.monotonic()
            bar.start("train", 1)
            unweighted = Vocabulary(trainer.train())
            bar.advance(1)

            # The training images again, quantized: their words give IDF and
            # their records wait for their turn.
            seconds[1] = time.monotonic() - started
            started = time.monotonic()
            quantize = _extracting(
                client, unweighted, max_file_bytes, window, retries, retried
            )
            bar.start("quantize", len(subset))
            try:
                for positions, outcomes in quantize.run(
                    groups(listing, subset, chunk, lambda p: p in held)
                ):
                    for p in positions:
                        if p not in held:
                            held[p] = outcomes[p]
                    bar.advance(len(positions))
            finally:
                quantize.cancel()
            records = [r for r in held.values() if isinstance(r, ExtractedRecord)]
            vocabulary = Vocabulary(
                trainer.weigh([(r.vocabulary, _convert.words(r.words)) for r in records])
            )
            for p, r in held.items():
                if isinstance(r, ExtractedRecord):
                    held[p] = replace(r, vocabulary=vocabulary.id)
            seconds[2] = time.monotonic() - started
            raw = dict(native.install_trained_vocabulary(vocabulary._native, trainer))
            raw["failed"] = []
            train = replace(
                TrainReport._from(raw),
                failed=[r for r in held.values() if isinstance(r, RecordError)],
                seconds=(seconds[0], seconds[1], seconds[2]),
            )

            committer = _Committer(writer, batch_size, on_commit)
            _stream(
                client, listing, vocabulary, committer, held, chunk, window, retries,
                max_file_bytes, bar, retried,
            )
            native.seal()
            return DistributedReport(
                add=committer.report(),
                vocabulary=vocabulary,
                train=train,
                seconds=time.monotonic() - clock,
                retried=retried,
            )
        finally:
            bar.close()


def ingest(
    client: Any,
    items: Any,
    index: Union[Index, PathLike],
    *,
    vocabulary: Optional[Vocabulary] = None,
    batch_size: int = 50,
    memory_fraction: float = 0.8,
    memory_limit: Optional[int] = None,
    max_file_bytes: int = 256 << 20,
    chunk: int = DEFAULT_CHUNK,
    window: Optional[int] = None,
    retries: int = 2,
    progress: Union[bool, Callable[[str, int, int], None], None] = None,
    on_commit: Optional[Callable[[List[Id]], None]] = None,
) -> DistributedReport:
    """Adds ``items`` (as for :func:`build`; an id already stored is
    replaced) to an index that has a vocabulary, extracting on the cluster
    of ``client``. ``index`` is an open :class:`Index` or a path.

    A path that holds no index yet, or an index without a vocabulary, is
    given ``vocabulary`` (an exported one, :class:`Vocabulary`) first;
    when the index has one, ``vocabulary`` must be it, or None.
    """
    clock = time.monotonic()
    listing = Items(items)
    window = _window(client, window)
    if chunk < 1:
        raise ValueError("chunk is at least 1")
    opened: Optional[Index] = None
    if not isinstance(index, Index):
        opened = Index.open(index, create=vocabulary is not None, vocabulary=vocabulary)
        index = opened
    bar = _Bar(progress)
    retried: List[Id] = []
    try:
        with index.writer(
            batch_size=batch_size,
            memory_fraction=memory_fraction,
            memory_limit=memory_limit,
            max_file_bytes=max_file_bytes,
        ) as writer:
            try:
                current: Optional[Vocabulary] = index.export_vocabulary()
            except errors.NoCodebookError:
                current = None
            if current is None:
                if vocabulary is None:
                    raise errors.NoCodebookError(
                        f"{index.path} has no vocabulary: build it, or pass vocabulary="
                    )
                writer.install_vocabulary(vocabulary)
                current = vocabulary
            elif vocabulary is not None and vocabulary.id != current.id:
                raise errors.VocabularyError(
                    f"{index.path} has vocabulary {current.id:016x}, not {vocabulary.id:016x}"
                )
            committer = _Committer(writer, batch_size, on_commit)
            _stream(
                client, listing, current, committer, {}, chunk, window, retries,
                max_file_bytes, bar, retried,
            )
            return DistributedReport(
                add=committer.report(),
                vocabulary=current,
                seconds=time.monotonic() - clock,
                retried=retried,
            )
    finally:
        bar.close()
        if opened is not None:
            opened.close()
