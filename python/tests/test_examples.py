"""The documentation's examples run as written (README's and
docs/PYTHON.md's), each in a fresh working directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

EXAMPLES = REPO / "python" / "examples"


def run(example: str, cwd: Path) -> str:
    (cwd / "data").symlink_to(REPO / "data")
    (cwd / "target").mkdir()
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / example)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_the_readme_example_finds_every_original(tmp_path: Path) -> None:
    out = run("readme.py", tmp_path)
    assert "original first: 36/36" in out, out


def test_the_tour(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    out = run("tour.py", tmp_path)
    assert "skipped 'broken'" in out and "cannot search" in out, out


@pytest.mark.parametrize(
    "doc,example,start",
    [
        ("README.md", "readme.py", "from pathlib import Path"),
        ("docs/PYTHON.md", "tour.py", "from __future__ import annotations"),
    ],
)
def test_the_docs_show_the_examples_as_they_are(doc: str, example: str, start: str) -> None:
    code = (EXAMPLES / example).read_text()
    body = code[code.index(start) :]
    assert "```python\n" + body + "```" in (REPO / doc).read_text(), f"{doc} and {example} differ"
