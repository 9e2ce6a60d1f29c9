"""N searches from 1 Python thread against the same N split over 2
threads: the wall-time ratio shows whether searches run in parallel (the
GIL released). Acceptance: ratio <= 0.7 on 2 cores.

    python python/bench/threads.py [--rounds 5] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import List

from common import REPO, built_index, queries

import mmindex


def run(index: mmindex.Index, qs: List[bytes], threads: int) -> float:
    def one(q: bytes) -> int:
        # One task per search: each search uses one core.
        return len(index.search(q, top_k=10, threads=1))

    t = time.perf_counter()
    if threads == 1:
        for q in qs:
            one(q)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(one, qs))
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=2, help="copies of the 48 queries per run")
    args = ap.parse_args()
    index = built_index(REPO / "target" / "bench-threads.idx")
    qs = queries() * args.repeat
    run(index, qs[:8], 1)  # warm caches
    one, two = [], []
    for _ in range(args.rounds):
        one.append(run(index, qs, 1))
        two.append(run(index, qs, 2))
    m1, m2 = statistics.median(one), statistics.median(two)
    print(f"cores: {os.cpu_count()}, searches per run: {len(qs)}, rounds: {args.rounds}")
    print(f"1 thread : median {m1:.3f} s  ({1000 * m1 / len(qs):.2f} ms/search)  runs {[round(x, 3) for x in one]}")
    print(f"2 threads: median {m2:.3f} s  ({1000 * m2 / len(qs):.2f} ms/search)  runs {[round(x, 3) for x in two]}")
    print(f"ratio 2 threads / 1 thread: {m2 / m1:.3f}")
    index.close()


if __name__ == "__main__":
    main()
