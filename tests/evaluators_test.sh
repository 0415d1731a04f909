#!/usr/bin/env bash
# Runs every evaluator from a config on phantom data at a tiny size and checks
# the reports: JSON with intervals, markdown table, and SVG figures that carry
# their own text (a panel title, axis labels, tick labels, a legend).
set -euo pipefail
run="$1"
config="$2"
work="${TEST_TMPDIR:-$(mktemp -d)}"
export GLOG_minloglevel=1
# A figure reads on its own: a legend, a bold panel title, labelled axes and
# numeric tick labels are all drawn as SVG text.
check_figure() {
  local svg="$1"
  grep -q '<g class="legend">' "$svg" || { echo "FAIL: $svg has no legend"; exit 1; }
  grep -q 'font-weight="bold"' "$svg" || { echo "FAIL: $svg has no panel title"; exit 1; }
  grep -q '>false-positive rate</text>' "$svg" || { echo "FAIL: $svg has no x-axis label"; exit 1; }
  grep -Eq '>(0|0\.[0-9]+|1)</text>' "$svg" || { echo "FAIL: $svg has no tick labels"; exit 1; }
}
"$run" --config="$config" --set=evals[0].options.data.dataset.options.cache_dir="$work/cache" \
  --set=evals[1].options.data.dataset.options.cache_dir="$work/cache" \
  --set=evals[2].options.data.dataset.options.cache_dir="$work/cache" \
  --set=evals[3].options.data.dataset.options.cache_dir="$work/cache" \
  --set=evals[4].options.data.dataset.options.cache_dir="$work/cache" --run_dir="$work/run"
for e in linear_probe knn finetune attentive_probe; do
  for f in "$e.json" "$e.md" "${e}_roc.svg"; do
    [ -s "$work/run/eval/$f" ] || { echo "FAIL: missing eval/$f"; exit 1; }
  done
  check_figure "$work/run/eval/${e}_roc.svg"
  grep -q '"mean_auroc": {"value": 0\.[0-9]*, "low": 0\.[0-9]*, "high"' "$work/run/eval/$e.json" || {
    echo "FAIL: $e.json has no mean AUROC interval"; cat "$work/run/eval/$e.json"; exit 1; }
done
grep -q "linear_probe/random/mean_auroc" "$work/run/eval_summary.txt"
grep -q '"mean_dice": {"value": 0\.[0-9]*, "low"' "$work/run/eval/segmentation.json" || { echo "FAIL: segmentation"; exit 1; }
[ -s "$work/run/eval/segmentation_overlays.svg" ] || { echo "FAIL: missing eval/segmentation_overlays.svg"; exit 1; }
ls "$work/run/eval"/features-random-*.h5 > /dev/null
# The finetune task is the binary cardiomegaly label.
grep -q '"name": "cardiomegaly"' "$work/run/eval/finetune.json"
echo ok
