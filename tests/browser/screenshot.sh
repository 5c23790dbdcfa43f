#!/usr/bin/env bash
# Render a report in headless Chromium, save a screenshot, and fail on console
# errors or on any network request (the report must work offline).
# usage: screenshot.sh REPORT.html OUT.png
set -euo pipefail
report=$(realpath "$1"); out=$2
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "chromium not installed" >&2; exit 77; }
profile=$(mktemp -d); log=$(mktemp)
trap 'rm -rf "$profile" "$log"' EXIT
timeout 90 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --window-size=${KOC_SHOT_SIZE:-1200,2400} \
  --host-resolver-rules="MAP * ~NOTFOUND" --enable-logging=stderr --v=0 \
  --screenshot="$(realpath -m "$out")" "file://$report" 2>"$log" >/dev/null || true
[ -s "$out" ] || { echo "no screenshot written" >&2; cat "$log" >&2; exit 1; }
if grep -E "CONSOLE|Uncaught|SyntaxError|Failed to load" "$log" >&2; then echo "console errors in the report" >&2; exit 1; fi
# no host resolves, so a request the page makes fails and shows as a console error;
# and the file itself must name no external resource
if grep -nE '(src|href)="(https?:)?//|url\((https?:)?//|@import' "$report" >&2; then
  echo "the report refers to an external resource" >&2; exit 1
fi
echo "screenshot: $out"
