#!/usr/bin/env python3
"""Extracts, filters and normalises the real-photo benchmark data
(docs/EVALUATION.md, "Real-photo scale benchmark").

realdata.py CACHE OUT
realdata.py --relicense CACHE OUT   (rewrites only manifest.tsv's licences)

CACHE/x/<package>/ holds each Debian package unpacked (scripts/realdata.sh).
Writes under OUT:
  images/<package>/<n>.jpg   every kept image (decodable, shorter side >= 200
                             px, photo-like, unique by pixel hash), RGB JPEG
                             quality 92, longer side at most 2048 px
  queries/q<nnn>.jpg         the query photos: the first 60 photos (kind "photo",
                             shorter side >= 300 px) in pixel-hash order;
                             no distractor is cut from them
  distractors/d<nnnnn>.jpg   every other kept image, whole, then
                             non-overlapping tiles of them (see tiles()),
                             20,000 in all (MMINDEX_REAL_DISTRACTORS)
  manifest.tsv               one row per file in images/ queries/ distractors/
  pairs.tsv                  natural pairs (NATURAL_PAIRS) among them
Prints the counts per source. Deterministic: the same packages give the same
files.
"""

import collections
import fnmatch
import hashlib
import io
import os
import re
import struct
import sys
import zlib

from PIL import Image

Image.MAX_IMAGE_PIXELS = 300_000_000

# package -> kind of its images; packages not listed are not used.
#   photo    camera photographs (scenes, animals, monuments, objects)
#   texture  game textures made from photographs (often tiled or packed
#            into atlases): real camera pixels, but not whole scenes
SOURCES = {
    "gcompris-qt-data": "photo",
    "python3-skimage": "photo",
    "python3-sklearn": "photo",
    "flightgear-data-base": "texture",
    "flightgear-data-models": "texture",
    "flightgear-data-ai": "texture",
    "supertuxkart-data": "texture",
    "extremetuxracer-data": "texture",
}
# gcompris-qt activities whose pictures are photographs; the others are drawn
# (paintings and details show paintings, not photographs).
GCOMPRIS_PHOTO = (
    "explore_monuments",
    "explore_world_animals",
    "explore_farm_animals",
    "explore_world_music",
    "photo_hunter",
    "categorization",
    "instruments",
    "lang",
    "imagename",
    "erase",
    "hanoi_real",
    "canal_lock",
    "watercycle",
)
EXT = (".jpg", ".jpeg", ".png", ".webp")
QUERIES = int(os.environ.get("MMINDEX_REAL_QUERIES", "60"))
DISTRACTORS = int(os.environ.get("MMINDEX_REAL_DISTRACTORS", "20000"))
TILE = 200  # smallest tile side
GRID = 8  # most tiles along a side


def rcc_files(path):
    """(name, bytes) of every uncompressed or zlib-compressed file in a Qt
    binary resource (.rcc, format versions 1-3); zstd entries are skipped."""
    data = open(path, "rb").read()
    if data[:4] != b"qres":
        return
    version, tree, dat, names = struct.unpack(">IIII", data[4:20])
    node_size = 14 if version < 2 else 22

    def name(off):
        (n,) = struct.unpack(">H", data[names + off : names + off + 2])
        return data[names + off + 6 : names + off + 6 + 2 * n].decode("utf-16-be")

    def walk(i, prefix):
        base = tree + i * node_size
        name_off, flags = struct.unpack(">IH", data[base : base + 6])
        nm = name(name_off) if i else ""
        full = f"{prefix}/{nm}" if nm else prefix
        if flags & 2:
            count, first = struct.unpack(">II", data[base + 6 : base + 14])
            for c in range(count):
                yield from walk(first + c, full)
        else:
            (off,) = struct.unpack(">I", data[base + 10 : base + 14])
            (size,) = struct.unpack(">I", data[dat + off : dat + off + 4])
            blob = data[dat + off + 4 : dat + off + 4 + size]
            if flags & 4:
                return
            if flags & 1:
                try:
                    blob = zlib.decompress(blob[4:])
                except zlib.error:
                    return
            yield full, blob

    try:
        yield from walk(0, "")
    except (struct.error, UnicodeDecodeError, IndexError):
        return


