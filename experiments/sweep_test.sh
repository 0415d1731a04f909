#!/usr/bin/env bash
# Runs the ablation sweep at a tiny size and checks its results table.
set -euo pipefail
sweep="$1"
config="$2"
dir="${TEST_TMPDIR:-$(mktemp -d)}/sweep"
export GLOG_minloglevel=1
"$sweep" --sweep="$config" --sweep_dir="$dir" \
  --set=trainer.epochs=2 --set=trainer.max_steps=3 --set=trainer.checkpoint_every=0 \
  --set=data.dataset.options.num_images=64 --set=data.dataset.options.cache_dir="$dir/cache" \
  --set=model.encoder.options.depth=1 --set=data.batch_size=8
for v in full no_domain no_global no_offset local_only; do
  grep -q "^| $v |" "$dir/results.md" || { echo "FAIL: $v missing from results.md"; cat "$dir/results.md"; exit 1; }
done
head -1 "$dir/results.csv" | grep -q "last_loss" || { echo "FAIL: no last_loss column"; exit 1; }
# local_only has no cross-view terms; full has all four.
grep "^local_only," "$dir/results.csv" | grep -q "objective.name=ijepa"
cat "$dir/results.md"
# A second run reuses finished variants.
GLOG_minloglevel=0 "$sweep" --sweep="$config" --sweep_dir="$dir" --set=trainer.epochs=2 --set=trainer.max_steps=3 \
  --set=trainer.checkpoint_every=0 --set=data.dataset.options.num_images=64 \
  --set=data.dataset.options.cache_dir="$dir/cache" --set=model.encoder.options.depth=1 --set=data.batch_size=8 2>&1 \
  | grep -c "already finished" | grep -q 5
echo ok
