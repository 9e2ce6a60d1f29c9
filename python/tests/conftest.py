"""Shared fixtures: the repository's sample photos and a small built index."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator, List

import pytest

import mmindex

REPO = Path(__file__).resolve().parents[2]
PHOTOS = REPO / "data" / "photos"


def photo_paths() -> List[Path]:
    return sorted(PHOTOS.glob("*.jpg"))


def transformed(photo: Path) -> List[bytes]:
    """The three query transforms of the retrieval acceptance test."""
    data = photo.read_bytes()
    return [
        mmindex.augment.rotate(data, 20),
        mmindex.augment.scale(data, 0.6),
        mmindex.augment.jpeg(data, 30),
    ]


@pytest.fixture(scope="session")
def photos() -> List[Path]:
    return photo_paths()


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the sample photos (folder ids), closed; copy it to use it."""
    path = tmp_path_factory.mktemp("built") / "idx"
    with mmindex.Index.open(path, words=200) as index:
        with index.writer() as w:
            _, report = w.build(PHOTOS)
            assert report.added == len(photo_paths()) and report.complete
    return path


@pytest.fixture
def index(built: Path, tmp_path: Path) -> Iterator[mmindex.Index]:
    """A private, open copy of the built index."""
    path = tmp_path / "idx"
    shutil.copytree(built, path)
    with mmindex.Index.open(path, create=False) as index:
        yield index
