"""The library's API from Python: round trips of every call."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import List, Tuple

import pytest

import mmindex
from conftest import PHOTOS, transformed


def test_defaults_are_the_librarys() -> None:
    native = mmindex._mmindex.default_config()
    params = inspect.signature(mmindex.Index.open).parameters
    for name, value in native.items():
        if name == "max_features":
            # None: the feature's own default (the native one is RootSIFT's).
            assert params[name].default is None and value == 700
            continue
        assert params[name].default == value, name
    top_k, rerank, patience = mmindex._mmindex.search_defaults()
    for method in (mmindex.Index.search, mmindex.ShardedSearcher.search):
        search = inspect.signature(method).parameters
        assert (search["top_k"].default, search["rerank"].default) == (top_k, rerank)
        assert search["rerank_patience"].default == patience
    assert rerank == mmindex.DEFAULT_RERANK
    assert patience == mmindex.DEFAULT_RERANK_PATIENCE
    workers, batch, fraction = mmindex._mmindex.writer_defaults()
    w = inspect.signature(mmindex.Index.writer).parameters
    assert (w["workers"].default, w["batch_size"].default) == (workers, batch)
    assert w["memory_fraction"].default == fraction


def test_max_features_defaults_to_the_features_own(tmp_path: Path) -> None:
    for feature, want in (("rootsift", 700), ("sift", 700), ("orb", 2000), ("brisk", 2000)):
        with mmindex.Index.open(tmp_path / feature, feature=feature) as index:
            assert index.config().max_features == want, feature
    with mmindex.Index.open(tmp_path / "set", feature="orb", max_features=300) as index:
        assert index.config().max_features == 300


def test_open_build_search_stats_verify(tmp_path: Path, photos: List[Path]) -> None:
    with mmindex.Index.open(tmp_path / "idx", feature="SIFT", words=150, seed=7) as index:
        assert index.config().feature == "sift"
        assert index.config().words == 150 and index.config().seed == 7
        assert index.stats().records == 0 and len(index) == 0
        with index.writer(batch_size=5) as w:
            train, report = w.build(PHOTOS)
        assert isinstance(train, mmindex.TrainReport) and train.words == 150
        assert train.images == len(photos) and train.generation == 1
        assert (report.added, report.replaced, report.failed) == (len(photos), 0, [])
        stats = index.stats()
        assert stats.records == len(photos) and stats.words == 150 and stats.feature == "sift"
        assert stats.unsealed_postings == 0 and stats.bytes_on_disk > 0
        assert stats.trained_images == len(photos) and not stats.vocabulary_outgrown
        assert index.verify().ok
        assert index.space().postings > 0
        hits = index.search(photos[3], top_k=3)
        assert len(hits) == 3 and hits[0].id == photos[3].name
        assert hits[0].score > hits[1].score or hits[0].inliers is not None
        hit_id, score, inliers = hits[0]
        assert (hit_id, score, inliers) == (hits[0].id, hits[0].score, hits[0].inliers)
    assert index.closed
    with pytest.raises(mmindex.ClosedError):
        index.stats()


def test_transformed_queries_find_their_original(
    index: mmindex.Index, photos: List[Path]
) -> None:
    misses = []
    for photo in photos:
        for q in transformed(photo):
            for mode in ("inverted", "sequential"):
                hits = index.search(q, top_k=3, mode=mode)
                if not hits or hits[0].id != photo.name:
                    misses.append((photo.name, mode))
    # The 102x102 retina crop scaled by 0.6 gives no keypoints (README).
    assert set(misses) <= {("microaneurysms.jpg", "inverted"), ("microaneurysms.jpg", "sequential")}


def test_both_modes_rank_identically(index: mmindex.Index, photos: List[Path]) -> None:
    for photo in photos[:4]:
        q = transformed(photo)[0]
        for rerank, patience in ((0, 150), (100, 150), (100, 1), (100, 0)):
            a = index.search(q, top_k=12, mode="inverted", rerank=rerank, rerank_patience=patience)
            b = index.search(q, top_k=12, mode="sequential", rerank=rerank, rerank_patience=patience)
            assert a == b


def test_patience_stops_verification_after_failures_in_a_row(index: mmindex.Index, photos: List[Path]) -> None:
    stopped_early = 0
    for photo in photos[:4]:
        q = transformed(photo)[0]
        full = {h.id: h.inliers for h in index.search(q, top_k=40, rerank=40, rerank_patience=0)}
        assert all(n is not None for n in full.values())
        # Down the bag-of-words order, verification with a patience of 1
        # stops at the first candidate that fails.
        bow = [h.id for h in index.search(q, top_k=40, rerank=0)]
        passed = [(full[i] or 0) >= mmindex.MIN_INLIERS for i in bow]
        stop = passed.index(False) + 1 if False in passed else len(bow)
        short = index.search(q, top_k=40, rerank=40, rerank_patience=1)
        assert {h.id: h.inliers for h in short if h.inliers is not None} == {i: full[i] for i in bow[:stop]}
        stopped_early += stop < len(bow)
    assert stopped_early > 0


def test_approximate_search_ranks_identically_and_never_scores_higher(
    index: mmindex.Index, photos: List[Path]
) -> None:
    for photo in photos[:4]:
        q = transformed(photo)[0]
        exact = {h.id: h.score for h in index.search(q, top_k=50, rerank=0)}
        a = index.search(q, top_k=12, mode="inverted", rerank=0, query_share=0.6)
        b = index.search(q, top_k=12, mode="sequential", rerank=0, query_share=0.6)
        assert a == b and a
        # Scores lose at most sqrt(1 - 0.6) against the exact ones.
        assert all(h.score <= exact.get(h.id, 0.0) + 1e-6 for h in a)
        assert all(h.score >= exact.get(h.id, 0.0) - 0.633 for h in a if h.id in exact)
        assert index.search(q, top_k=12, rerank=0, query_share=1.0) == index.search(q, top_k=12, rerank=0)
    for bad in (0.0, 1.5, float("nan")):
        with pytest.raises(mmindex.InvalidConfigError):
            index.search(transformed(photos[0])[0], query_share=bad)


def test_add_replace_remove_record(index: mmindex.Index, photos: List[Path]) -> None:
    with index.writer() as w:
        report = w.add([("new", photos[0]), (7, photos[1].read_bytes())])
        assert (report.added, report.replaced) == (2, 0)
        report = w.add({"new": photos[2]})
        assert (report.added, report.replaced) == (0, 1)
        assert w.remove(7) == 1
        assert w.remove(["nothing", "new"]) == 1
        assert w.remove([]) == 0
    assert "new" not in index and 7 not in index
    rec = index.record(photos[0].name)
    assert rec is not None and rec.id == photos[0].name
    assert rec.source is not None and rec.source.endswith(photos[0].name)
    assert rec.words > 0 and rec.features >= rec.words
    assert index.record("missing") is None
    assert sorted(map(str, index.ids())) == sorted(p.name for p in photos)


def test_bytes_records_have_no_source_and_refuse_a_rebuild(
    index: mmindex.Index, photos: List[Path]
) -> None:
    with index.writer() as w:
        w.add([("mem", photos[0].read_bytes())])
        rec = index.record("mem")
        assert rec is not None and rec.source is None
        with pytest.raises(mmindex.InvalidConfigError, match="in-memory"):
            w.rebuild()
        w.remove("mem")
        rb = w.rebuild(words=120)
    assert isinstance(rb, mmindex.RebuildReport)
    assert (rb.previous, rb.records, rb.train.words) == (1, len(photos), 120)
    assert index.stats().generation == 2 and index.stats().words == 120
    assert index.search(transformed(photos[5])[0], top_k=1)[0].id == photos[5].name


def test_failed_records_are_reported_and_the_batch_goes_on(
    index: mmindex.Index, photos: List[Path], tmp_path: Path
) -> None:
    with index.writer(batch_size=2) as w:
        report = w.add(
            [
                ("good", photos[0]),
                ("text", b"not an image"),
                ("missing", tmp_path / "nope.jpg"),
                ("good2", photos[1]),
            ]
        )
    assert report.added == 2 and not report.complete
    failed = {f.id: f for f in report.failed}
    assert set(failed) == {"text", "missing"}
    assert failed["text"].path == "<bytes>" and "not a decodable image" in failed["text"].reason
    assert failed["missing"].path.endswith("nope.jpg")
    assert str(failed["missing"]).startswith(failed["missing"].path + ": ")


def test_words_in_and_out(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    with mmindex.Index.open(tmp_path / "idx", words=16) as index:
        with index.writer() as w:
            rng = np.random.default_rng(5)
            centroids = rng.random((16, 128), dtype=np.float32)
            assert w.install_codebook(centroids) == 1
            report = w.add_words(
                [
                    ("a", np.array([1, 2, 3, 3], dtype=np.uint32)),
                    ("b", [4, 5, 6]),
                    (3, np.array([1, 9], dtype=np.int64)),
                    ("bad", [99]),
                ]
            )
        assert report.added == 3 and [f.id for f in report.failed] == ["bad"]
        hits = index.search_words(np.array([3, 3, 1], dtype=np.uint16), top_k=5)
        assert [h.id for h in hits][:2] == ["a", 3]
        assert all(h.inliers is None for h in hits)
        assert index.search_words([4], mode="sequential")[0].id == "b"
        with pytest.raises(mmindex.InvalidConfigError):
            index.search_words([16])
        with pytest.raises(TypeError):
            index.search_words(np.zeros((2, 2), dtype=np.uint32))


def test_train_then_add_and_seal(tmp_path: Path, photos: List[Path]) -> None:
    with mmindex.Index.open(tmp_path / "idx", words=100, seal_postings=1) as index:
        with index.writer() as w:
            tr = w.train([(i, p) for i, p in enumerate(photos)])
            assert tr.words == 100 and index.stats().records == 0
            w.add([(p.name, p) for p in photos[:3]])
            w.seal()
        assert index.stats().unsealed_postings == 0
        assert index.search(photos[1], top_k=1)[0].id == photos[1].name


def test_warm_and_flush(index: mmindex.Index) -> None:
    r = index.warm()
    assert isinstance(r, mmindex.WarmReport) and r.words > 0 and r.bytes > 0
    index.flush()


def test_compact_reopens(index: mmindex.Index, photos: List[Path]) -> None:
    before = index.search(photos[0], top_k=3)
    with index.writer() as w:
        w.remove([p.name for p in photos[:6]])
    r = index.compact()
    assert isinstance(r, mmindex.CompactReport) and r.bytes_before > 0
    assert not index.closed and index.stats().records == len(photos) - 6
    assert index.verify().ok
    after = index.search(photos[8], top_k=1)
    assert after[0].id == photos[8].name and before[0].id == photos[0].name


def test_compact_and_verify_a_closed_path(built: Path, tmp_path: Path) -> None:
    import shutil

    path = tmp_path / "copy"
    shutil.copytree(built, path)
    assert mmindex.verify(path).ok
    r = mmindex.compact(path)
    assert r.bytes_before > 0
    with mmindex.Index.open(path, create=False) as index:
        with pytest.raises(mmindex.LockedError):
            mmindex.compact(path)
        assert index.verify().ok


def test_progress_callback(tmp_path: Path, photos: List[Path]) -> None:
    calls: List[Tuple[str, int, int]] = []
    with mmindex.Index.open(tmp_path / "idx", words=100) as index:
        with index.writer(progress=lambda p, d, t: calls.append((p, d, t)), batch_size=4) as w:
            w.build(PHOTOS)
            n = len(photos)
            phases = [c[0] for c in calls]
            for phase in ("extract", "train", "quantize", "index"):
                assert phase in phases
            assert ("extract", 0, n) in calls and ("extract", n, n) in calls
            assert ("index", n, n) in calls
            calls.clear()
            w.add([("x", photos[0])])
            assert calls == [("add", 0, 1), ("add", 1, 1)]


def test_an_exception_in_the_callback_is_raised_after_the_call(
    tmp_path: Path, photos: List[Path]
) -> None:
    seen: List[str] = []

    def callback(phase: str, done: int, total: int) -> None:
        seen.append(phase)
        raise KeyError("from the callback")

    with mmindex.Index.open(tmp_path / "idx", words=100) as index:
        with index.writer(progress=callback) as w:
            with pytest.raises(KeyError, match="from the callback"):
                w.build(PHOTOS)
            # Called once, then no more; the build itself completed.
            assert seen == ["extract"]
        assert index.stats().records == len(photos)


def test_a_callback_cannot_reenter_its_writer(tmp_path: Path, photos: List[Path]) -> None:
    holder: List[mmindex.Writer] = []

    def callback(phase: str, done: int, total: int) -> None:
        holder[0].remove(["x"])

    with mmindex.Index.open(tmp_path / "idx", words=100) as index:
        w = index.writer(progress=callback)
        holder.append(w)
        with pytest.raises(mmindex.WriterBusyError):
            w.build(PHOTOS)
        w.close()
        assert w.closed


def test_tqdm_bars(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    with mmindex.Index.open(tmp_path / "idx", words=100) as index:
        with index.writer(progress=True) as w:
            w.build(PHOTOS)
    err = capsys.readouterr().err
    assert "extract" in err and "index" in err


def test_options_out_of_range(tmp_path: Path) -> None:
    with pytest.raises(mmindex.InvalidConfigError):
        mmindex.Index.open(tmp_path / "a", words=1)
    with pytest.raises(mmindex.InvalidConfigError):
        mmindex.Index.open(tmp_path / "b", feature="hog")
    with pytest.raises(ValueError):
        mmindex.Index.open(tmp_path / "c", scoring="euclid")
    with mmindex.Index.open(tmp_path / "d") as index:
        with pytest.raises(mmindex.InvalidConfigError):
            index.writer(workers=10_000)
        with pytest.raises(mmindex.InvalidConfigError):
            index.writer(batch_size=0)


def test_search_options(index: mmindex.Index, photos: List[Path]) -> None:
    q = transformed(photos[2])[1]
    plain = index.search(q, top_k=5, rerank=0)
    assert all(h.inliers is None for h in plain)
    assert [h.score for h in plain] == sorted((h.score for h in plain), reverse=True)
    l1 = index.search(q, top_k=5, scoring="l1", threads=1)
    assert l1[0].id == photos[2].name and l1[0].score != plain[0].score
    with pytest.raises(mmindex.InvalidConfigError):
        index.search(q, mode="fast")
    assert index.search(q, top_k=0) == []
