"""Exported vocabularies: images described away from the index (in another
process, as a Dask worker would) become the records a local add stores."""

from __future__ import annotations

import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import List

import pytest

import mmindex
from conftest import transformed


def _extract(args: tuple[bytes, str]) -> mmindex.ExtractedRecord:
    data, path = args
    vocab: mmindex.Vocabulary = pickle.loads(data)
    return vocab.extract(Path(path).name, path)


def test_extracted_in_other_processes_equals_a_local_add(
    index: mmindex.Index, photos: List[Path], tmp_path: Path
) -> None:
    vocab = index.export_vocabulary()
    assert vocab == pickle.loads(pickle.dumps(vocab))
    assert vocab.settings["feature"] == "rootsift" and vocab.words == index.stats().words

    with mmindex.Index.open(tmp_path / "local", vocabulary=vocab) as local:
        with local.writer() as w:
            w.install_vocabulary(vocab)
            assert w.add({p.name: p for p in photos}).complete
        local_hits = [local.search(q, top_k=10) for p in photos for q in transformed(p)]
        local_records = {i: local.record(i) for i in local.ids()}

    with ProcessPoolExecutor(2) as pool:
        records = list(pool.map(_extract, [(pickle.dumps(vocab), str(p)) for p in photos]))
    assert all(r.vocabulary == vocab.id for r in records)
    assert records[0].keypoints.shape == (len(records[0].words), 4)
    with mmindex.Index.open(tmp_path / "remote", vocabulary=vocab) as remote:
        with remote.writer() as w:
            w.install_vocabulary(vocab)
            assert w.add_extracted(pickle.loads(pickle.dumps(records))).complete
        assert remote.export_vocabulary().id == vocab.id
        assert {i: remote.record(i) for i in remote.ids()} == local_records
        remote_hits = [remote.search(q, top_k=10) for p in photos for q in transformed(p)]
    assert remote_hits == local_hits


def test_damaged_bytes_and_foreign_records_are_refused(
    index: mmindex.Index, photos: List[Path], tmp_path: Path
) -> None:
    vocab = index.export_vocabulary()
    path = tmp_path / "v.mmv"
    vocab.save(path)
    assert mmindex.Vocabulary.load(path) == vocab
    data = bytearray(vocab.to_bytes())
    data[len(data) // 2] ^= 1
    with pytest.raises(mmindex.VocabularyError):
        mmindex.Vocabulary.from_bytes(bytes(data))
    with pytest.raises(mmindex.ImageError):
        vocab.extract("x", b"not an image")

    record = vocab.extract("a", photos[0])
    foreign = mmindex.ExtractedRecord(
        id="b",
        vocabulary=record.vocabulary ^ 1,
        source=record.source,
        content_hash=record.content_hash,
        words=record.words,
        keypoints=record.keypoints,
    )
    with mmindex.Index.open(tmp_path / "on", vocabulary=vocab) as other:
        with other.writer() as w:
            w.install_vocabulary(vocab)
            report = w.add_extracted([foreign, record])
        assert report.added == 1 and [e.id for e in report.failed] == ["b"]
        assert "vocabulary" in report.failed[0].reason


def test_sharded_search_answers_as_one_index(
    index: mmindex.Index, photos: List[Path], tmp_path: Path
) -> None:
    vocab = index.export_vocabulary()
    records = [vocab.extract(p.name, p) for p in photos]
    records += [vocab.extract(f"{p.name}#jpeg", transformed(p)[2]) for p in photos]
    shards = [mmindex.Index.open(tmp_path / f"shard{i}", vocabulary=vocab) for i in range(4)]
    for i, shard in enumerate(shards):
        with shard.writer() as w:
            w.install_vocabulary(vocab)
            mine = [r for r in records if mmindex.shard_of(r.id, 4) == i]
            assert w.add_extracted(mine).complete
    with mmindex.Index.open(tmp_path / "one", vocabulary=vocab) as one:
        with one.writer() as w:
            w.install_vocabulary(vocab)
            w.add_extracted(records)
        sharded = mmindex.ShardedSearcher(shards)
        assert sharded.shards == 4
        for p in photos:
            q = transformed(p)[0]
            for rerank, patience, share in ((300, 150, 1.0), (300, 1, 1.0), (4, 150, 1.0), (300, 150, 0.7)):
                kw = dict(top_k=6, rerank=rerank, rerank_patience=patience, query_share=share)
                want = one.search(q, **kw)  # type: ignore[arg-type]
                got = sharded.search(q, **kw)  # type: ignore[arg-type]
                assert [(h.id, h.score, h.inliers) for h in want] == [(h.id, h.score, h.inliers) for h in got]
                assert all(h.shard == mmindex.shard_of(h.id, 4) for h in got)
    for shard in shards:
        shard.close()
