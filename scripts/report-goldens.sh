#!/usr/bin/env bash
# report-goldens.sh: rewrites the Markdown goldens of the report tests
# (tests/data/report/golden/{single,multi}/*.md) from the committed fixtures, with
# the release build's spanlab. Run it after an intended change to the reports, read
# `git diff tests/data/report/golden`, and commit the goldens with the change.
set -euo pipefail
cd "$(dirname "$0")/.."
spanlab=${SPANLAB:-$PWD/build/release/tools/spanlab}
[[ -x $spanlab ]] || ./scripts/setup.sh release
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd tests/data/report
# Paths as the unit test gives them (relative to this directory): the reports print them.
"$spanlab" report run-5k-a.json --out "$work/single" >/dev/null
"$spanlab" report run-5k-a.json run-10k.json run-5k-b.json --out "$work/multi" >/dev/null
for set in single multi; do
  mkdir -p "golden/$set"
  cp "$work/$set/summary.md" "$work/$set/detailed.md" "$work/$set/config-guide.md" "golden/$set/"
done
echo "report-goldens: wrote tests/data/report/golden/{single,multi}/{summary,detailed,config-guide}.md"
