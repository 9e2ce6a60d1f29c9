"""Shared set-up of the benchmarks: an index of the sample photos and
transformed copies of them as queries."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import List

import mmindex

REPO = Path(__file__).resolve().parents[2]
PHOTOS = REPO / "data" / "photos"


def built_index(path: Path, words: int = 1000) -> mmindex.Index:
    """A fresh index of the sample photos (RootSIFT, `words` words)."""
    shutil.rmtree(path, ignore_errors=True)
    index = mmindex.Index.open(path, words=words)
    with index.writer() as w:
        w.build(PHOTOS)
    return index


def queries() -> List[bytes]:
    """Four transformed copies of each photo, as encoded bytes."""
    out = []
    for p in sorted(PHOTOS.glob("*.jpg")):
        data = p.read_bytes()
        out += [
            mmindex.augment.rotate(data, 20),
            mmindex.augment.scale(data, 0.6),
            mmindex.augment.jpeg(data, 30),
            mmindex.augment.crop(data, 0.7),
        ]
    return out
