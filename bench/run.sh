#!/usr/bin/env bash
# make bench: a large synthetic program, generated once and cached, then timed:
# ingest of the whole history, ingest of one more day, the nightly run, and a
# one-scenario simulation. Prints wall time, peak memory and MB/s.
# Sizes: BENCH_SIZES, a list of MEMBERSxDAYS (default "13000x365 130000x365": about
# 2 and 20 million events); BENCH_MEMBERS/BENCH_DAYS give one size instead.
# Then DuckDB (the `duckdb` Python package, installed into bench/cache/venv on first
# use) turns the same export bytes, re-encoded to UTF-8 outside the timing, from CSV
# into Parquet, and the ratio koc / DuckDB is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
KOC=${KOC:-${CARGO_TARGET_DIR:-$HOME/.cache/koc-target}/release/koc}
if [ -n "${BENCH_MEMBERS:-}" ]; then
  SIZES="${BENCH_MEMBERS}x${BENCH_DAYS:-365}"
else
  SIZES=${BENCH_SIZES:-"13000x365 130000x365"}
fi
if [ -z "${BENCH_SIZE:-}" ]; then
  for size in $SIZES; do
    echo "== $size"
    BENCH_SIZE=$size bash "$0"
  done
  exit 0
fi
MEMBERS=${BENCH_SIZE%x*}
DAYS=${BENCH_SIZE#*x}
CACHE=bench/cache/m${MEMBERS}-d${DAYS}
if [ ! -f "$CACHE/pipeline.yaml" ]; then
  echo "generating $MEMBERS members x $DAYS days into $CACHE"
  "$KOC" synth "$CACHE" --members "$MEMBERS" --days "$DAYS" --seed 1
fi
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
cp -r "$CACHE/." "$WORK/"
# hold the last day back, to time the ingest of "one more day" separately
last=$(ls "$WORK"/exports/activity_*.csv | sort | tail -1)
head -1 "$last" > "$WORK/day.csv"
lastday=$(tail -1 "$last" | cut -d, -f3 | cut -c1-10)
grep ",$lastday " "$last" >> "$WORK/day.csv" || true
grep -v ",$lastday " "$last" > "$last.tmp" && mv "$last.tmp" "$last"
bytes=$(cat "$WORK"/exports/*.csv | wc -c)
# the copy's 1.2 GB are written back to disk before the timings, not during the first
# (the kernel's writeback took CPU from the ingest: 2–5 s at 20 M events)
sync

measure() { # label, then the command
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; exit 1; }
  read -r secs kb < "$WORK/time"
  echo "$secs" > "$WORK/secs-$(echo "$label" | tr -c "a-z\n" _)"
  printf '%-28s %8.2f s  %8.0f MB peak' "$label" "$secs" "$(echo "$kb/1024" | bc)"
  [ -n "${MBYTES:-}" ] && printf '  %6.1f MB/s' "$(echo "$MBYTES/$secs" | bc -l)"
  echo
}
echo "machine: $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB; events: $(cat "$WORK"/exports/activity_*.csv | wc -l) lines, $((bytes/1048576)) MB of exports"
# the whole history in passes under a memory budget (docs/scale-out.md), then the
# months laid out for the shards of a run within it, into a store that is then
# dropped: the timed steps below start from an empty store as before
BUDGET=${BENCH_INGEST_BUDGET:-1G}
MBYTES=$(echo "$bytes/1048576" | bc -l) measure "ingest (budget $BUDGET, split)" "$KOC" ingest "$WORK/pipeline.yaml" --memory-budget "$BUDGET" --quiet
rm -rf "$WORK/store"
MBYTES=$(echo "$bytes/1048576" | bc -l) measure "ingest (whole history)" "$KOC" ingest "$WORK/pipeline.yaml" --quiet
cp "$WORK/day.csv" "$WORK/exports/activity_zz_lastday.csv"
MBYTES= measure "ingest (one more day)" "$KOC" ingest "$WORK/pipeline.yaml" --quiet
KOC_TIMINGS=1 MBYTES= measure "run (every stage + report)" "$KOC" run "$WORK/pipeline.yaml" --as-of "$lastday" --quiet
sed -n 's/^timing /    /p' "$WORK/err"   # each stage of that run
printf 'points:\n  rules:\n    - {id: featured, points: 800}\n' > "$WORK/s.yaml"
MBYTES= measure "simulate (one scenario)" "$KOC" simulate "$WORK/pipeline.yaml" --scenario "$WORK/s.yaml" --as-of "$lastday" --out "$WORK/sim" --quiet
# the same run as 4 shard tasks one after the other, then the merge (docs/scale-out.md)
SHARDS=${BENCH_SHARDS:-4}
# the months laid out for the tasks first, as a scheduler's ingest does (docs/scale-out.md)
MBYTES= measure "ingest --split $SHARDS" "$KOC" ingest "$WORK/pipeline.yaml" --split "$SHARDS" --quiet
for i in $(seq 0 $((SHARDS - 1))); do
  MBYTES= measure "shard $i/$SHARDS" "$KOC" run "$WORK/pipeline.yaml" --as-of "$lastday" --shard "$i/$SHARDS" --out "$WORK/parts" --quiet
done
MBYTES= measure "merge of $SHARDS parts" "$KOC" merge "$WORK/pipeline.yaml" --as-of "$lastday" "$WORK/parts" --quiet
# the same run on one machine under a memory budget (shards, as many at once as the
# cores and the budget allow, then the merge)
RUN_BUDGET=${BENCH_RUN_BUDGET:-1600M}
MBYTES= measure "run --memory-budget $RUN_BUDGET" "$KOC" run "$WORK/pipeline.yaml" --as-of "$lastday" --memory-budget "$RUN_BUDGET" --quiet
# the next night's run: the split of the months is kept in the store (STORE/split/)
MBYTES= measure "run --memory-budget, again" "$KOC" run "$WORK/pipeline.yaml" --as-of "$lastday" --memory-budget "$RUN_BUDGET" --quiet

# DuckDB on the same bytes: read_csv(all_varchar) → Parquet, after re-encoding to UTF-8
VENV=bench/cache/venv
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q duckdb || { echo "duckdb: not installed, skipped"; exit 0; }
fi
mkdir -p "$WORK/utf8"
for f in "$WORK"/exports/activity_*.csv; do iconv -f UTF-8 -t UTF-8 -c "$f" > "$WORK/utf8/$(basename "$f")"; done
/usr/bin/time -f "%e %M" -o "$WORK/duck" "$VENV/bin/python" - "$WORK/utf8" "$WORK/duck.parquet" <<'PY'
import sys, duckdb
duckdb.sql(f"COPY (SELECT * FROM read_csv('{sys.argv[1]}/*.csv', all_varchar=true)) TO '{sys.argv[2]}' (FORMAT parquet)")
PY
read -r dsecs dkb < "$WORK/duck"
printf '%-28s %8.2f s  %8.0f MB peak\n' "duckdb csv → parquet" "$dsecs" "$(echo "$dkb/1024" | bc)"
ksecs=$(cat "$WORK/secs-ingest__whole_history_")
printf 'koc whole-history ingest / duckdb: %.2f×\n' "$(echo "$ksecs/$dsecs" | bc -l)"
