"""N searches from 1 Python thread against the same N split over 2
threads: the wall-time ratio shows whether searches run in parallel (the
GIL released). Acceptance: ratio <= 0.7 on 2 cores.

The two are run alternately, several rounds; the ratio of the medians and
of the best rounds is printed, with the CPU time the process used (2
threads searching in parallel use about 2 CPU-seconds per wall second) and
the load average (other processes on the machine take cores away).

    python python/bench/threads.py [--rounds 6] [--repeat 1] [--rust]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import List, Tuple

from common import REPO, built_index, queries

import mmindex


def run(index: mmindex.Index, qs: List[bytes], threads: int, rust: bool) -> Tuple[float, float, float]:
    """Wall seconds, user CPU seconds and system CPU seconds of one run."""

    def one(q: bytes) -> int:
        # One task per search: each search uses one core.
        if rust:
            # The library's search called directly, for comparison.
            return int(index._native._bench_search(q, 1, top_k=10, threads=1))
        return len(index.search(q, top_k=10, threads=1))

    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    if threads == 1:
        for q in qs:
            one(q)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(one, qs))
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return wall, r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--repeat", type=int, default=1, help="copies of the 48 queries per run")
    ap.add_argument(
        "--rust",
        action="store_true",
        help="call the library's search directly (no Python wrapper or result objects)",
    )
    args = ap.parse_args()
    index = built_index(REPO / "target" / "bench-threads.idx")
    qs = queries() * args.repeat
    run(index, qs[:8], 1, args.rust)  # warm caches
    load0 = os.getloadavg()
    one: List[Tuple[float, float, float]] = []
    two: List[Tuple[float, float, float]] = []
    for _ in range(args.rounds):
        one.append(run(index, qs, 1, args.rust))
        two.append(run(index, qs, 2, args.rust))
    load1 = os.getloadavg()
    print(
        f"cores: {os.cpu_count()}, searches per run: {len(qs)}, rounds: {args.rounds}, "
        f"load average before/after: {load0[0]:.2f}/{load1[0]:.2f}"
    )
    for label, runs in (("1 thread ", one), ("2 threads", two)):
        walls = [w for w, _, _ in runs]
        cpu = sum(u + s for _, u, s in runs) / sum(walls)
        sys_share = sum(s for _, _, s in runs) / sum(u + s for _, u, s in runs)
        print(
            f"{label}: median {statistics.median(walls):.3f} s, best {min(walls):.3f} s "
            f"({1000 * statistics.median(walls) / len(qs):.2f} ms/search); "
            f"CPU {cpu:.2f} cores busy, {100 * sys_share:.0f}% of it system time; "
            f"runs {[round(w, 3) for w in walls]}"
        )
    m1 = statistics.median(w for w, _, _ in one)
    m2 = statistics.median(w for w, _, _ in two)
    b1 = min(w for w, _, _ in one)
    b2 = min(w for w, _, _ in two)
    print(f"ratio 2 threads / 1 thread: medians {m2 / m1:.3f}, best rounds {b2 / b1:.3f}")
    index.close()


if __name__ == "__main__":
    main()
