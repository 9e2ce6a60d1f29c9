"""A tour of the Python API (docs/PYTHON.md): build, ids of each type,
pixel arrays, searches from threads, reports and errors. Run from the
repository root: python python/examples/tour.py"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import List

import numpy as np

import mmindex

photos = Path("data/photos")
path = Path("target/tour.idx")
shutil.rmtree(path, ignore_errors=True)

with mmindex.Index.open(path, feature="rootsift", words=500) as index:
    # One writer at a time; every batch is durable when the call returns.
    with index.writer(progress=lambda phase, done, total: None) as w:
        trained, report = w.build(photos)
        print(f"trained {trained.words} words on {trained.images} images; added {report.added}")

        # Ids are str, bytes or int and come back as given.
        rocket = (photos / "rocket.jpg").read_bytes()
        pixels: np.ndarray = mmindex.augment.decode(rocket)  # HxWx3 uint8, RGB
        report = w.add(
            [
                (42, photos / "coffee.jpg"),  # a path
                (b"\x00sku", rocket),  # encoded bytes
                ("rocket-pixels", pixels),  # a NumPy array
                ("broken", b"not an image"),  # reported, the rest goes on
            ]
        )
        for failure in report.failed:
            print(f"skipped {failure.id!r}: {failure.reason}")
        w.remove(["brick.jpg"])

    # A query as a file, bytes or array; OpenCV arrays are BGR.
    query = mmindex.augment.rotate(rocket, 20)
    hits: List[mmindex.Hit] = index.search(query, top_k=3)
    for hit in hits:
        print(f"{hit.id!r:20} score {hit.score:.3f} inliers {hit.inliers}")
    bgr = np.ascontiguousarray(mmindex.augment.decode(query)[:, :, ::-1])
    # The rocket is stored three times (file, bytes, pixels): any copy may
    # lead, by an inlier or two, depending on how the query was decoded.
    rockets = {"rocket.jpg", b"\x00sku", "rocket-pixels"}
    assert hits[0].id in rockets
    assert index.search(bgr, top_k=3, color_order="bgr")[0].id in rockets
    assert index.search(query, top_k=3, mode="sequential") == hits

    # Searches release the GIL: threads run them in parallel.
    queries = [mmindex.augment.scale(p.read_bytes(), 0.6) for p in sorted(photos.glob("*.jpg"))]
    with ThreadPoolExecutor(max_workers=2) as pool:
        best = list(pool.map(lambda q: index.search(q, top_k=1), queries))
    print("best matches:", [b[0].id if b else None for b in best])

    record = index.record(42)
    assert record is not None and record.id == 42
    stats = index.stats()
    print(f"{stats.records} records, {stats.words} words, {stats.bytes_on_disk} bytes on disk")
    assert index.verify().ok

    try:
        index.search(photos / "missing.jpg")
    except mmindex.ImageError as e:
        print(f"cannot search {e.path}: {e.reason}")
