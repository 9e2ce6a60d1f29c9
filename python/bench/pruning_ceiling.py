"""How much of a query's postings exact dynamic pruning could skip, at best.

For each query it scores every record exactly (TF-IDF cosine, the
library's default, with its smoothed IDF), takes the k-th best score as
the threshold theta, and asks what MaxScore would have to read if it knew
theta from the start (a real run starts at 0 and raises it, so it reads at
least this much):

- ``maxscore``: words sorted by their list-wide bound q_w * max_d d_w; the
  longest prefix whose bounds sum below theta is non-essential. The share
  of postings in the essential lists is printed (the non-essential lists
  are still probed for every candidate doc, which is not counted).
- ``block-max B``: the same choice made per block of B consecutive docs,
  with each word's bound over that block only (block-max MaxScore), and
  the share of blocks whose total bound is below theta (skipped whole).

Records come from the synthetic generator of ``benches/support/synthetic.rs``
re-drawn with NumPy (Zipf over ``--words`` words, ``--features`` draws per
record, IDF from a 1,000-record sample as the bench computes it: the same
distribution, not the same records) or from a file written by
``extract`` (real photos: every image of the folders described with a
vocabulary written by ``mmindex export-vocabulary``; IDF from the first
1,000 records, where a build trains on a seeded 1,000). Queries are
``--queries`` fresh draws, or the first ``--queries`` extracted queries
(the query images are records too, as in the real-photo benchmark: list
their folder among the record folders).

    python pruning_ceiling.py synthetic N [--k 100] [--queries 10]
    python pruning_ceiling.py extract VOCAB QUERIES OUT.npz FOLDER...
    python pruning_ceiling.py real OUT.npz [--k 100] [--queries 10]
    python pruning_ceiling.py word-counts OUT.npz COUNTS.txt

``word-counts`` writes each word's occurrences over the extracted records,
one line per word, for ``examples/scale.rs --word-counts``.

Prints one line per query and the medians. Needs NumPy (and mmindex for
``extract``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional, Tuple

import numpy as np


def zipf_draws(rng: np.random.Generator, words: int, s: float, perm: np.ndarray, n: int, f: int) -> np.ndarray:
    c = np.cumsum(1.0 / np.arange(1, words + 1) ** s)
    c /= c[-1]
    return perm[np.minimum(np.searchsorted(c, rng.random((n, f))), words - 1)]


def histograms(rows: List[np.ndarray]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(doc, word, tf) triples, sorted by doc then word."""
    docs, words, tfs = [], [], []
    for d, r in enumerate(rows):
        w, t = np.unique(r, return_counts=True)
        docs.append(np.full(len(w), d, np.int64))
        words.append(w.astype(np.int64))
        tfs.append(t.astype(np.float64))
    return np.concatenate(docs), np.concatenate(words), np.concatenate(tfs)


def idf_from(rows: List[np.ndarray], vocab: int) -> np.ndarray:
    sample = rows[:1000]
    df = np.zeros(vocab)
    for r in sample:
        df[np.unique(r)] += 1
    return np.log((1 + len(sample)) / (1 + df)) + 1.0


