"""What a search costs through Python over the same search in Rust, on the
same index and query. Acceptance: <= 0.2 ms.

Two measures:

- per call: the wall time of `index.search(q)` from Python minus the time
  that same call spent inside the library (measured in Rust around it): the
  `Searcher::search_with`, and for a pixel array also `Pixels::gray_from`,
  which converts it to grey before the GIL is released (work the search
  would otherwise start with). The difference is everything Python adds:
  the wrapper, argument and result conversion, releasing and taking the
  GIL. Exact per call, so the variance of feature extraction (tens of ms)
  does not blur it.
- loops: n searches from a Python loop against n from a Rust loop
  (`_bench_search`, no Python between searches, the query held as a Rust
  caller holds it: pixels in their colour order), alternating, medians
  compared: the same question, blurred by extraction's variance on a busy
  machine.

    python python/bench/overhead.py [--n 30] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any, Callable, List

from common import REPO, built_index, queries

import mmindex


def per_call(index: mmindex.Index, search: Callable[[], Any], n: int) -> List[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        search()
        wall = time.perf_counter() - t
        out.append(wall - index._native._last_search_seconds)
    return out


def loops(python: Callable[[], Any], rust: Callable[[int], float], n: int, rounds: int) -> str:
    py: List[float] = []
    rs: List[float] = []
    for _ in range(rounds):
        rs.append(rust(n) / n)
        t = time.perf_counter()
        for _ in range(n):
            python()
        py.append((time.perf_counter() - t) / n)
    p, r = statistics.median(py), statistics.median(rs)
    return f"loops: rust {1000 * r:8.3f} ms, python {1000 * p:8.3f} ms, difference {1000 * (p - r):+.3f} ms"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=30, help="searches per measure")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    index = built_index(REPO / "target" / "bench-overhead.idx")
    native = index._native
    q = queries()[0]
    path = str(REPO / "target" / "bench-overhead-query.png")
    Path(path).write_bytes(q)
    cases: List[Any] = [("bytes query (PNG in memory)", q, q), ("path query", path, path)]
    try:
        import numpy  # noqa: F401

        arr = mmindex.augment.decode(q)
        cases.append(("NumPy array query (HxWx3)", arr, (arr, "rgb")))
    except ImportError:
        pass
    print(f"index: {len(index)} records, {index.stats().words} words; n={args.n}, rounds={args.rounds}")
    for label, query, raw in cases:
        extra = per_call(index, lambda: index.search(query, top_k=10), args.n)
        med = statistics.median(extra)
        print(
            f"{label:28} per call: Python adds median {1000 * med:.3f} ms "
            f"(min {1000 * min(extra):.3f}, max {1000 * max(extra):.3f}); "
            f"library search {1000 * native._last_search_seconds:.1f} ms"
        )
        print(
            " " * 29
            + loops(
                lambda: index.search(query, top_k=10),
                lambda n: native._bench_search(raw, n, top_k=10),
                args.n,
                args.rounds,
            )
        )
    words = list(range(0, 1000, 3)) * 3
    extra = per_call(index, lambda: index.search_words(words, top_k=10), args.n * 20)
    print(
        f"{'words query (999 words)':28} per call: Python adds median "
        f"{1000 * statistics.median(extra):.3f} ms (min {1000 * min(extra):.3f}); "
        f"library search {1000 * native._last_search_seconds:.3f} ms"
    )
    print(
        " " * 29
        + loops(
            lambda: index.search_words(words, top_k=10),
            lambda n: native._bench_search_words(words, n, top_k=10),
            args.n * 20,
            args.rounds,
        )
    )
    index.close()


if __name__ == "__main__":
    main()
