#!/usr/bin/env bash
# The quick start's figures and report, as a new user gets them (the tiny
# config, shortened): the training loss, the linear probe's ROC curves and its
# appearance-shift panels each parse as XML, render to a non-blank PNG and a
# PDF, and carry a chance line where AUROC is plotted; report.html inlines them.
set -euo pipefail
run="$1"; config="$2"; report="$3"; python_sh="$4"
source "$(dirname "$0")/test_lib.sh"
py="$(project_python "$python_sh")"
work="${TEST_TMPDIR:-$(mktemp -d)}"
export GLOG_minloglevel=1
"$run" --config="$config" --set=data.dataset.options.cache_dir="$work/cache" \
  --set=evals[0].options.data.dataset.options.cache_dir="$work/cache" --set=trainer.max_steps=16 \
  --set=evals[0].options.data.bootstrap=100 --run_dir="$work/run" > "$work/run.log" 2>&1 ||
  { tail -5 "$work/run.log"; fail "quick start run"; }
for f in training_loss.svg eval/linear_probe_roc.svg eval/linear_probe_shifts.svg report.html; do
  [ -s "$work/run/$f" ] || fail "missing $f"
done
check_figures "$work/run" 3 "$py"
grep -q '>chance</text>' "$work/run/eval/linear_probe_shifts.svg" || fail "the shift panels have no chance line"
# The loss terms are drawn on top of the total (after it in the document).
"$py" - "$work/run/training_loss.svg" <<'PY' || fail "the loss terms are not on top of the total"
import sys, xml.etree.ElementTree as ET
lines = [p.get("stroke") for p in ET.parse(sys.argv[1]).getroot().iter("{http://www.w3.org/2000/svg}polyline")]
assert lines and lines[0] == "#000000" and len(lines) >= 5 and "#000000" not in lines[1:], lines
PY
# The figures, also as PDF for a paper.
"$report" --run_dir="$work/run" --pdf > "$work/report.log" 2>&1 || { cat "$work/report.log"; fail "report --pdf"; }
for f in training_loss eval/linear_probe_roc eval/linear_probe_shifts; do
  [ -s "$work/run/$f.pdf" ] || fail "report --pdf wrote no $f.pdf"
done
grep -c '<svg' "$work/run/report.html" | grep -q '^[3-9]' || fail "report.html does not inline the figures"
echo "ok: the quick start's figures parse, render, convert to PDF and are inlined"
