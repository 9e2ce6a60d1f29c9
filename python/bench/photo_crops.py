"""Distinct photo-sized images cut from the real-photo benchmark's whole images.

The real-photo benchmark's 20,000 distractors are mostly tiles and small
textures (about 330 keypoints an image at its defaults), so its bytes per
record say little about whole photos, which reach the 700-keypoint cap.
This writes COUNT distinct images for that measurement: random crops
(35-70% of the area, aspect 4:3 to 3:4, a seeded choice of position)
of every whole image of at least MIN_SIDE pixels in
$MMINDEX_REAL_DATA/manifest.tsv, taken in turn, each scaled to a longest
side of 1,024 pixels and saved as JPEG (quality 90). Crops of one source
overlap, as photos of one place do; no two are the same image.

    python3 photo_crops.py DATA OUT COUNT [--seed 1] [--min-side 1024]

Sources and licences: those of scripts/realdata.sh (manifest.tsv names
each source's package and licence); OUT/crops.tsv names each crop's
source and box. Needs Pillow (python3-pil).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import List, Tuple

from PIL import Image

Job = Tuple[str, str, Tuple[int, int, int, int]]


def write(job: Job) -> str:
    src, dst, box = job
    with Image.open(src) as im:
        crop = im.convert("RGB").crop(box)
    scale = 1024 / max(crop.size)
    size = (max(1, round(crop.size[0] * scale)), max(1, round(crop.size[1] * scale)))
    crop.resize(size, Image.LANCZOS).save(dst, "JPEG", quality=90)
    return dst


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("out")
    p.add_argument("count", type=int)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--min-side", type=int, default=1024)
    a = p.parse_args()
    rng = random.Random(a.seed)
    sources: List[Tuple[str, int, int]] = []
    with open(os.path.join(a.data, "manifest.tsv"), newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            w, h = int(row["width"]), int(row["height"])
            if row["cut"] == "whole" and max(w, h) >= a.min_side:
                sources.append((os.path.join(a.data, row["file"]), w, h))
    if not sources:
        print("no whole image of that size in the manifest", file=sys.stderr)
        return 1
    os.makedirs(a.out, exist_ok=True)
    jobs: List[Job] = []
    for i in range(a.count):
        src, w, h = sources[i % len(sources)]
        area = rng.uniform(0.35, 0.70) * w * h
        aspect = rng.uniform(3 / 4, 4 / 3)
        cw = min(w, max(16, round((area * aspect) ** 0.5)))
        ch = min(h, max(16, round((area / aspect) ** 0.5)))
        x = rng.randrange(0, w - cw + 1)
        y = rng.randrange(0, h - ch + 1)
        jobs.append((src, os.path.join(a.out, f"c{i:06d}.jpg"), (x, y, x + cw, y + ch)))
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        for n, _ in enumerate(pool.map(write, jobs, chunksize=64), 1):
            if n % 2000 == 0:
                print(f"{n}/{len(jobs)}", flush=True)
    with open(os.path.join(a.out, "crops.tsv"), "w") as f:
        f.write("file\tsource\tbox\n")
        for src, dst, box in jobs:
            f.write(f"{os.path.basename(dst)}\t{os.path.relpath(src, a.data)}\t{','.join(map(str, box))}\n")
    print(f"{len(jobs)} crops of {min(len(sources), a.count)} sources in {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
