#!/usr/bin/env bash
# The real-photo scale benchmark (docs/EVALUATION.md, "Real-photo scale
# benchmark"). A benchmark script, not a test: it takes tens of minutes.
#
#   bash scripts/realdata.sh                    # the data, once
#   bash scripts/realscale.sh [SIZE...]         # default sizes: 500 5000 20228
#
# For each SIZE: a folder of SIZE images (the 4 x G group images, then the
# photos of the natural pairs, then the first distractors by name up to
# SIZE, hard links; tiles cut from a pair's photos are left out), indexed by the release
# `mmindex build` with its defaults (plus BUILD_ARGS), timed by /usr/bin/time -v (wall time,
# peak RSS) while a poller records every 0.5 s the size of the index folder
# and of the build's spill files (they live in the index folder) and of
# TMPDIR (a fresh folder). Then `realscale query` (N-S, mAP, R@1, R@10,
# latency with and without extraction in one process) and 20 runs of
# `mmindex search` on single queries (a fresh process each: open + extract +
# search). Then (unless EXTRACT=0) `realscale extract` over the same folder:
# reading, decoding and describing every image on as many workers, the
# floor a build's time is compared with (column extract_s). For each
# natural pair in DATA/pairs.tsv, the rank of each for the other as query.
# Prints a markdown table; the raw figures go to WORK/results.tsv and
# WORK/pairs-ranks.tsv, the queries that miss part of their group to
# WORK/misses-SIZE-LABEL.
#
# Environment: MMINDEX_REAL_DATA (default /work/realdata), MMINDEX_REAL_WORK
# (default /work/realscale-work), SEED (default 1), BUILD_ARGS (extra
# `mmindex build` arguments, split on whitespace, e.g. "--words 100000";
# default none), LABEL (names the run's files in WORK: idx-SIZE-LABEL,
# build-SIZE-LABEL.log, ...; default "default" without BUILD_ARGS, else
# BUILD_ARGS with every run of characters other than [A-Za-z0-9.] turned
# into one "-", e.g. "words-100000"). results.tsv ends with the columns
# label, build_args, extract_s and s_after_p50_ms (a search right after its
# query's extraction; s_p50_ms is searches back to back), pairs-ranks.tsv
# with label; a results.tsv with another header (an older script's) is
# refused, not appended to. GROW_FROM=N (at least the group images) builds
# on the first N images of each set only and adds the others with
# `mmindex add --images`, as an index grows (build_s is both together;
# the label gains "-grown-N").
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
data=${MMINDEX_REAL_DATA:-/work/realdata}
work=${MMINDEX_REAL_WORK:-/work/realscale-work}
seed=${SEED:-1}
build_args=${BUILD_ARGS:-}
read -r -a build_argv <<<"$build_args"
if [ -n "${LABEL:-}" ]; then
  label=$LABEL
