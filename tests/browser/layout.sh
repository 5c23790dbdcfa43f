#!/usr/bin/env bash
# Measure a report's layout in headless Chromium at a window size: a copy of the page
# gets a script that writes what it measured into the DOM, which Chromium prints.
# usage: layout.sh REPORT.html WIDTH,HEIGHT  → prints "fit=… grid=…" (exit 77: no chromium)
set -euo pipefail
report=$(realpath "$1"); size=$2
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "chromium not installed" >&2; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# the measuring script, after the page's own content
cat > "$work/measure.js" <<'JS'
const out = [];
// the first table of the action list: its last column within the window
const keep = document.querySelector('#actions table');
if (keep) {
  let right = 0;
  for (const r of keep.rows) for (const c of r.cells) right = Math.max(right, c.getBoundingClientRect().right);
  out.push('fit=' + (right <= window.innerWidth ? 'yes' : 'no(' + Math.round(right) + '>' + window.innerWidth + ')'));
}
// the movement grid: each header over its column's numbers
for (const t of document.querySelectorAll('table')) {
  if (!t.querySelector('td.n') || !t.rows[1]) continue;
  for (let k = 0; k < t.rows[1].cells.length; k++) {
    const td = t.rows[1].cells[k], th = t.rows[0].cells[k];
    if (!td || !th || td.colSpan > 1 || th.colSpan > 1) continue;
    const a = getComputedStyle(th).textAlign, b = getComputedStyle(td).textAlign;
    if (a !== b && a !== 'end' && a !== '-webkit-right') out.push('misaligned=' + th.textContent.trim() + ':' + a + '/' + b);
  }
}
document.body.setAttribute('data-layout', out.join(' '));
JS
sed 's#</body>#<script src="measure.js"></script></body>#' "$report" > "$work/page.html"
timeout 90 "$browser" --headless --no-sandbox --disable-gpu --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$work/profile" --hide-scrollbars --window-size="$size" \
  --host-resolver-rules="MAP * ~NOTFOUND" --virtual-time-budget=2000 \
  --dump-dom "file://$work/page.html" 2>/dev/null | grep -o 'data-layout="[^"]*"' || { echo "no layout measured" >&2; exit 1; }
