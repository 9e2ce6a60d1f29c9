"""Searches from Python threads while another thread adds: no deadlock,
and each search answers as the index would without the writer."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Dict, List, Tuple

import mmindex
from conftest import transformed


def test_two_searching_threads_and_a_writer(index: mmindex.Index, photos: List[Path]) -> None:
    queries = [transformed(p)[0] for p in photos[:6]]
    quiet = {i: index.search(q, top_k=8) for i, q in enumerate(queries)}
    added_ids = [f"added-{n}" for n in range(24)]
    # The added records are copies of the queried photos, so they do
    # compete for the top places while they are visible.
    added = [(rid, photos[n % 6].read_bytes()) for n, rid in enumerate(added_ids)]
    stop = threading.Event()
    errors: List[BaseException] = []
    checked: Dict[int, int] = {0: 0, 1: 0}

    def searcher(k: int) -> None:
        try:
            n = 0
            while not stop.is_set() or n < 4:
                i = n % len(queries)
                hits = index.search(queries[i], top_k=8)
                mine = [h for h in hits if not str(h.id).startswith("added-")]
                # The records that were there before keep their order and
                # scores; added ones may only push some out of the top 8.
                assert mine == quiet[i][: len(mine)], (k, i)
                n += 1
            checked[k] = n
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    def writer() -> None:
        try:
            with index.writer(batch_size=4) as w:
                for start in range(0, len(added), 8):
                    w.add(added[start : start + 8])
                w.remove(added_ids[::2])
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
        finally:
            stop.set()

    threads = [threading.Thread(target=searcher, args=(k,)) for k in (0, 1)]
    threads.append(threading.Thread(target=writer))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "deadlock: a thread did not finish"
    assert not errors, errors
    assert checked[0] >= 4 and checked[1] >= 4
    # Afterwards, with the writer gone, the index answers as expected.
    assert index.stats().records == len(photos) + len(added_ids) // 2
    for i, q in enumerate(queries):
        hits = index.search(q, top_k=8)
        mine = [h for h in hits if not str(h.id).startswith("added-")]
        assert mine == quiet[i][: len(mine)]


def test_python_runs_while_a_search_is_inside_the_engine(
    index: mmindex.Index, photos: List[Path]
) -> None:
    """The GIL is released during a search: another Python thread keeps
    running in the middle of each search (with the GIL held it could not
    run at all until the search returned)."""
    q = transformed(photos[0])[0]
    windows: List[Tuple[float, float]] = []

    def search() -> None:
        for _ in range(5):
            t0 = time.perf_counter()
            index._native.search(q, top_k=3)
            windows.append((t0, time.perf_counter()))

    t = threading.Thread(target=search)
    stamps: List[float] = []
    t.start()
    while t.is_alive():
        stamps.append(time.perf_counter())
    t.join()
    inside = 0
    for t0, t1 in windows:
        margin = (t1 - t0) / 4
        inside += sum(1 for s in stamps if t0 + margin < s < t1 - margin)
    assert inside > 0, "no Python ran while the engine searched"