elif [ ${#build_argv[@]} -eq 0 ]; then
  label=default
else
  label=$(echo "$build_args" | sed -E 's/[^A-Za-z0-9.]+/-/g; s/^-+//; s/-+$//')
fi
grow_from=${GROW_FROM:-}
[ -z "$grow_from" ] || label=$label-grown-$grow_from
case $label in
  '' | *[!A-Za-z0-9._-]*) echo "LABEL must be [A-Za-z0-9._-]+, got '$label'" >&2; exit 1 ;;
esac
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(500 5000 20228)
bin=$here/target/release/mmindex
ex=$here/target/release/examples/realscale
# Always through cargo: a binary left from older sources would be measured.
(cd "$here" && cargo build --release --bin mmindex --example realscale)
[ -s "$data/manifest.tsv" ] || { echo "no $data/manifest.tsv: run scripts/realdata.sh" >&2; exit 1; }
mkdir -p "$work"
groups=$work/groups-seed$seed
if [ ! -e "$groups/.done" ]; then
  rm -rf "$groups"
  "$ex" groups "$data/queries" "$groups" "$seed"
  touch "$groups/.done"
fi
ngroup=$(find "$groups" -name 'g*' -type f | wc -l)
# Distractors: the photos of the natural pairs first, so that every size
# holds them, then the others by name, leaving out the tiles cut from a
# pair's photos (a tile of the partner is the same scene, a tile of the
# query a crop of it: right answers, not distractors).
mapfile -t distractors < <(
  awk -F'\t' -v data="$data" '
    FNR == 1 && NR != 1 { pairs_done = 1 }
    !pairs_done { for (i = 1; i <= 2; i++) { pair[$i] = 1 } ; next }
    FNR == 1 { next }
    $1 ~ /^distractors\// { src[$1] = $6; cut[$1] = $7; files[++n] = $1 }
    END {
      for (f in pair) if (f in src) { psrc[src[f]] = 1; print data "/" f }
      for (i = 1; i <= n; i++) {
        f = files[i]
        if (f in pair) continue
        if (cut[f] != "whole" && (src[f] in psrc)) continue
        print data "/" f
      }
    }' "$data/pairs.tsv" "$data/manifest.tsv"
)
results=$work/results.tsv
header=$(printf 'images\tgroups\tdistractors\tbuild_s\tpeak_rss_kib\tpeak_spill_b\tpeak_index_dir_b\tpeak_tmpdir_b\tindex_b\trecords\tbytes_per_record\tns\tmap\tr1\tr10\tq_p50_ms\tq_p99_ms\ts_p50_ms\ts_p99_ms\tcli_p50_ms\tload\tlabel\tbuild_args\textract_s\ts_after_p50_ms')
if [ ! -e "$results" ]; then
  echo "$header" >"$results"
elif [ "$(head -n 1 "$results")" != "$header" ]; then
  echo "$results has another header (an older script's?): move it aside" >&2
  exit 1
fi

for size in "${sizes[@]}"; do
  nd=$((size - ngroup))
  if [ "$nd" -lt 0 ] || [ "$nd" -gt ${#distractors[@]} ]; then
    echo "size $size: needs $nd distractors, have ${#distractors[@]}" >&2
    exit 1
  fi
  run=$size-$label
  set_dir=$work/set-$run idx=$work/idx-$run tmp=$work/tmp-$run
  rm -rf "$set_dir" "$idx" "$tmp"
  mkdir -p "$set_dir" "$tmp"
  ln "$groups"/g* "$set_dir"/
  for ((i = 0; i < nd; i++)); do ln "${distractors[$i]}" "$set_dir"/; done
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  peaks=$work/peaks-$run
  echo 0 0 0 >"$peaks"
  (
    set +e +o pipefail
    ps=0 pi=0 pt=0
    while :; do
      s=$(find "$idx" -name '*.mmindex-spill' -printf '%s\n' 2>/dev/null | awk '{t+=$1} END {printf "%.0f\n", t}')
      i=$(du -sb "$idx" 2>/dev/null | cut -f1)
      t=$(du -sb "$tmp" 2>/dev/null | cut -f1)
      [ "${s:-0}" -gt "$ps" ] && ps=$s
      [ "${i:-0}" -gt "$pi" ] && pi=$i
      [ "${t:-0}" -gt "$pt" ] && pt=$t
      # Written aside and renamed, so that killing the poller never leaves
      # a truncated file.
      echo "$ps $pi $pt" >"$peaks.new" && mv "$peaks.new" "$peaks"
      sleep 0.5
    done
  ) &
  poller=$!
  echo "building $size images ($ngroup group images, $nd distractors), $label: build${build_args:+ $build_args}; load $load" >&2
  if [ -n "$grow_from" ]; then
    # The first GROW_FROM images (the group images first) are built, the
    # others added: the same files as the set, in two folders.
    first=$work/first-$run rest=$work/rest-$run
    rm -rf "$first" "$rest"
    mkdir -p "$first" "$rest"
    ln "$groups"/g* "$first"/
    for ((i = 0; i < nd; i++)); do
      if [ $((ngroup + i)) -lt "$grow_from" ]; then dest=$first; else dest=$rest; fi
      ln "${distractors[$i]}" "$dest"/
    done
    cmd=(bash -c '"$0" build --index "$1" --images "$2" "${@:4}" && "$0" add --index "$1" --images "$3"'
      "$bin" "$idx" "$first" "$rest" "${build_argv[@]}")
  else
    cmd=("$bin" build --index "$idx" --images "$set_dir" "${build_argv[@]}")
  fi
  TMPDIR=$tmp /usr/bin/time -v -o "$work/time-$run" "${cmd[@]}" >"$work/build-$run.log" 2>&1
  [ -z "$grow_from" ] || rm -rf "$first" "$rest"
  kill "$poller" 2>/dev/null || true
  wait "$poller" 2>/dev/null || true
  read -r peak_spill peak_idx peak_tmp <"$peaks"
  wall=$(grep 'Elapsed (wall clock)' "$work/time-$run" | awk '{print $NF}')
  build_s=$(echo "$wall" | awk -F: '{ if (NF == 3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep 'Maximum resident set size' "$work/time-$run" | awk '{print $NF}')
  index_b=$(du -sb "$idx" | cut -f1)
  records=$("$bin" stats --index "$idx" | awk '/^records/ {print $NF; exit}')
  q=$("$ex" query "$idx" "$groups" 2>"$work/misses-$run")
  # The floor of a build's time: reading, decoding and describing the same
  # images on as many workers, storing nothing (EXTRACT=0 skips it).
  extract_s=-
  if [ "${EXTRACT:-1}" != 0 ]; then
    extract_s=$("$ex" extract "$set_dir" | sed -E 's/.*"seconds":([0-9.eE+-]+).*/\1/')
  fi
  get() { echo "$q" | sed -E "s/.*\"$1\":([0-9.eE+-]+).*/\1/"; }
  cli=()
  for f in $(ls "$groups"/g* | awk 'NR % 12 == 1' | head -20); do
    t0=$(date +%s%N)
    "$bin" search --index "$idx" "$f" >/dev/null
    cli+=($(( ($(date +%s%N) - t0) / 1000000 )))
  done
  cli_p50=$(printf '%s\n' "${cli[@]}" | sort -n | awk '{v[NR]=$1} END {print v[int(NR/2)+1]}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$size" $((ngroup / 4)) "$nd" "$build_s" "$rss" "$peak_spill" "$peak_idx" "$peak_tmp" \
    "$index_b" "$records" $((index_b / ${records:-1})) "$(get ns)" "$(get map)" \
    "$(get recall_at_1)" "$(get recall_at_10)" "$(get query_ms_p50)" "$(get query_ms_p99)" \
    "$(get search_ms_p50)" "$(get search_ms_p99)" "$cli_p50" "$load" "$label" "$build_args" "$extract_s" \
    "$(get search_after_extraction_ms_p50)" >>"$results"
  # Natural pairs in the set: the rank of each photo's partner when the
  # other is the query (top 100, the query itself left out; - = not found).
  while IFS=$'\t' read -r a b what; do
    [ -e "$set_dir/$(basename "$a")" ] && [ -e "$set_dir/$(basename "$b")" ] || continue
    ranks=()
    for pair in "$a $b" "$b $a"; do
      set -- $pair
      r=$("$bin" search --index "$idx" --top-k 100 --json "$set_dir/$(basename "$1")" |
        grep -o '"id":"[^"]*"' | cut -d'"' -f4 | grep -vx "$(basename "$1")" |
        grep -nx "$(basename "$2")" | cut -d: -f1 || true)
      ranks+=("${r:--}")
    done
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$(basename "$a")" "$(basename "$b")" "${ranks[0]}" "${ranks[1]}" "$what" "$label" >>"$work/pairs-ranks.tsv"
  done <"$data/pairs.tsv"
  rm -rf "$set_dir" "$tmp"
done

if [ -s "$work/pairs-ranks.tsv" ]; then
  echo "Natural pairs (images, A, B, rank of B for query A, rank of A for query B, what, label):"
  cat "$work/pairs-ranks.tsv"
  echo
fi
echo "| images | build args | groups | N-S (of 4) | mAP | R@1 | R@10 | query p50 with extraction | search p50 after its extraction | back to back | CLI query p50 (fresh process) | build | extraction alone | peak RSS | peak spill | peak index dir in build | index | bytes/record | load at start |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
tail -n +2 "$results" | awk -F'\t' '{
  printf "| %s | %s | %s | %.3f | %.3f | %.3f | %.3f | %.0f ms | %.1f ms | %.1f ms | %s ms | %.0f s | %s s | %.0f MiB | %.0f MiB | %.0f MiB | %.0f MiB | %.0f | %s |\n",
    $1, ($23 == "" ? "(defaults)" : $23), $2, $12, $13, $14, $15, $16, $25, $18, $20, $4, $24, $5/1024, $6/1048576, $7/1048576, $9/1048576, $11, $21 }'