def copyright_stanzas(pkg_dir, pkg):
    """(patterns, licence) of the package's DEP-5 copyright file, in order."""
    path = os.path.join(pkg_dir, "usr/share/doc", pkg, "copyright")
    out, files = [], None
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError:
        return out
    for para in re.split(r"\n\s*\n", text):
        f = re.search(r"^Files:\s*(.*(?:\n[ \t].*)*)", para, re.M)
        l = re.search(r"^License:\s*(.*)", para, re.M)
        if f and l:
            files = f.group(1).split()
            out.append((files, l.group(1).strip()))
    return out


def licence_of(stanzas, original, overrides=()):
    """The licence of the last stanza whose pattern matches the path's end
    (DEP-5: the last match wins). A file renamed on packaging (gcompris-qt
    ships its .jpg/.png sources as .webp) is matched by a pattern naming one
    file when the names agree but for the extension. `Files: *` is the
    fallback."""
    for name, lic in overrides:
        if original.endswith(name):
            return lic
    fallback, found, by_stem = None, None, None
    stem = os.path.splitext(original)[0]
    for pats, lic in stanzas:
        for p in pats:
            if p == "*":
                fallback = lic
            elif fnmatch.fnmatch(original, "*" + p.lstrip("/")):
                found = lic
            elif "*" not in os.path.basename(p) and stem.endswith(
                os.path.splitext(p)[0].lstrip("/")
            ):
                by_stem = lic
    return found or by_stem or fallback or "unknown"


# Licences that the copyright files do not give per image: the image's own
# statement in the package (sklearn/datasets/images/README.txt; the loaders'
# docstrings in skimage/data/_fetchers.py). Images whose docstring states
# no licence (the Middlebury stereo pair, the colour wheel) keep the
# package's licence.
OVERRIDES = {
    "python3-sklearn": [("china.jpg", "CC-BY-2.0"), ("flower.jpg", "CC-BY-2.0")],
    "python3-skimage": [
        ("astronaut.png", "public-domain"),
        ("camera.png", "CC0-1.0"),
        ("chelsea.png", "CC0-1.0"),
        ("coffee.png", "CC0-1.0"),
        ("rocket.jpg", "public-domain"),
        ("hubble_deep_field.jpg", "public-domain"),
        ("retina.jpg", "CC0-1.0"),
        ("clock_motion.png", "public-domain"),
        ("brick.png", "CC0-1.0"),
        ("grass.png", "CC0-1.0"),
        ("gravel.png", "CC0-1.0"),
        ("microaneurysms.png", "CC0-1.0"),
        ("ihc.png", "no known copyright restrictions"),
    ],
}


# Natural pairs: two genuine photographs of the same scene, by original path.
NATURAL_PAIRS = [
    (
        "skimage/data/motorcycle_left.png",
        "skimage/data/motorcycle_right.png",
        "Middlebury 2014 stereo pair: two cameras 193 mm apart, same scene",
    ),
]


def write_pairs(out):
    """OUT/pairs.tsv: the files (whole images in distractors/ or queries/)
    of each natural pair found."""
    whole = {}
    for line in open(os.path.join(out, "manifest.tsv"), encoding="utf-8").read().splitlines()[1:]:
        f = line.split("\t")
        if f[6] == "whole" and not f[0].startswith("images/"):
            whole[f[5]] = f[0]
    with open(os.path.join(out, "pairs.tsv"), "w", encoding="utf-8") as fh:
        for a, b, what in NATURAL_PAIRS:
            fa = next((v for k, v in whole.items() if k.endswith(a)), None)
            fb = next((v for k, v in whole.items() if k.endswith(b)), None)
            if fa and fb:
                fh.write(f"{fa}\t{fb}\t{what}\n")


