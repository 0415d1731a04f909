#!/usr/bin/env bash
# Kill -9 at an arbitrary moment, resume, and require parameters bit-identical
# to an uninterrupted run (CPU, fixed threads). Repeats with several kill times.
set -euo pipefail
run="$1"
config="$2"
work="${TEST_TMPDIR:-$(mktemp -d)}"
export GLOG_minloglevel=1
cache="--set=data.dataset.options.cache_dir=$work/cache"

"$run" --config="$config" "$cache" --run_dir="$work/straight" > "$work/straight.log" 2>&1

# bf16 autocast runs (CPU autocast) and stays finite.
"$run" --config="$config" "$cache" --run_dir="$work/bf16" --set=trainer.precision=BF16 --set=trainer.max_steps=4 \
  > "$work/bf16.log" 2>&1 || { echo "FAIL: bf16 run"; tail -5 "$work/bf16.log"; exit 1; }
grep -qE "^last_loss: [0-9]" "$work/bf16/summary.txt" || { echo "FAIL: bf16 loss not finite"; exit 1; }

# A diverging run stops with the step, the loss terms and the last good checkpoint.
if "$run" --config="$config" "$cache" --run_dir="$work/diverge" --set=schedule.lr.options.base_value=1e30 \
    --set=schedule.lr.options.warmup_epochs=0 --set=trainer.clip_grad=0 > "$work/diverge.log" 2>&1; then
  echo "FAIL: a diverging run did not stop"; exit 1
fi
grep -q "non-finite loss" "$work/diverge.log" && grep -q "at micro-batch" "$work/diverge.log" && \
  grep -q "last good checkpoint: .*checkpoint-" "$work/diverge.log" || { echo "FAIL: guard message"; tail -3 "$work/diverge.log"; exit 1; }

for delay in 0.2 0.7 1.3 $(awk -v s=$RANDOM 'BEGIN{srand(s); printf "%.2f", 0.4 + rand() * 1.5}'); do
  dir="$work/killed_$delay"
  "$run" --config="$config" "$cache" --run_dir="$dir" > "$dir.log" 2>&1 &
  pid=$!
  sleep "$delay"
  if kill -9 "$pid" 2>/dev/null; then
    echo "killed after ${delay}s: $(ls "$dir/checkpoints" 2>/dev/null | wc -l) checkpoint(s) on disk"
  else
    echo "run finished before the kill at ${delay}s"
  fi
  wait "$pid" 2>/dev/null || true
  "$run" --config="$config" "$cache" --run_dir="$dir" --resume >> "$dir.log" 2>&1
  for f in target_encoder.pt encoder.pt; do
    if ! cmp -s "$work/straight/$f" "$dir/$f"; then
      echo "FAIL: $f differs after kill -9 at ${delay}s and resume"; tail -5 "$dir.log"; exit 1
    fi
  done
  # The loss trajectory is identical too (timing columns aside).
  if ! diff <(cut -d, -f1-12 "$work/straight/metrics.csv") <(cut -d, -f1-12 "$dir/metrics.csv") > /dev/null; then
    echo "FAIL: metrics differ after resume at ${delay}s"; exit 1
  fi
  echo "ok: bit-identical after kill -9 at ${delay}s"
done

# A kill can cut the last metrics row anywhere, even inside its iteration
# number (the stream flushes when its buffer fills); the cut row must not
# survive the resume. Rewind a copy of the straight run by one checkpoint and
# leave such a fragment at the end of its metrics.
dir="$work/cut_row"
cp -r "$work/straight" "$dir"
rm -f "$dir/target_encoder.pt" "$dir/encoder.pt" "$dir/summary.txt"
rm -f "$dir/checkpoints/$(ls "$dir/checkpoints" | sort | tail -1)"
printf '1' >> "$dir/metrics.csv"
"$run" --config="$config" "$cache" --run_dir="$dir" --resume > "$dir.log" 2>&1 || { tail -5 "$dir.log"; exit 1; }
cmp -s "$work/straight/encoder.pt" "$dir/encoder.pt" || { echo "FAIL: encoder differs after rewind and resume"; exit 1; }
if ! diff <(cut -d, -f1-12 "$work/straight/metrics.csv") <(cut -d, -f1-12 "$dir/metrics.csv") > /dev/null; then
  echo "FAIL: a cut metrics row survived the resume"; exit 1
fi
echo "ok: a cut metrics row is dropped on resume"

# Concurrent shards (trainer.concurrent_shards) repeat and resume bit-exactly
# too: their gradients are summed in a fixed order.
shards=--set=trainer.concurrent_shards=2
GLOG_minloglevel=0 "$run" --config="$config" "$cache" "$shards" --run_dir="$work/straight_shards" \
  > "$work/straight_shards.log" 2>&1 || { tail -5 "$work/straight_shards.log"; exit 1; }
grep -q "runs as 2 concurrent shards of 4 images" "$work/straight_shards.log" ||
  { echo "FAIL: the sharded run did not report its shards"; exit 1; }
dir="$work/killed_shards"
"$run" --config="$config" "$cache" "$shards" --run_dir="$dir" > "$dir.log" 2>&1 &
pid=$!
sleep 0.8
kill -9 "$pid" 2>/dev/null || echo "run finished before the kill"
wait "$pid" 2>/dev/null || true
"$run" --config="$config" "$cache" "$shards" --run_dir="$dir" --resume >> "$dir.log" 2>&1 || { tail -5 "$dir.log"; exit 1; }
for f in target_encoder.pt encoder.pt; do
  cmp -s "$work/straight_shards/$f" "$dir/$f" || { echo "FAIL: sharded $f differs after kill -9 and resume"; exit 1; }
done
echo "ok: concurrent shards bit-identical after kill -9 and resume"
