"""Distributed build and ingest on a local Dask cluster of two worker
processes: the same index as a local build, per-record failures, and a
worker killed in the middle of an ingest."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

import mmindex
import mmindex.dask as md
from conftest import photo_paths, transformed

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as c:
        yield c


def items() -> List[Tuple[str, Any]]:
    """The sample photos by path, their transformed copies as bytes, and an
    image that cannot be decoded."""
    out: List[Tuple[str, Any]] = []
    for p in photo_paths():
        out.append((p.name, str(p)))
        for i, data in enumerate(transformed(p)):
            out.append((f"{p.stem}-t{i}", data))
    out.insert(7, ("broken", b"\xff\xd8\xff not a jpeg"))
    return out


def queries() -> List[bytes]:
    return [mmindex.augment.rotate(p.read_bytes(), 35) for p in photo_paths()]


def answers(index: mmindex.Index) -> List[List[mmindex.Hit]]:
    return [
        index.search(q, top_k=15, mode=mode) for mode in ("inverted", "sequential") for q in queries()
    ]


def contents(index: mmindex.Index) -> Dict[Any, Optional[mmindex.Record]]:
    return {i: index.record(i) for i in index.ids()}


def assert_same(a: mmindex.Index, b: mmindex.Index) -> None:
    assert a.export_vocabulary().id == b.export_vocabulary().id
    assert contents(a) == contents(b)
    # Scores compare exactly: equal floats are equal bits.
    assert answers(a) == answers(b)
    assert a.stats().trained_images == b.stats().trained_images


@pytest.mark.parametrize("training_images", [1000, 9])
def test_a_distributed_build_is_the_local_build(
    client: Any, tmp_path: Path, training_images: int
) -> None:
    with mmindex.Index.open(tmp_path / "local", words=300) as local:
        with local.writer(training_images=training_images, batch_size=7) as w:
            _, added = w.build(items())
        assert [f.id for f in added.failed] == ["broken"]

        report = md.build(
            client,
            items(),
            tmp_path / "remote",
            words=300,
            training_images=training_images,
            batch_size=7,
            chunk=3,
        )
        assert report.add.added == len(items()) - 1
        assert [f.id for f in report.add.failed] == ["broken"]
        assert report.train is not None and report.train.words == 300
        assert report.vocabulary == local.export_vocabulary()
        with mmindex.Index.open(tmp_path / "remote", create=False) as remote:
            assert_same(local, remote)
            assert not remote.verify().violations


def test_a_distributed_ingest_with_a_vocabulary_is_a_local_add(
    client: Any, index: mmindex.Index, tmp_path: Path
) -> None:
    vocab = index.export_vocabulary()
    with mmindex.Index.open(tmp_path / "local", vocabulary=vocab) as local:
        with local.writer() as w:
            w.install_vocabulary(vocab)
            w.add(items())
        report = md.ingest(client, items(), tmp_path / "remote", vocabulary=vocab, chunk=2)
        assert report.vocabulary == vocab
        assert [f.id for f in report.add.failed] == ["broken"]
        with mmindex.Index.open(tmp_path / "remote", create=False) as remote:
            assert_same(local, remote)
            # Again: every id is replaced by the same record.
            again = md.ingest(client, items()[:5], remote)
            assert again.add.replaced == 5
            assert_same(local, remote)


def test_a_task_that_fails_is_split_and_only_its_bad_image_fails(
    client: Any, index: mmindex.Index, tmp_path: Path
) -> None:
    vocab = index.export_vocabulary()
    given = items()[:6]
    # Not an image at all: the worker raises TypeError, which Dask retries,
    # then the task is split and each image retried alone.
    given.insert(2, ("odd", 12345))
    report = md.ingest(
        client, given, tmp_path / "remote", vocabulary=vocab, chunk=4, retries=1
    )
    assert [f.id for f in report.add.failed] == ["odd"]
    assert "TypeError" in report.add.failed[0].reason
    assert report.add.added == 6
    assert set(report.retried) == {i for i, _ in given[:4]}


def test_a_build_refuses_an_index_with_records(client: Any, index: mmindex.Index) -> None:
    path = index.path
    index.close()
    with pytest.raises(mmindex.InvalidConfigError):
        md.build(client, items()[:3], path)


def test_an_ingest_without_a_vocabulary_creates_nothing(client: Any, tmp_path: Path) -> None:
    with pytest.raises(mmindex.NotAnIndexError):
        md.ingest(client, items()[:3], tmp_path / "absent")
    assert not (tmp_path / "absent").exists()


def test_a_dataframe_of_items_is_accepted(
    client: Any, index: mmindex.Index, tmp_path: Path
) -> None:
    pd = pytest.importorskip("pandas")
    vocab = index.export_vocabulary()
    given = items()[:5]
    frame = pd.DataFrame({"id": [i for i, _ in given], "image": [im for _, im in given]})
    report = md.ingest(client, frame, tmp_path / "remote", vocabulary=vocab)
    assert report.add.added == 5
    with pytest.raises(ValueError):
        md.ingest(client, frame.rename(columns={"id": "key"}), tmp_path / "remote")


def test_killing_a_worker_mid_ingest_loses_no_acknowledged_record(
    client: Any, index: mmindex.Index, tmp_path: Path
) -> None:
    vocab = index.export_vocabulary()
    given = [item for item in items() if item[0] != "broken"]
    with mmindex.Index.open(tmp_path / "local", vocabulary=vocab) as local:
        with local.writer() as w:
            w.install_vocabulary(vocab)
            w.add(given)
        expected = contents(local)

    acknowledged: List[Any] = []
    killed: List[int] = []

    def on_commit(ids: List[Any]) -> None:
        acknowledged.extend(ids)
        if not killed:
            pids = client.run(os.getpid)
            pid = sorted(pids.values())[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    report = md.ingest(
        client, given, tmp_path / "remote", vocabulary=vocab, batch_size=3, chunk=2,
        on_commit=on_commit,
    )
    assert killed, "no batch was committed"
    assert len(acknowledged) > 3, "the worker was killed after the last batch"
    with mmindex.Index.open(tmp_path / "remote", create=False) as remote:
        stored = contents(remote)
        assert set(acknowledged) <= set(stored)
        # No partial record: every stored record is whole, and the index
        # checks clean.
        for id, record in stored.items():
            assert record == expected[id], id
        assert not remote.verify().violations
        # The lost tasks ran again elsewhere: nothing is missing.
        assert report.add.complete and set(stored) == set(expected)
    client.wait_for_workers(2, timeout=60)
    assert killed[0] not in client.run(os.getpid).values(), "the worker was not killed"


def test_losing_every_worker_mid_ingest_loses_nothing(
    client: Any, index: mmindex.Index, tmp_path: Path
) -> None:
    # Every worker holding the scattered vocabulary dies: the tasks are
    # cancelled (lost dependencies), the vocabulary is scattered again to
    # the restarted workers, and the ingest completes.
    vocab = index.export_vocabulary()
    given = [item for item in items() if item[0] != "broken"]
    killed: List[int] = []

    def on_commit(ids: List[Any]) -> None:
        if not killed:
            pids = list(client.run(os.getpid).values())
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            killed.extend(pids)

    report = md.ingest(
        client, given, tmp_path / "remote", vocabulary=vocab, batch_size=3, chunk=2,
        on_commit=on_commit,
    )
    assert len(killed) == 2
    assert report.add.complete, report.add.failed[:3]
    assert report.add.added == len(given)
    with mmindex.Index.open(tmp_path / "remote", create=False) as remote:
        assert set(remote.ids()) == {i for i, _ in given}
        assert not remote.verify().violations
    client.wait_for_workers(2, timeout=60)


def test_a_bad_id_is_refused_before_anything_is_stored(
    client: Any, index: mmindex.Index, tmp_path: Path
) -> None:
    vocab = index.export_vocabulary()
    given: List[Tuple[Any, Any]] = list(items()[:12])
    given.append((1.5, given[0][1]))
    with pytest.raises(TypeError):
        md.ingest(client, given, tmp_path / "remote", vocabulary=vocab, batch_size=3)
    assert not (tmp_path / "remote").exists()
    with pytest.raises(TypeError):
        md.build(client, given, tmp_path / "built")
    assert not (tmp_path / "built").exists()
