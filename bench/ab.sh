#!/bin/bash
# Alternate whole-history ingests of two (or more) koc binaries on one program, to
# tell a change from this machine's noise (±15 %, CPU time included): run in turn,
# N rounds, and compare the CPU times of the reading and months phases.
#   bench/ab.sh PROGRAM_DIR N BIN_A BIN_B ...
# PROGRAM_DIR holds pipeline.yaml (its store is deleted before every ingest).
# Each run prints r<reading cpu ms>:m<months cpu ms>:<wall s>/<user+sys s>/<peak MB>.
set -euo pipefail
dir=$1; n=$2; shift 2
cd "$dir"
declare -A res
for _ in $(seq "$n"); do
  for b in "$@"; do
    rm -rf store; sync
    out=$(KOC_TIMINGS=1 /usr/bin/time -f "WALL %e %U %S %M" "$b" ingest pipeline.yaml 2>&1 >/dev/null)
    r=$(echo "$out" | grep "files read:" | sed 's/.*cpu \([0-9]*\) ms.*/\1/')
    m=$(echo "$out" | grep "months and" | sed 's/.*cpu \([0-9]*\) ms.*/\1/')
    w=$(echo "$out" | grep WALL | awk '{print $2"/"$3+$4"/"int($5/1024)}')
    res[$b]="${res[$b]:-} r$r:m$m:$w"
  done
done
for b in "$@"; do echo "$b:${res[$b]}"; done
