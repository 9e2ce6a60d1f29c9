"""Pixel arrays (NumPy, as OpenCV and Pillow give them) as images."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List

import pytest

import mmindex
from conftest import transformed

np = pytest.importorskip("numpy")


def rgb_of(data: bytes) -> Any:
    return mmindex.augment.decode(data)


def pgm(grey: Any) -> bytes:
    h, w = grey.shape
    return b"P5\n%d %d\n255\n" % (w, h) + bytes(grey.tobytes())


def test_decode_gives_pillow_shaped_rgb(photos: List[Path]) -> None:
    a = rgb_of(photos[0].read_bytes())
    assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3
    assert a.flags["C_CONTIGUOUS"]


def test_array_queries_find_the_original(index: mmindex.Index, photos: List[Path]) -> None:
    for photo in photos:
        if photo.name == "microaneurysms.jpg":
            continue
        for q in transformed(photo):
            rgb = rgb_of(q)
            hits = index.search(rgb, top_k=1)
            assert hits and hits[0].id == photo.name, photo.name


def test_channel_orders_and_layouts_agree(index: mmindex.Index, photos: List[Path]) -> None:
    coffee = next(p for p in photos if p.name == "coffee.jpg")  # colourful
    rgb = rgb_of(transformed(coffee)[0])
    expected = index.search(rgb, top_k=5)
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    assert index.search(bgr, top_k=5, color_order="bgr") == expected
    # A view with negative strides (no copy made by the caller).
    assert index.search(rgb[:, :, ::-1], top_k=5, color_order="bgr") == expected
    alpha = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    assert index.search(alpha, top_k=5) == expected
    # Taken the wrong way round, the same array is another image.
    assert index.search(bgr, top_k=5) != expected
    with pytest.raises(ValueError):
        index.search(rgb, color_order="hsv")


def test_an_array_query_ranks_as_its_colour_pixels(index: mmindex.Index, photos: List[Path]) -> None:
    # A query array is turned to grey before the search (the grey levels
    # the search would compute); the same pixels handed over as colour
    # bytes are converted inside the search. Hits and scores are equal.
    for photo in photos[:4]:
        rgb = rgb_of(transformed(photo)[1])
        h, w, _ = rgb.shape
        native = index._native
        as_array = native.search((rgb, "rgb"), top_k=8)
        as_pixels = native.search((w, h, "rgb", rgb.tobytes()), top_k=8)
        assert as_array == as_pixels, photo.name
        bgra = np.ascontiguousarray(np.dstack([rgb[:, :, ::-1], np.zeros((h, w), np.uint8)]))
        assert native.search((bgra, "bgr"), top_k=8) == as_pixels, photo.name


def test_grey_arrays_are_described_like_the_grey_file(
    index: mmindex.Index, photos: List[Path]
) -> None:
    grey = rgb_of(transformed(photos[6])[0])[:, :, 1].copy()
    by_file = index.search(pgm(grey), top_k=5)
    assert index.search(grey, top_k=5) == by_file
    assert index.search(grey[:, :, None], top_k=5) == by_file
    # Non-contiguous: every other column.
    half = grey[:, ::2]
    assert index.search(half, top_k=5) == index.search(pgm(np.ascontiguousarray(half)), top_k=5)


def test_arrays_as_records(index: mmindex.Index, photos: List[Path]) -> None:
    arrays = {f"px-{i}": rgb_of(p.read_bytes()) for i, p in enumerate(photos[:3])}
    arrays["grey"] = arrays["px-0"][:, :, 0]
    arrays["empty"] = np.zeros((0, 5, 3), np.uint8)
    with index.writer() as w:
        report = w.add(arrays)
    assert report.added == 4
    assert [(f.id, f.path) for f in report.failed] == [("empty", "<pixels>")]
    assert "zero-sized" in report.failed[0].reason
    rec = index.record("px-1")
    assert rec is not None and rec.source is None
    hits = index.search(transformed(photos[1])[0], top_k=2)
    assert {h.id for h in hits} == {photos[1].name, "px-1"}


def test_bad_arrays(index: mmindex.Index) -> None:
    with pytest.raises(TypeError, match="uint8"):
        index.search(np.zeros((10, 10), np.float32))
    with pytest.raises(ValueError, match="HxW"):
        index.search(np.zeros((10, 10, 2), np.uint8))
    with pytest.raises(ValueError, match="HxW"):
        index.search(np.zeros(10, np.uint8))
    with pytest.raises(mmindex.ImageError, match="zero-sized"):
        index.search(np.zeros((0, 0), np.uint8))


def test_the_pixel_limit_applies_to_arrays(tmp_path: Path) -> None:
    with mmindex.Index.open(tmp_path / "idx", max_pixels=100, words=4) as index:
        with index.writer() as w:
            w.install_codebook(np.random.default_rng(1).random((4, 128), dtype=np.float32))
            report = w.add([("big", np.zeros((20, 20), np.uint8))])
        assert report.failed and "exceeds the limit of 100 pixels" in report.failed[0].reason
        with pytest.raises(mmindex.ImageError, match="exceeds the limit"):
            index.search(np.zeros((11, 10), np.uint8))