def ceiling(rows: List[np.ndarray], queries: List[np.ndarray], vocab: int, k: int, blocks: List[int]) -> None:
    n = len(rows)
    idf = idf_from(rows, vocab)
    doc, word, tf = histograms(rows)
    v = tf * idf[word]
    norm = np.sqrt(np.bincount(doc, weights=v * v, minlength=n))
    dn = v / norm[doc]
    # Postings by word (then doc), for per-word bounds.
    order = np.lexsort((doc, word))
    pw, pd, pv = word[order], doc[order], dn[order]
    starts = np.searchsorted(pw, np.arange(vocab + 1))
    summary = []
    for qi, q in enumerate(queries):
        w, t = np.unique(q, return_counts=True)
        qv = t * idf[w]
        qv = qv / np.linalg.norm(qv)
        qfull = np.zeros(vocab)
        qfull[w] = qv
        scores = np.bincount(doc, weights=dn * qfull[word], minlength=n)
        kk = min(k, n)
        theta = np.partition(scores, n - kk)[n - kk]
        positive = scores[scores > 0]
        median = float(np.median(positive)) if len(positive) else 0.0
        lens = starts[w + 1] - starts[w]
        total = int(lens.sum())
        gmax = np.array([pv[starts[x] : starts[x + 1]].max() if starts[x + 1] > starts[x] else 0.0 for x in w])
        ub = qv * gmax
        o = np.argsort(ub)
        nonessential = o[np.cumsum(ub[o]) < theta]
        essential = total - int(lens[nonessential].sum())
        line = [f"q{qi}: postings {total} theta {theta:.4f} ({theta / median if median else 0:.2f}x median)",
                f"maxscore {essential / total:.2f}"]
        row = [theta / median if median else 0.0, essential / total]
        for b in blocks:
            nb = (n + b - 1) // b
            bound = np.zeros((len(w), nb))
            count = np.zeros((len(w), nb))
            for i, x in enumerate(w):
                s, e = starts[x], starts[x + 1]
                np.maximum.at(bound[i], pd[s:e] // b, pv[s:e])
                np.add.at(count[i], pd[s:e] // b, 1)
            bound *= qv[:, None]
            ob = np.argsort(bound, axis=0)
            below = np.cumsum(np.take_along_axis(bound, ob, 0), 0) < theta
            non = np.zeros_like(below)
            np.put_along_axis(non, ob, below, 0)
            share = float((count * ~non).sum()) / total
            skipped = float((bound.sum(0) < theta).mean())
            line.append(f"block-max {b}: {share:.2f} (blocks skipped {skipped:.2f})")
            row += [share, skipped]
        print(", ".join(line), flush=True)
        summary.append(row)
    med = np.median(np.array(summary), axis=0)
    names = ["theta/median", "maxscore"] + [f"{x} {b}" for b in blocks for x in ("block-max", "skipped")]
    print("median: " + ", ".join(f"{a} {m:.2f}" for a, m in zip(names, med)))


def extract(vocab_path: str, queries: str, out: str, folders: List[str]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import mmindex

    vocab = mmindex.Vocabulary.load(vocab_path)

    def one(path: str) -> Optional[np.ndarray]:
        try:
            return np.asarray(vocab.extract(path, path).words, np.int64)
        except mmindex.ImageError:
            return None

    def describe(roots: List[str]) -> List[np.ndarray]:
        paths = [os.path.join(r, name) for r in roots for name in sorted(os.listdir(r))]
        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            return [r for r in pool.map(one, paths) if r is not None]

    qs = describe([queries])
    docs = describe(folders)
    np.savez(
        out,
        vocab=np.array([vocab.words]),
        doc_lens=np.array([len(r) for r in docs]),
        doc_words=np.concatenate(docs),
        query_lens=np.array([len(r) for r in qs]),
        query_words=np.concatenate(qs),
    )


def split(lens: np.ndarray, flat: np.ndarray) -> List[np.ndarray]:
    return np.split(flat, np.cumsum(lens)[:-1])


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["synthetic", "extract", "real", "word-counts"])
    p.add_argument("args", nargs="+")
    p.add_argument("--k", type=int, default=100)
    p.add_argument("--queries", type=int, default=10)
    p.add_argument("--words", type=int, default=100_000)
    p.add_argument("--features", type=int, default=1_000)
    p.add_argument("--zipf", type=float, default=0.6)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--block", type=int, action="append")
    a = p.parse_args()
    blocks = a.block or [128, 16]
    if a.what == "extract":
        extract(a.args[0], a.args[1], a.args[2], a.args[3:])
        return 0
    if a.what == "synthetic":
        n = int(a.args[0])
        rng = np.random.default_rng(a.seed)
        perm = rng.permutation(a.words)
        print(f"seed {a.seed}: {n} records, {a.words} words, {a.features} features, Zipf {a.zipf}, k {a.k}")
        rows: List[np.ndarray] = []
        for s in range(0, n, 5000):
            rows.extend(zipf_draws(rng, a.words, a.zipf, perm, min(5000, n - s), a.features))
        queries = list(zipf_draws(rng, a.words, a.zipf, perm, a.queries, a.features))
        ceiling(rows, queries, a.words, a.k, blocks)
        return 0
    z = np.load(a.args[0])
    if a.what == "word-counts":
        counts = np.bincount(z["doc_words"], minlength=int(z["vocab"][0]))
        np.savetxt(a.args[1], counts, fmt="%d")
        print(f"{len(counts)} words, {int(counts.sum())} occurrences in {len(z['doc_lens'])} records")
        return 0
    rows = split(z["doc_lens"], z["doc_words"])
    queries = split(z["query_lens"], z["query_words"])[: a.queries]
    print(f"{len(rows)} records, {int(z['vocab'][0])} words, {len(queries)} queries, k {a.k}")
    ceiling(rows, queries, int(z["vocab"][0]), a.k, blocks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