def relicense(cache, out):
    """Rewrites the licence column of OUT/manifest.tsv from the copyright
    files, without touching the images."""
    path = os.path.join(out, "manifest.tsv")
    lines = open(path, encoding="utf-8").read().splitlines()
    stanzas = {}
    rows = [lines[0]]
    for line in lines[1:]:
        f = line.split("\t")
        pkg = f[1]
        if pkg not in stanzas:
            stanzas[pkg] = copyright_stanzas(os.path.join(cache, "x", pkg), pkg)
        f[3] = licence_of(stanzas[pkg], f[5].split(":", 1)[-1], OVERRIDES.get(pkg, ()))
        rows.append("\t".join(f))
    open(path, "w", encoding="utf-8").write("\n".join(rows) + "\n")
    write_pairs(out)


def version_of(cache, pkg):
    for f in os.listdir(os.path.join(cache, "deb")):
        if f.startswith(pkg + "_"):
            return f.split("_")[1].replace("%3a", ":")
    return "?"


def candidates(pkg_dir, pkg):
    """(original path, bytes) of each image file in the package."""
    for d, _, fs in sorted(os.walk(pkg_dir)):
        for f in sorted(fs):
            p = os.path.join(d, f)
            rel = os.path.relpath(p, pkg_dir)
            if f.lower().endswith(EXT):
                if "/doc/" in rel or "/Docs/" in rel or "/help/" in rel:
                    continue  # screenshots and manuals
                yield rel, open(p, "rb").read()
            elif f.endswith(".rcc") and pkg == "gcompris-qt-data":
                if f[:-4] not in GCOMPRIS_PHOTO:
                    continue
                for name, blob in rcc_files(p):
                    if name.lower().endswith(EXT):
                        yield f"{rel}:{name}", blob


def photo_like(im):
    """Opaque, many colours, and not a normal map: what drawings, icons,
    cut-outs and bump textures fail."""
    t = im.convert("RGBA")
    t.thumbnail((128, 128))
    n = t.size[0] * t.size[1]
    if sum(1 for v in t.getchannel("A").getdata() if v < 250) > 0.05 * n:
        return False
    rgb = t.convert("RGB")
    if len(set(rgb.getdata())) < 2000:
        return False
    r, g, b = (sum(c.getdata()) / n for c in rgb.split())
    if b > 200 and abs(r - 128) < 40 and abs(g - 128) < 40:
        return False  # tangent-space normal map
    return True


