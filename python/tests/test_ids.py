"""Ids of each type, round-tripped as given, and seen by the other tools."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path
from typing import List

import pytest

import mmindex
from conftest import PHOTOS, REPO


IDS: List[mmindex.Id] = [
    "plain",
    "ünïcode/päth.jpg",
    "42",
    "",
    b"\x00\x01 raw",
    b"utf8 bytes",
    b"\xff\xfe starts with 0xFF",
    b"\xc3\x28 invalid utf8",
    0,
    42,
    -7,
    2**70,
    -(2**64),
]


def test_encoding_is_a_prefix_code() -> None:
    assert mmindex.encode_id("abc") == b"abc"  # what the CLI and the server see
    assert mmindex.encode_id(42) == b"\xffi42"
    assert mmindex.encode_id(b"abc") == b"\xffbabc"
    assert mmindex.encode_id(b"\xc3\x28") == b"\xc3\x28"  # not UTF-8: kept as is
    assert mmindex.encode_id(bytearray(b"x")) == b"\xffbx"
    for i in IDS:
        stored = mmindex.encode_id(i)
        back = mmindex.decode_id(stored)
        assert back == i and type(back) is type(i), i
    assert len({mmindex.encode_id(i) for i in IDS}) == len(IDS)


def test_random_ids_round_trip() -> None:
    seed = 20260512
    rng = random.Random(seed)
    for n in range(2000):
        kind = rng.randrange(3)
        value: mmindex.Id
        if kind == 0:
            value = "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(6)))
        elif kind == 1:
            value = bytes(rng.randrange(256) for _ in range(rng.randrange(6)))
        else:
            value = rng.randrange(-(2**80), 2**80)
        back = mmindex.decode_id(mmindex.encode_id(value))
        assert back == value and type(back) is type(value), f"seed {seed}, case {n}: {value!r}"


def test_stored_ids_from_other_tools_read_back_and_re_encode() -> None:
    # Untagged UTF-8 is text; untagged non-UTF-8 (a file name) is bytes.
    for stored in [b"photos/a.jpg", b"caf\xe9.jpg", b"line 7"]:
        assert mmindex.encode_id(mmindex.decode_id(stored)) == stored


def test_integer_like_values() -> None:
    np = pytest.importorskip("numpy")
    assert mmindex.encode_id(np.int64(5)) == mmindex.encode_id(5)
    assert mmindex.decode_id(mmindex.encode_id(np.uint8(5))) == 5
    import enum

    class Color(enum.IntEnum):
        RED = 3

    assert mmindex.encode_id(Color.RED) == b"\xffi3"
    for bad in (True, 1.0, None, ("a",)):
        with pytest.raises(TypeError):
            mmindex.encode_id(bad)  # type: ignore[arg-type]


def test_ids_of_each_type_in_an_index(index: mmindex.Index) -> None:
    photos = sorted(PHOTOS.glob("*.jpg"))
    ids = [i for i in IDS if i not in ("", b"")]
    with index.writer() as w:
        report = w.add([(i, photos[n % len(photos)]) for n, i in enumerate(ids)])
        assert report.added == len(ids) and report.complete
        bad = w.add([("", photos[0])])
        assert [f.id for f in bad.failed] == [""]
    stored = index.ids()
    for i in ids:
        assert i in index
        rec = index.record(i)
        assert rec is not None and rec.id == i and type(rec.id) is type(i)
        assert i in stored
    # Searching returns the ids as given, typed.
    hits = index.search(photos[1], top_k=len(ids) + 12)
    got = {h.id for h in hits}
    for n, i in enumerate(ids):
        if n % len(photos) == 1:
            assert i in got
    with index.writer() as w:
        assert w.remove(ids) == len(ids)
    assert all(i not in index for i in ids)
    # The int 42 and the str "42" are different records.
    with index.writer() as w:
        w.add([(42, photos[0]), ("42", photos[1])])
    assert index.record(42).id == 42  # type: ignore[union-attr]
    assert index.record("42").id == "42"  # type: ignore[union-attr]


def test_folder_ids_are_the_clis(index: mmindex.Index) -> None:
    """A folder build gives the same str ids as `mmindex build --images`;
    a str id added from Python is found by the command line."""
    assert sorted(map(str, index.ids())) == sorted(p.name for p in PHOTOS.glob("*.jpg"))
    with index.writer() as w:
        w.add([("from-python", PHOTOS / "rocket.jpg")])
    path = index.path
    index.close()
    cli = REPO / "target" / "debug" / "mmindex"
    if not cli.exists():
        pytest.skip("the mmindex binary is not built")
    out = subprocess.run(
        [str(cli), "search", "--index", path, "--json", "--top-k", "2", str(PHOTOS / "rocket.jpg")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert '"from-python"' in out and '"rocket.jpg"' in out
