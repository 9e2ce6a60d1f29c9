"""Every error type: raised where the engine fails, with its fields, all
under mmindex.Error; a panic never ends the interpreter."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import List

import pytest

import mmindex
from conftest import PHOTOS


def test_the_hierarchy() -> None:
    for name in mmindex.errors.__all__:
        cls = getattr(mmindex, name)
        assert issubclass(cls, mmindex.Error), name
    assert issubclass(mmindex.InvalidConfigError, ValueError)
    assert issubclass(mmindex.IoError, OSError)
    assert issubclass(mmindex.DamagedError, mmindex.CorruptionError)


@pytest.mark.parametrize(
    "kind,cls,fields",
    [
        ("io", mmindex.IoError, {"path": "/some/path", "reason": "gone"}),
        ("storage", mmindex.StorageError, {"reason": "disk full"}),
        ("image", mmindex.ImageError, {"path": "/some/path", "reason": "cannot decode"}),
        ("corruption", mmindex.CorruptionError, {"tree": "docs", "key": "00ff"}),
        ("incompatible", mmindex.IncompatibleFormatError, {"found": 99, "supported": 3}),
        ("damaged", mmindex.DamagedError, {"reason": "lost commits"}),
        ("not_an_index", mmindex.NotAnIndexError, {"path": "/some/path", "reason": "a file"}),
        ("no_codebook", mmindex.NoCodebookError, {}),
        ("too_few", mmindex.TooFewDescriptorsError, {"found": 3, "needed": 10}),
        ("locked", mmindex.LockedError, {"path": "/some/path"}),
        ("writer_busy", mmindex.WriterBusyError, {}),
        ("invalid_config", mmindex.InvalidConfigError, {"reason": "words must be at least 2"}),
        ("records", mmindex.RecordsError, {"path": "/some/path", "reason": "is a directory"}),
        ("compaction", mmindex.CompactionError, {"path": "/some/path", "reason": "counts differ"}),
        ("training", mmindex.TrainingError, {"reason": "no clusters"}),
    ],
)
def test_each_library_error_maps_to_its_class(kind: str, cls: type, fields: dict) -> None:  # type: ignore[type-arg]
    e = mmindex._mmindex._error_for_tests(kind)
    assert type(e) is cls
    for k, v in fields.items():
        assert getattr(e, k) == v, k
    assert str(e)


def test_image_error_names_the_file(index: mmindex.Index, tmp_path: Path) -> None:
    with pytest.raises(mmindex.ImageError) as e:
        index.search(tmp_path / "absent.jpg")
    assert e.value.path == str(tmp_path / "absent.jpg") and "cannot read" in (e.value.reason or "")
    with pytest.raises(mmindex.ImageError) as e:
        index.search(b"GIF89a garbage")
    assert e.value.path == "<bytes>"


def test_not_an_index_and_create_false(tmp_path: Path) -> None:
    with pytest.raises(mmindex.NotAnIndexError):
        mmindex.Index.open(tmp_path / "absent", create=False)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("hello")
    with pytest.raises(mmindex.NotAnIndexError) as e:
        mmindex.Index.open(tmp_path / "other")
    assert e.value.path == str(tmp_path / "other")


def test_no_codebook_too_few_descriptors_writer_busy(tmp_path: Path) -> None:
    with mmindex.Index.open(tmp_path / "idx") as index:
        with pytest.raises(mmindex.NoCodebookError):
            index.search(PHOTOS / "rocket.jpg")
        with index.writer() as w:
            with pytest.raises(mmindex.WriterBusyError):
                index.writer()
            with pytest.raises(mmindex.NoCodebookError):
                w.add([("x", PHOTOS / "rocket.jpg")])
            with pytest.raises(mmindex.TooFewDescriptorsError) as e:
                w.train([("x", b"not an image")])
            assert e.value.found == 0 and (e.value.needed or 0) > 0
        # Closed: the next writer starts.
        index.writer().close()


def test_locked_by_another_handle(index: mmindex.Index) -> None:
    with pytest.raises(mmindex.LockedError) as e:
        mmindex.Index.open(index.path)
    assert e.value.path == index.path


def test_io_error_for_a_missing_folder(index: mmindex.Index, tmp_path: Path) -> None:
    with index.writer() as w:
        with pytest.raises(mmindex.IoError) as e:
            w.add(tmp_path / "no-such-folder")
    assert isinstance(e.value, OSError) and e.value.path == str(tmp_path / "no-such-folder")


def test_corruption_and_incompatible_format(built: Path, tmp_path: Path) -> None:
    import shutil

    for name, key, value, cls in [
        ("config", b"config", b"\xff\xfe", mmindex.CorruptionError),
        ("format", b"format", struct.pack(">I", 99), mmindex.IncompatibleFormatError),
    ]:
        path = tmp_path / name
        shutil.copytree(built, path)
        with mmindex.Index.open(path) as index:
            index._native._tamper("meta", key, value)
        with pytest.raises(cls) as e:
            mmindex.Index.open(path)
        if cls is mmindex.CorruptionError:
            assert e.value.tree == "meta"  # type: ignore[attr-defined]
        else:
            assert e.value.found == 99  # type: ignore[attr-defined]


def test_damaged_log(built: Path, tmp_path: Path) -> None:
    import shutil

    path = tmp_path / "flip"
    shutil.copytree(built, path)
    db = path / "db"
    data = bytearray(db.read_bytes())
    data[len(data) // 2] ^= 0xFF
    db.write_bytes(bytes(data))
    report = mmindex.verify(path)
    assert not report.ok
    with pytest.raises(mmindex.DamagedError):
        mmindex.Index.open(path)


def test_closed_handles(index: mmindex.Index) -> None:
    w = index.writer()
    w.close()
    with pytest.raises(mmindex.ClosedError):
        w.add([])
    index.close()
    for call in (index.stats, index.ids, lambda: index.search(PHOTOS / "rocket.jpg")):
        with pytest.raises(mmindex.ClosedError):
            call()


def test_a_panic_is_an_internal_error_and_the_interpreter_goes_on(index: mmindex.Index) -> None:
    with pytest.raises(mmindex.InternalError) as e:
        mmindex._mmindex._panic_for_tests()
    assert "on purpose" in str(e.value)
    assert index.stats().records > 0


def test_wrong_argument_types(index: mmindex.Index) -> None:
    bad: List[object] = [3.5, None, object()]
    for q in bad:
        with pytest.raises(TypeError):
            index.search(q)  # type: ignore[arg-type]
    with index.writer() as w:
        with pytest.raises(TypeError):
            w.add([(1.5, PHOTOS / "rocket.jpg")])
        with pytest.raises(TypeError):
            w.add([(True, PHOTOS / "rocket.jpg")])
        with pytest.raises(TypeError):
            w.add([PHOTOS / "rocket.jpg"])  # type: ignore[list-item]


def test_augment_refuses_unknown_formats() -> None:
    dicom = bytes(128) + b"DICM\xff"  # aborted OpenCV's DICOM reader
    for call in (
        lambda: mmindex.augment.rotate(dicom, 20),
        lambda: mmindex.augment.decode(dicom),
    ):
        with pytest.raises(mmindex.ImageError, match="not a decodable image"):
            call()
