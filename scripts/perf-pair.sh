#!/usr/bin/env bash
# Paired search timings of two builds of examples/scale on one index:
#   bash scripts/perf-pair.sh OLD_SCALE NEW_SCALE INDEX RECORDS PAIRS [OUT]
# INDEX must be one both builds read (filled by the older one). Each pair
# runs the old build, then the new one, in a fresh process (`fresh`), then
# both again after 1,000 warm-up queries (`warm`); 200 queries each. Prints
# the median and range of new/old for p50, p99 and open + first query, and
# keeps each run's JSON in OUT (default target/perf-pair). TOPK=K asks for
# K hits (default 10).
set -euo pipefail
old="$1" new="$2" index="$3" records="$4" pairs="$5"
out="${6:-target/perf-pair}"
topk="${TOPK:-10}"
mkdir -p "$out"
for ((i = 0; i < pairs; i++)); do
    for kind in fresh warm; do
        extra=()
        if [[ "$kind" == warm ]]; then extra=(--warmup 1000); fi
        for side in old new; do
            bin="$old"
            if [[ "$side" == new ]]; then bin="$new"; fi
            "$bin" --index "$index" --records "$records" --queries 200 --reuse --no-sequential --top-k "$topk" \
                "${extra[@]}" > "$out/$kind-$side-$i.json"
        done
    done
done
python3 - "$out" "$pairs" <<'PY'
import json, statistics, sys
out, pairs = sys.argv[1], int(sys.argv[2])
for kind in ("fresh", "warm"):
    for key in ("inverted_ms_p50", "inverted_ms_p99", "open_and_first_query_seconds"):
        ratios = []
        for i in range(pairs):
            o = json.load(open(f"{out}/{kind}-old-{i}.json"))[key]
            n = json.load(open(f"{out}/{kind}-new-{i}.json"))[key]
            ratios.append(n / o)
        olds = [json.load(open(f"{out}/{kind}-old-{i}.json"))[key] for i in range(pairs)]
        news = [json.load(open(f"{out}/{kind}-new-{i}.json"))[key] for i in range(pairs)]
        print(f"{kind} {key}: new/old median {statistics.median(ratios):.3f} "
              f"(range {min(ratios):.3f}-{max(ratios):.3f}); old median {statistics.median(olds):.2f}, "
              f"new median {statistics.median(news):.2f}")
PY
