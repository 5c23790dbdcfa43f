#!/usr/bin/env bash
# make bench: a large synthetic program, generated once and cached, then timed:
# ingest of the whole history, ingest of one more day, the nightly run, and a
# one-scenario simulation. Prints wall time, peak memory and MB/s.
# Size: BENCH_MEMBERS x BENCH_DAYS (default 60000 x 365 ≈ 9 million events;
# 130000 x 365 gives about 20 million).
set -euo pipefail
cd "$(dirname "$0")/.."
KOC=${KOC:-${CARGO_TARGET_DIR:-$HOME/.cache/koc-target}/release/koc}
MEMBERS=${BENCH_MEMBERS:-60000}
DAYS=${BENCH_DAYS:-365}
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

measure() { # label, then the command
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; exit 1; }
  read -r secs kb < "$WORK/time"
  printf '%-28s %8.2f s  %8.0f MB peak' "$label" "$secs" "$(echo "$kb/1024" | bc)"
  [ -n "${MBYTES:-}" ] && printf '  %6.1f MB/s' "$(echo "$MBYTES/$secs" | bc -l)"
  echo
}
echo "machine: $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB; events: $(cat "$WORK"/exports/activity_*.csv | wc -l) lines, $((bytes/1048576)) MB of exports"
MBYTES=$(echo "$bytes/1048576" | bc -l) measure "ingest (whole history)" "$KOC" ingest "$WORK/pipeline.yaml" --quiet
cp "$WORK/day.csv" "$WORK/exports/activity_zz_lastday.csv"
MBYTES= measure "ingest (one more day)" "$KOC" ingest "$WORK/pipeline.yaml" --quiet
KOC_TIMINGS=1 MBYTES= measure "run (every stage + report)" "$KOC" run "$WORK/pipeline.yaml" --as-of "$lastday" --quiet
sed -n 's/^timing /    /p' "$WORK/err"   # each stage of that run
printf 'points:\n  rules:\n    - {id: featured, points: 800}\n' > "$WORK/s.yaml"
MBYTES= measure "simulate (one scenario)" "$KOC" simulate "$WORK/pipeline.yaml" --scenario "$WORK/s.yaml" --as-of "$lastday" --out "$WORK/sim" --quiet
