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
thresholds to glibc's adaptive maxima (see ``_tune_allocator``).

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
from collections import deque
from concurrent.futures import CancelledError
from dataclasses import dataclass, field, replace
from typing import (
    Any,
    Callable,
    Deque,
    Dict,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from . import _convert, _mmindex, errors
from ._index import Index, Writer
from ._progress import Bars
from ._vocabulary import ExtractedRecord, Vocabulary
from .reports import AddReport, Id, RecordError, TrainReport

__all__ = ["build", "ingest", "DistributedReport"]

PathLike = Union[str, "os.PathLike[str]"]

# One item as the workers receive it: (position, id, image).
_Item = Tuple[int, Any, Any]

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


# -- the items --------------------------------------------------------------

_IMAGE_COLUMNS = ("image", "path", "bytes")


class _Items:
    """``(id, image)`` items, indexable by position."""

    def __init__(self, items: Any) -> None:
        if hasattr(items, "columns"):
            cols = list(items.columns)
            image = next((c for c in _IMAGE_COLUMNS if c in cols), None)
            if "id" not in cols or image is None:
                raise ValueError(
                    "a DataFrame of items has an 'id' column and an 'image', 'path' or "
                    f"'bytes' column, not {cols}"
                )
            items = items[["id", image]]
            if hasattr(items, "npartitions"):
                # A Dask DataFrame: its two columns come to the driver.
                items = items.compute()
            self.ids: List[Any] = list(items["id"])
            self.images: List[Any] = list(items[image])
        else:
            self.ids, self.images = [], []
            pairs = items.items() if hasattr(items, "items") else items
            for item in pairs:
                try:
                    id, image = item
                except (TypeError, ValueError):
                    raise TypeError(f"an item is an (id, image) pair, not {item!r}") from None
                self.ids.append(id)
                self.images.append(os.fspath(image) if isinstance(image, os.PathLike) else image)
        # Every id is checked before any work, as a local add checks them:
        # a bad id found halfway would leave the first batches stored.
        for id in self.ids:
            _mmindex.encode_id(id)

    def __len__(self) -> int:
        return len(self.ids)

    def item(self, pos: int) -> _Item:
        return (pos, self.ids[pos], self.images[pos])


def _path_of(image: Any) -> str:
    if isinstance(image, str):
        return image
    if isinstance(image, (bytes, bytearray, memoryview)):
        return "<bytes>"
    return "<pixels>"


# -- what the workers run ---------------------------------------------------

_TUNED = False


def _tune_allocator() -> None:
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


def _describe(settings: Dict[str, Any], chunk: List[_Item]) -> List[Tuple[int, Any]]:
    """Training descriptors of each image: ``(binary, width, bytes)``, or a
    :class:`RecordError` for an image that cannot be described."""
    _tune_allocator()
    out: List[Tuple[int, Any]] = []
    for pos, id, image in chunk:
        try:
            out.append((pos, _mmindex.describe(_convert.image(image, "rgb"), **settings)))
        except errors.ImageError as e:
            out.append((pos, RecordError(id=id, path=_path_of(image), reason=e.reason or str(e))))
    return out


def _extract(
    vocabulary: Vocabulary, max_file_bytes: int, chunk: List[_Item]
) -> List[Tuple[int, Any]]:
    """Each image's record, or a :class:`RecordError`."""
    _tune_allocator()
    out: List[Tuple[int, Any]] = []
    for pos, id, image in chunk:
        try:
            out.append((pos, vocabulary.extract(id, image, max_file_bytes=max_file_bytes)))
        except errors.ImageError as e:
            out.append((pos, RecordError(id=id, path=_path_of(image), reason=e.reason or str(e))))
    return out


# -- the driver -------------------------------------------------------------


class _Tasks:
    """Tasks of a few images each, at most ``window`` in flight, whose
    outcomes come back in submission order.

    ``args`` makes the tasks' leading arguments (scattering the vocabulary
    to the workers). When the cluster loses them (every worker holding the
    scattered data died), the tasks are cancelled: the arguments are made
    again, once per loss, and the tasks submitted again.
    """

    #: Losses of the scattered arguments survived in one run, at most.
    MAX_LOSSES = 8

    def __init__(
        self,
        client: Any,
        fn: Callable[..., List[Tuple[int, Any]]],
        args: Callable[[], Tuple[Any, ...]],
        window: int,
        retries: int,
        retried: List[Id],
    ) -> None:
        self.client, self.fn, self.make_args = client, fn, args
        self.args = args()
        self.losses = 0
        self.window, self.retries, self.retried = window, retries, retried
        self.pending: Deque[Tuple[List[int], List[_Item], Any, int]] = deque()

    def _submit(self, chunk: List[_Item]) -> Tuple[Any, int]:
        future = self.client.submit(self.fn, *self.args, chunk, pure=False, retries=self.retries)
        return future, self.losses

    def _lost(self, made: int, e: BaseException) -> None:
        """The task's arguments were lost (made at loss count ``made``)."""
        if self.client.status != "running":
            raise e
        if made == self.losses:
            self.losses += 1
            if self.losses > self.MAX_LOSSES:
                raise e
            self.args = self.make_args()

    def _settle(self, chunk: List[_Item], future: Any, made: int) -> Dict[int, Any]:
        while True:
            try:
                return dict(future.result())
            except CancelledError as e:
                # Not the images' fault: the cluster lost the task or its
                # arguments.
                self._lost(made, e)
                future, made = self._submit(chunk)
            except Exception as e:  # noqa: BLE001 - what the task raised
                if self.client.status != "running":
                    raise
                failure: Exception = e
                break
        if len(chunk) > 1:
            # Find the image that fails: each alone, in order.
            self.retried.extend(id for _, id, _ in chunk)
            out: Dict[int, Any] = {}
            for item in chunk:
                out.update(self._settle([item], *self._submit([item])))
            return out
        pos, id, image = chunk[0]
        reason = (
            f"its task failed after {self.retries} retries: {type(failure).__name__}: {failure}"
        )
        return {pos: RecordError(id=id, path=_path_of(image), reason=reason)}

    def run(
        self, groups: Iterator[Tuple[List[int], List[_Item]]]
    ) -> Iterator[Tuple[List[int], Dict[int, Any]]]:
        """For each group of positions (in order), the outcomes of its
        items (an empty list of items submits nothing)."""
        for positions, chunk in groups:
            if chunk:
                future, made = self._submit(chunk)
            else:
                future, made = None, self.losses
            self.pending.append((positions, chunk, future, made))
            if len(self.pending) >= self.window:
                yield self._next()
        while self.pending:
            yield self._next()

    def _next(self) -> Tuple[List[int], Dict[int, Any]]:
        positions, chunk, future, made = self.pending.popleft()
        return positions, ({} if future is None else self._settle(chunk, future, made))

    def cancel(self) -> None:
        for _, _, future, _ in self.pending:
            if future is not None:
                future.cancel()
        self.pending.clear()


def _groups(
    items: _Items, positions: Sequence[int], chunk: int, skip: Callable[[int], bool]
) -> Iterator[Tuple[List[int], List[_Item]]]:
    for start in range(0, len(positions), chunk):
        group = list(positions[start : start + chunk])
        yield group, [items.item(p) for p in group if not skip(p)]


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


def _stream(
    client: Any,
    items: _Items,
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
    tasks = _Tasks(
        client,
        _extract,
        lambda: (client.scatter(vocabulary, broadcast=True), max_file_bytes),
        window,
        retries,
        retried,
    )
    bar.start("index", len(items))
    try:
        for positions, outcomes in tasks.run(
            _groups(items, range(len(items)), chunk, lambda p: p in held)
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
    listing = _Items(items)
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
            describe = _Tasks(client, _describe, lambda: (settings,), window, retries, retried)
            bar.start("describe", len(subset))
            try:
                for positions, outcomes in describe.run(
                    _groups(listing, subset, chunk, lambda p: False)
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
            quantize = _Tasks(
                client,
                _extract,
                lambda: (client.scatter(unweighted, broadcast=True), max_file_bytes),
                window,
                retries,
                retried,
            )
            bar.start("quantize", len(subset))
            try:
                for positions, outcomes in quantize.run(
                    _groups(listing, subset, chunk, lambda p: p in held)
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
    listing = _Items(items)
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
