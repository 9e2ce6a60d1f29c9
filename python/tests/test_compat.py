"""The prototype's classes as drop-ins: its example runs with only the
import changed, for both classes, and they rank identically."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Dict, List

import pytest

from conftest import PHOTOS, transformed
from mmindex.compat import MultimediaInverted, MultimediaSequential

# The prototype's usage example, verbatim.
EXAMPLE = """
idx = {cls}(index_dir="./index", files_dir="./images", field_name="image_field",
                           feature_type="SIFT", n_clusters=100)
idx.build(records=records, use_multiprocessing=True, n_workers=4)
results = idx.search("query.jpg", top_k=10)
"""


def rows() -> List[Dict[str, Any]]:
    return [
        {"id": 100 + n, "title": p.stem, "image_field": p.name}
        for n, p in enumerate(sorted(PHOTOS.glob("*.jpg")))
    ]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(PHOTOS, tmp_path / "images")
    (tmp_path / "query.jpg").write_bytes(
        transformed(PHOTOS / "astronaut.jpg")[2]  # recompressed at JPEG 30
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_example(cls: str) -> Any:
    namespace: Dict[str, Any] = {"records": rows()}
    exec(f"from mmindex.compat import {cls}\n" + EXAMPLE.format(cls=cls), namespace)
    namespace["idx"].close()
    return namespace["results"]


def test_the_prototype_example_runs_for_both_classes(workdir: Path) -> None:
    seq = run_example("MultimediaSequential")
    inv = run_example("MultimediaInverted")
    assert len(seq) == 10
    record, score = seq[0]
    assert record["image_field"] == "astronaut.jpg" and record["id"] == 100
    assert 0 < score <= 1
    assert seq == inv
    assert (workdir / "index" / "sequential").is_dir()
    assert (workdir / "index" / "inverted").is_dir()


def test_both_classes_rank_identically(workdir: Path) -> None:
    kw: Dict[str, Any] = dict(
        index_dir="./index", files_dir="./images", field_name="image_field", n_clusters=100
    )
    with MultimediaSequential(**kw) as seq, MultimediaInverted(**kw) as inv:
        seq.build(rows())
        inv.build(rows(), use_multiprocessing=False)
        for photo in sorted(PHOTOS.glob("*.jpg")):
            q = transformed(photo)[0]  # rotated by 20 degrees
            a = seq.search(q, top_k=12)
            assert a == inv.search(q, top_k=12)
            assert a[0][0]["image_field"] == photo.name


def test_state_survives_a_new_instance(workdir: Path) -> None:
    kw: Dict[str, Any] = dict(index_dir="./index", files_dir="./images", field_name="image_field")
    with MultimediaInverted(**kw) as idx:
        assert idx.search("query.jpg") == []  # not built yet, as the prototype
        idx.build(rows())
        before = idx.search("query.jpg", top_k=3)
    with MultimediaInverted(**kw) as idx:
        assert idx.search("query.jpg", top_k=3) == before
        assert len(idx) == len(rows())
        # build again replaces everything.
        idx.build(rows()[:4])
        assert len(idx) == 4 and idx.index.stats().records == 4


def test_build_codebook_then_build(workdir: Path) -> None:
    names = [r["image_field"] for r in rows()]
    with MultimediaSequential("./index", "./images", "image_field", n_clusters=64) as idx:
        train = idx.build_codebook(names[:8], n_workers=2, batch_size=4)
        assert train.words == 64 and train.images == 8
        idx.build(rows())
        assert idx.index.stats().generation == 1  # the codebook was kept
        assert idx.search("query.jpg", top_k=1)[0][0]["image_field"] == "astronaut.jpg"


def test_rows_without_a_file_and_unreadable_images(workdir: Path) -> None:
    (workdir / "images" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really")
    records: List[Any] = rows() + [
        {"id": 1, "image_field": None},
        {"id": 2},
        {"id": 3, "image_field": "broken.jpg"},
    ]
    with MultimediaInverted("./index", "./images", "image_field") as idx:
        report = idx.build(records)
        assert report.added == len(rows()) and len(report.failed) == 1
        assert len(idx) == len(rows())
        found = [r["id"] for r, _ in idx.search("query.jpg", top_k=20)]
        assert 3 not in found and found[0] == 100


class Row:
    """A record object (the prototype's records had attributes)."""

    def __init__(self, d: Dict[str, Any]) -> None:
        self.__dict__.update(d)


def test_objects_with_the_field_as_an_attribute(workdir: Path) -> None:
    with MultimediaSequential("./index", "./images", "image_field", feature_type="ORB") as idx:
        idx.build([Row(r) for r in rows()])
        assert idx.index.config().feature == "orb"
        best, _ = idx.search("query.jpg", top_k=1)[0]
        assert best.image_field == "astronaut.jpg"


def test_unsupported_feature_types(workdir: Path) -> None:
    for f in ("HOG", "MFCC"):
        with pytest.raises(ValueError, match="not supported"):
            MultimediaSequential("./index", "./images", "image_field", feature_type=f)
