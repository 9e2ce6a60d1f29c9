#!/usr/bin/env bash
# Prints one markdown table of the end-to-end search figures: search latency
# (inverted and sequential, excluding query feature extraction), opening an
# index and answering the first query in a fresh process, bytes per record on
# disk and fill time, at 10k and 100k synthetic records (and 1M with
# MMINDEX_PERF_MILLION=1, about 45 minutes and 8 GB of disk), each straight
# after the fill and again after `mmindex compact` (each in a fresh process),
# then after compact in a process that has answered 1,000 other queries
# first (warm: a long-lived process) and in a fresh process that calls
# `Searcher::warm` first (its time in the last column); then quantization
# speed
# (flat against tree). docs/PERFORMANCE.md explains the figures.
#
#   bash scripts/perf-table.sh [WORKDIR]      # default: target/perf-table
#
# Needs the README's build dependencies and python3 (to read the JSON lines).
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-target/perf-table}"
mkdir -p "$work"
cargo build --release --example scale --example quantize_speed --bin mmindex >&2
sizes=(10000 100000)
if [[ "${MMINDEX_PERF_MILLION:-0}" == 1 ]]; then sizes+=(1000000); fi
for n in "${sizes[@]}"; do
    dir="$work/scale-$n"
    if [[ ! -e "$dir/conf" ]]; then
        echo "filling $n records into $dir" >&2
        target/release/examples/scale --index "$dir" --records "$n" --queries 20 --no-sequential > "$work/fill-$n.json"
    fi
    seq_flag=()
    if (( n > 100000 )); then seq_flag=(--no-sequential); fi
    # A fresh process: the open + first query figure is a cold start.
    target/release/examples/scale --index "$dir" --records "$n" --queries 200 --reuse "${seq_flag[@]}" > "$work/search-$n.json"
    # The same after compaction (which also joins each word's blocks).
    if [[ ! -e "$work/compacted-$n" ]]; then
        target/release/mmindex compact --index "$dir" >&2
        touch "$work/compacted-$n"
    fi
    target/release/examples/scale --index "$dir" --records "$n" --queries 200 --reuse --no-sequential > "$work/compacted-$n.json"
    # A long-lived process: the same 200 queries after 1,000 others.
    target/release/examples/scale --index "$dir" --records "$n" --queries 200 --warmup 1000 --reuse --no-sequential > "$work/warm-$n.json"
    # A fresh process that calls Searcher::warm first, as `serve --warm`.
    target/release/examples/scale --index "$dir" --records "$n" --queries 200 --warm --reuse --no-sequential > "$work/warmed-$n.json"
done
python3 - "$work" "${sizes[@]}" <<'PY'
import json, sys
work, sizes = sys.argv[1], sys.argv[2:]
print("| records | inverted p50 | inverted p99 | sequential p50 | sequential / inverted | open + first query | bytes/record on disk | fill | after compact: p50 | p99 | bytes/record | warm: p50 | p99 | after warm(): p50 | p99 | warm() |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for n in sizes:
    s = json.load(open(f"{work}/search-{n}.json"))
    try:
        fill = "%.0f s" % json.load(open(f"{work}/fill-{n}.json"))["ingest_seconds"]
    except (OSError, ValueError, KeyError):
        fill = "(reused)"
    seq = s.get("sequential_ms_p50")
    ratio = "%.0f×" % (seq / s["inverted_ms_p50"]) if seq else "–"
    seq = "%.0f ms" % seq if seq else "–"
    c = json.load(open(f"{work}/compacted-{n}.json"))
    w = json.load(open(f"{work}/warm-{n}.json"))
    d = json.load(open(f"{work}/warmed-{n}.json"))
    print(f"| {int(n):,} | {s['inverted_ms_p50']:.1f} ms | {s['inverted_ms_p99']:.1f} ms | {seq} | {ratio} | "
          f"{s['open_and_first_query_seconds']:.2f} s | {s['bytes_per_record']:,.0f} | {fill} | "
          f"{c['inverted_ms_p50']:.1f} ms | {c['inverted_ms_p99']:.1f} ms | {c['bytes_per_record']:,.0f} | "
          f"{w['inverted_ms_p50']:.1f} ms | {w['inverted_ms_p99']:.1f} ms | "
          f"{d['inverted_ms_p50']:.1f} ms | {d['inverted_ms_p99']:.1f} ms | {d['warm']['seconds']:.2f} s |")
PY
echo
skip=(--skip-million)
if [[ "${MMINDEX_PERF_MILLION:-0}" == 1 ]]; then skip=(); fi
target/release/examples/quantize_speed "${skip[@]}"
