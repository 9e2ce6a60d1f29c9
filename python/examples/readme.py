"""The README's Python example: index the sample photos, then query each
with a rotated, a downscaled and a recompressed copy; the original should
come first every time. Run from the repository root."""

from pathlib import Path

import mmindex

photos = Path("data/photos")
found = total = 0
with mmindex.Index.open("target/readme-example.idx") as index:
    if len(index) == 0:
        with index.writer() as w:
            w.build(photos)  # ids: file names relative to the folder
    for photo in sorted(photos.glob("*.jpg")):
        data = photo.read_bytes()
        queries = {
            "rotated 20°": mmindex.augment.rotate(data, 20),
            "scaled 0.6": mmindex.augment.scale(data, 0.6),
            "JPEG q30": mmindex.augment.jpeg(data, 30),
        }
        for name, query in queries.items():
            hits = index.search(query, top_k=3)
            best = str(hits[0].id) if hits else "-"
            found += best == photo.name
            total += 1
            print(f"{photo.name:22} {name:12} -> {best}")
print(f"original first: {found}/{total}")
