#!/usr/bin/env bash
# Runs every evaluator from a config on phantom data at a tiny size and checks
# the reports: JSON with intervals, markdown table, ROC plot.
set -euo pipefail
run="$1"
config="$2"
work="${TEST_TMPDIR:-$(mktemp -d)}"
export GLOG_minloglevel=1
"$run" --config="$config" --set=evals[0].options.data.dataset.options.cache_dir="$work/cache" \
  --set=evals[1].options.data.dataset.options.cache_dir="$work/cache" \
  --set=evals[2].options.data.dataset.options.cache_dir="$work/cache" \
  --set=evals[3].options.data.dataset.options.cache_dir="$work/cache" \
  --set=evals[4].options.data.dataset.options.cache_dir="$work/cache" --run_dir="$work/run"
for e in linear_probe knn finetune attentive_probe; do
  for f in "$e.json" "$e.md" "${e}_roc.png"; do
    [ -s "$work/run/eval/$f" ] || { echo "FAIL: missing eval/$f"; exit 1; }
  done
  grep -q '"mean_auroc": {"value": 0\.[0-9]*, "low": 0\.[0-9]*, "high"' "$work/run/eval/$e.json" || {
    echo "FAIL: $e.json has no mean AUROC interval"; cat "$work/run/eval/$e.json"; exit 1; }
done
grep -q "linear_probe/random/mean_auroc" "$work/run/eval_summary.txt"
grep -q '"mean_dice": {"value": 0\.[0-9]*, "low"' "$work/run/eval/segmentation.json" || { echo "FAIL: segmentation"; exit 1; }
[ -s "$work/run/eval/segmentation_overlays.png" ]
ls "$work/run/eval"/features-random-*.h5 > /dev/null
# The finetune task is the binary cardiomegaly label.
grep -q '"name": "cardiomegaly"' "$work/run/eval/finetune.json"
echo ok