def tiles(w, h):
    """Non-overlapping tiles of a w x h image: a grid of floor(w/200) x
    floor(h/200) equal cells (each side >= 200 px), at most 8 x 8; none
    when the grid would be 1 x 1 (the whole image is already used)."""
    nx, ny = min(max(w // TILE, 1), GRID), min(max(h // TILE, 1), GRID)
    if nx * ny <= 1:
        return []
    cw, ch = w // nx, h // ny
    return [(x * cw, y * ch, cw, ch) for y in range(ny) for x in range(nx)]


def save(im, path):
    im.save(path, "JPEG", quality=92)
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def cut(whole, k, box, i, out):
    """Writes distractor i (the whole image or a tile of it); its manifest row."""
    im, how = whole, "whole"
    if box:
        x, y, w, h = box
        im = whole.crop((x, y, x + w, y + h))
        how = f"tile {x},{y},{w}x{h} of {k[6]}"
    if max(im.size) > 1024:
        im = im.copy()
        im.thumbnail((1024, 1024), Image.LANCZOS)
    path = os.path.join("distractors", f"d{i:05}.jpg")
    sha = save(im, os.path.join(out, path))
    return (path, k[1], k[3], k[4], k[2], k[5], how, *im.size, sha)


def main():
    if sys.argv[1] == "--relicense":
        relicense(sys.argv[2], sys.argv[3])
        return
    cache, out = sys.argv[1], sys.argv[2]
    for sub in ("images", "queries", "distractors"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    rows = []
    kept = []  # (pixel hash, pkg, kind, version, licence, original, path)
    seen = set()
    counts = collections.defaultdict(collections.Counter)
    for pkg, kind in SOURCES.items():
        pkg_dir = os.path.join(cache, "x", pkg)
        if not os.path.isdir(pkg_dir):
            print(f"missing {pkg_dir}", file=sys.stderr)
            continue
        stanzas = copyright_stanzas(pkg_dir, pkg)
        version = version_of(cache, pkg)
        os.makedirs(os.path.join(out, "images", pkg), exist_ok=True)
        n = 0
        for original, blob in candidates(pkg_dir, pkg):
            c = counts[pkg]
            c["files"] += 1
            try:
                im = Image.open(io.BytesIO(blob))
                im.load()
            except Exception:  # noqa: BLE001 - any decoder failure drops the file
                c["undecodable"] += 1
                continue
            if min(im.size) < 200:
                c["small"] += 1
                continue
            if not photo_like(im):
                c["not photo-like"] += 1
                continue
            rgb = im.convert("RGB")
            digest = hashlib.sha256(rgb.tobytes()).hexdigest()
            if digest in seen:
                c["duplicate"] += 1
                continue
            seen.add(digest)
            if max(rgb.size) > 2048:
                rgb.thumbnail((2048, 2048), Image.LANCZOS)
            path = os.path.join("images", pkg, f"{n:05}.jpg")
            n += 1
            sha = save(rgb, os.path.join(out, path))
            lic = licence_of(stanzas, original.split(":", 1)[-1], OVERRIDES.get(pkg, ()))
            kept.append((digest, pkg, kind, version, lic, original, path, rgb.size))
            rows.append((path, pkg, version, lic, kind, original, "whole", *rgb.size, sha))
            c["kept"] += 1
    # Queries: photos, in pixel-hash order (a fixed pseudo-random order).
    photos = sorted(
        (k for k in kept if k[2] == "photo" and min(k[7]) >= 300), key=lambda k: k[0]
    )
    queries = photos[:QUERIES]
    qset = {k[6] for k in queries}
    for i, k in enumerate(queries):
        im = Image.open(os.path.join(out, k[6])).convert("RGB")
        if max(im.size) > 1024:
            im.thumbnail((1024, 1024), Image.LANCZOS)
        path = os.path.join("queries", f"q{i:03}.jpg")
        sha = save(im, os.path.join(out, path))
        rows.append((path, k[1], k[3], k[4], k[2], k[5], "whole", *im.size, sha))
    # Distractors: every other image whole, then tiles, round-robin over the
    # images so a cap takes tiles from all of them alike.
    rest = sorted((k for k in kept if k[6] not in qset), key=lambda k: k[0])
    plan = [(k, None) for k in rest]
    per = [[(k, t) for t in tiles(*k[7])] for k in rest]
    depth = max((len(p) for p in per), default=0)
    for r in range(depth):
        plan.extend(p[r] for p in per if r < len(p))
    plan = plan[:DISTRACTORS]
    sources = collections.Counter()
    by_source = collections.defaultdict(list)
    for i, (k, box) in enumerate(plan):
        by_source[k[6]].append((i, k, box))
    done = {}
    for path_in, cuts in by_source.items():
        whole = Image.open(os.path.join(out, path_in)).convert("RGB")
        for i, k, box in cuts:
            done[i] = cut(whole, k, box, i, out)
            sources[(k[1], "tile" if box else "whole")] += 1
    rows.extend(done[i] for i in sorted(done))
    with open(os.path.join(out, "manifest.tsv"), "w", encoding="utf-8") as f:
        f.write("file\tpackage\tversion\tlicence\tkind\toriginal_path\tcut\twidth\theight\tsha256\n")
        for r in rows:
            f.write("\t".join(str(v).replace("\t", " ") for v in r) + "\n")
    write_pairs(out)
    print("| package | kind | files seen | kept | queries | distractors whole | distractor tiles |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for pkg, kind in SOURCES.items():
        c = counts[pkg]
        q = sum(1 for k in queries if k[1] == pkg)
        print(
            f"| {pkg} | {kind} | {c['files']} | {c['kept']} | {q} | "
            f"{sources[(pkg, 'whole')]} | {sources[(pkg, 'tile')]} |"
        )
    print(f"queries {len(queries)}, distractors {len(plan)} "
          f"({sum(v for (p, w), v in sources.items() if w == 'whole')} whole images)")
    for pkg in SOURCES:
        drop = {k: v for k, v in counts[pkg].items() if k not in ("files", "kept")}
        print(f"{pkg}: dropped {dict(sorted(drop.items()))}", file=sys.stderr)


if __name__ == "__main__":
    main()
