"""Bytes per record of whole photos at a collection size the photos alone
do not reach.

    python python/bench/bytes_per_record.py SOURCE_INDEX IMAGES_DIR COPIES OUT_DIR [--spread]

Describes every image of IMAGES_DIR once with SOURCE_INDEX's vocabulary
(its feature, words and extraction settings, `max_features` included),
then stores each description COPIES times under distinct ids (``"c/name"``),
in a seeded shuffled order (so that a word's postings have irregular
doc-id gaps, as distinct photos give), in a new index at OUT_DIR, as
`Writer.add_extracted` stores records described elsewhere, and prints one
JSON object: records, bytes on disk per record, the logical bytes per
record of each kind (`Index.space`), and the same after `compact`. A
copy's geometry and histogram take the bytes a distinct photo with as many
features would: neither compresses across records.

Postings do: identical copies put the same words in every copy, so each
used word's postings are denser than distinct photos' (fewer bytes a
posting). `--spread` bounds it from the other side: copy c renames word w
to (w·A + c·B) mod V (V the vocabulary's words, A coprime to V), so the
copies' words cover the whole vocabulary evenly and no word is more
frequent than another, as distinct photos' never are. Distinct photos
fall between the two.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np

import mmindex

SPREAD_B = 7_919


def main() -> int:
    args = sys.argv[1:]
    spread = "--spread" in args
    args = [a for a in args if a != "--spread"]
    if len(args) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    source, images, copies, out = Path(args[0]), Path(args[1]), int(args[2]), Path(args[3])
    with mmindex.Index.open(source, create=False) as src:
        vocab = src.export_vocabulary()
    v = vocab.words
    a = next(a for a in (104_729, 1_299_709, 15_485_863) if math.gcd(a, v) == 1)

    def words_of(c: int, words: np.ndarray) -> np.ndarray:
        if not spread or c == 0:
            return words
        w = (words.astype(np.int64) * a + c * SPREAD_B) % v
        return w.astype(words.dtype)

    files = sorted(p for p in images.rglob("*") if p.is_file())
    started = time.monotonic()
    described = []
    for p in files:
        try:
            described.append(vocab.extract(str(p.relative_to(images)), p))
        except mmindex.ImageError as e:
            print(f"skipped {p}: {e}", file=sys.stderr)
    extract_s = time.monotonic() - started
    with mmindex.Index.open(out, vocabulary=vocab) as index:
        with index.writer() as w:
            w.install_vocabulary(vocab)
            order = [(c, r) for c in range(copies) for r in described]
            random.Random(1).shuffle(order)
            w.add_extracted(
                mmindex.ExtractedRecord(
                    id=f"{c}/" + str(r.id),
                    vocabulary=r.vocabulary,
                    source=r.source,
                    content_hash=r.content_hash,
                    words=words_of(c, r.words),
                    keypoints=r.keypoints,
                )
                for c, r in order
            )
        st = index.stats()
        space = index.space()
        n = st.records
        result = {
            "images": len(described),
            "copies": copies,
            "spread": spread,
            "records": n,
            "features_per_record": sum(len(r.words) for r in described) / max(len(described), 1),
            "extract_seconds": extract_s,
            "bytes_on_disk": st.bytes_on_disk,
            "bytes_per_record": st.bytes_on_disk / max(n, 1),
            "logical_per_record": {k: v / max(n, 1) for k, v in dataclasses.asdict(space).items()},
        }
        report = index.compact()
        result["compact"] = {"bytes_before": report.bytes_before, "bytes_after": report.bytes_after}
        result["after_compact_bytes_per_record"] = index.stats().bytes_on_disk / max(n, 1)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
