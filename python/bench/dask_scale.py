"""Distributed extraction and build on a local Dask cluster, against the
local ``mmindex build`` of the same folder.

Usage:
    python python/bench/dask_scale.py FOLDER WORKDIR [--mmindex PATH] [--rounds N]

Measures, on the images of FOLDER (sorted by name, as ``mmindex build``
lists them):

1. extraction throughput: every image extracted with the local build's
   vocabulary on a cluster of one worker process, then of two (one thread
   each), the results gathered and dropped (no index); images/s and the
   ratio;
2. the wall time of ``mmindex build --images FOLDER`` (the binary given,
   default the release build), and of ``mmindex.dask.build`` of the same
   images with the same options on two workers; the ratio, and whether both
   trained the same vocabulary.

Install the package optimised (``pip install ./python``) to measure it.
Prints one ``key value`` line per figure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, List, Tuple

import distributed

import mmindex
import mmindex.dask as md
from mmindex.dask._worker import extract


def listing(folder: Path) -> List[Tuple[str, str]]:
    names = sorted(
        p.name for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")
    )
    return [(n, str(folder / n)) for n in names]


def extract_all(client: Any, vocabulary: mmindex.Vocabulary, items: List[Tuple[str, str]]) -> float:
    """Seconds to extract every item on the cluster (chunks of 4, results
    gathered as they finish)."""
    shared = client.scatter(vocabulary, broadcast=True)
    chunks = [
        [(i + j, id, path) for j, (id, path) in enumerate(items[i : i + 4])]
        for i in range(0, len(items), 4)
    ]
    start = time.monotonic()
    futures = client.map(extract, [shared] * len(chunks), [256 << 20] * len(chunks), chunks, pure=False)
    done = 0
    for f in distributed.as_completed(futures):
        done += len(f.result())
        f.release()
    assert done == len(items), (done, len(items))
    return time.monotonic() - start


def cluster(workers: int) -> Tuple[Any, Any]:
    c = distributed.LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    )
    return c, distributed.Client(c)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("workdir", type=Path)
    ap.add_argument("--mmindex", default=str(Path(__file__).resolve().parents[2] / "target/release/mmindex"))
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    items = listing(args.folder)
    print(f"images {len(items)}", flush=True)
    args.workdir.mkdir(parents=True, exist_ok=True)

    for r in range(args.rounds):
        local = args.workdir / "local"
        remote = args.workdir / "remote"
        for p in (local, remote):
            shutil.rmtree(p, ignore_errors=True)
        start = time.monotonic()
        subprocess.run(
            [args.mmindex, "build", "--index", str(local), "--images", str(args.folder)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        t_local = time.monotonic() - start
        print(f"round{r}_local_build_s {t_local:.1f}", flush=True)

        c, client = cluster(2)
        try:
            start = time.monotonic()
            report = md.build(client, items, remote)
            t_remote = time.monotonic() - start
        finally:
            client.close()
            c.close()
        print(f"round{r}_dask_build_s {t_remote:.1f}", flush=True)
        print(f"round{r}_dask_build_added {report.add.added} failed {len(report.add.failed)}")
        if report.train is not None:
            d, t, q = report.train.seconds
            print(f"round{r}_dask_phases_s describe {d:.1f} train {t:.1f} quantize {q:.1f}")
        print(f"round{r}_build_ratio {t_remote / t_local:.3f}", flush=True)
        with mmindex.Index.open(local, create=False) as ix:
            vocab = ix.export_vocabulary()
        print(f"round{r}_same_vocabulary {vocab == report.vocabulary}", flush=True)

        rates = {}
        for workers in (1, 2):
            c, client = cluster(workers)
            try:
                seconds = extract_all(client, vocab, items)
            finally:
                client.close()
                c.close()
            rates[workers] = len(items) / seconds
            print(f"round{r}_extract_{workers}w_img_per_s {rates[workers]:.2f}", flush=True)
        print(f"round{r}_extract_speedup {rates[2] / rates[1]:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
