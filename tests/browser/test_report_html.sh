#!/usr/bin/env bash
# Browser: report.html opened in headless Chromium (check_report_html.mjs): offline, no
# console error, every chart with data drawn (canvas pixels of every series), "no data"
# exactly where the input has none, every number shown equal to its results.json figure.
#   three runs (every chart has data), one run (no growth with scale), and a bare run
#   (no storage breakdown, no resource samples: the charts say "no data").
# Exit 77 (ctest: skipped) when /usr/bin/chromium is absent; scripts/setup.sh test-deps installs it.
set -u
spanlab=$1 source_dir=$2 scratch=$3
chromium=${SPANLAB_CHROMIUM:-/usr/bin/chromium}
if [[ ! -x $chromium ]]; then
  echo "SKIP: no $chromium (scripts/setup.sh test-deps installs Debian's chromium)"
  exit 77
fi
command -v node >/dev/null || { echo "FAIL: no node (scripts/setup.sh installs it)" >&2; exit 1; }
[[ -d $source_dir/src/report/web/node_modules/playwright-core ]] || {
  echo "FAIL: playwright-core is not installed in src/report/web (scripts/setup.sh runs npm ci there)" >&2
  exit 1
}
rm -rf "$scratch" && mkdir -p "$scratch"
failures=0 passed=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
data=$source_dir/tests/data/report
check() { # name expected-empty results...
  local name=$1 empty=$2
  shift 2
  mkdir -p "$scratch/$name/shots"
  if ! "$spanlab" report "$@" --out "$scratch/$name" >/dev/null 2>"$scratch/$name/err.txt"; then
    fail "$name: spanlab report: $(cat "$scratch/$name/err.txt")"
    return
  fi
  if node "$source_dir/tests/browser/check_report_html.mjs" "$scratch/$name/report.html" "$scratch/$name/shots" \
      "$empty" "$@"; then
    passed=$((passed + 1))
  else
    fail "$name: report.html (screenshots in $scratch/$name/shots)"
  fi
}
check three 0 "$data/run-5k-a.json" "$data/run-10k.json" "$data/run-5k-b.json"
check one 1 "$data/run-5k-a.json"
python3 - "$data/run-5k-a.json" "$scratch/bare.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
doc.pop("storage", None)
doc.pop("resources", None)
json.dump(doc, open(sys.argv[2], "w"))
PY
# no data: growth with scale, three storage charts, three resource charts
check bare 7 "$scratch/bare.json"
echo "$passed passed, $failures failed"
exit $((failures > 0))
