#!/usr/bin/env bash
# Runs every evaluator from a config on phantom data at a tiny size and checks
# the reports: JSON with intervals, markdown table, and SVG figures that carry
# their own text (a panel title, axis labels, tick labels, a legend). Then
# runs them again with every image preloaded into memory and decoded on the
# evaluating thread: the results must equal the streamed run's, number for
# number. And the resolved config spells out the defaults the run used.
set -euo pipefail
run="$1"
config="$2"
python_sh="$3"
source "$(dirname "$0")/test_lib.sh"
py="$(project_python "$python_sh")"
work="${TEST_TMPDIR:-$(mktemp -d)}"
export GLOG_minloglevel=1
# A figure reads on its own: a legend, a bold panel title, labelled axes and
# numeric tick labels are all drawn as SVG text.
check_figure() {
  local svg="$1"
  grep -q '<g class="legend' "$svg" || { echo "FAIL: $svg has no legend"; exit 1; }
  grep -q 'font-weight="bold"' "$svg" || { echo "FAIL: $svg has no panel title"; exit 1; }
  grep -q '>false-positive rate</text>' "$svg" || { echo "FAIL: $svg has no x-axis label"; exit 1; }
  grep -Eq '>(0|0\.[0-9]+|1)</text>' "$svg" || { echo "FAIL: $svg has no tick labels"; exit 1; }
}
sets=()
for i in 0 1 2 3 4; do sets+=(--set="evals[$i].options.data.dataset.options.cache_dir=$work/cache"); done
resolved="$("$run" --config="$config" "${sets[@]}" --print_resolved)"
for field in "duplicate_max_distance: 8" "num_workers: 4" "temperature: 0.07" "patience: 5" "split: \"random\"" \
             "feature_cache: \"run\"" "decoder_width: 8" "overlays: 4"; do
  grep -qF "$field" <<<"$resolved" || { echo "FAIL: the resolved config lacks '$field'"; exit 1; }
done
if grep -qE "^ *(bootstrap|duplicate_max_distance|epochs): 0$" <<<"$resolved"; then
  echo "FAIL: the resolved config shows a zero the run does not use"; grep -nE ": 0$" <<<"$resolved"; exit 1
fi
"$run" --config="$config" "${sets[@]}" --run_dir="$work/run"
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
ls "$work/run/eval/features"/random-*.h5 > /dev/null
# The finetune task is the binary cardiomegaly label.
grep -q '"name": "cardiomegaly"' "$work/run/eval/finetune.json"
# Every figure of every evaluator parses as XML and renders.
check_figures "$work/run" 5 "$py"

# The in-memory path: every image preloaded, decoded on the evaluating thread,
# no feature cache. Same numbers.
memory=()
for i in 0 1 2 3 4; do
  memory+=(--set="evals[$i].options.data.preload=true" --set="evals[$i].options.data.num_workers=-1"
           --set="evals[$i].options.data.feature_cache=off")
done
"$run" --config="$config" "${sets[@]}" "${memory[@]}" --run_dir="$work/memory"
[ -z "$(ls "$work/memory/eval/features" 2>/dev/null)" ] || { echo "FAIL: feature_cache: off still cached"; exit 1; }
for e in linear_probe knn finetune attentive_probe segmentation; do
  cmp "$work/run/eval/$e.json" "$work/memory/eval/$e.json" || {
    echo "FAIL: $e: the streamed and the in-memory evaluation differ"
    diff "$work/run/eval/$e.json" "$work/memory/eval/$e.json" | head -20; exit 1; }
done
echo "streamed == in-memory: 5 evaluators, identical JSON"
echo ok
