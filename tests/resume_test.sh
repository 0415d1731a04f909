#!/usr/bin/env bash
# Kill -9 anywhere, damaged checkpoints and a full disk lose nothing: a run
# killed at chosen and at random points, resumed each time, ends with
# parameters and a loss trajectory bit-identical to an uninterrupted run.
#
# Kill points come from fail points (CHEXWORLD_FAILPOINTS, see
# chexworld/core/failpoints.h) or from what the run has written (its
# checkpoints), never from the clock, so load on the machine changes nothing.
# The random points are drawn from $RANDOM and printed; rerun one with
# RESUME_TEST_SEED=<seed>.
set -euo pipefail
run="$1"
config="$2"
source "$(dirname "$0")/test_lib.sh"
work="${TEST_TMPDIR:-$(mktemp -d)}"
export GLOG_minloglevel=1
seed="${RESUME_TEST_SEED:-$RANDOM}"
RANDOM="$seed"
echo "random kill points from RESUME_TEST_SEED=$seed"
args=(--config="$config" --set=data.dataset.options.cache_dir="$work/cache")

# killed DIR FAILPOINTS [--resume]: one invocation that must die at the point.
killed() {
  local dir="$1" points="$2"; shift 2
  set +e
  # (In a subshell, whose "Killed" notice goes to /dev/null.)
  (CHEXWORLD_FAILPOINTS="$points" "$run" "${args[@]}" --run_dir="$dir" "$@" >> "$dir.log" 2>&1; exit $?) 2> /dev/null
  local rc=$?
  set -e
  [ "$rc" = 137 ] || { tail -3 "$dir.log"; fail "exit status $rc at $points, expected 137 (killed)"; }
  grep -q "failpoint ${points%%=*} (rank 0) fires" "$dir.log" || fail "$points did not fire"
  echo "killed at $points: $(ls "$dir/checkpoints" 2>/dev/null | grep -c '\.pt$' || true) checkpoint(s) on disk"
}

"$run" "${args[@]}" --run_dir="$work/straight" > "$work/straight.log" 2>&1 || { tail -5 "$work/straight.log"; fail "straight run"; }
steps=$(($(wc -l < "$work/straight/metrics.csv") - 1))  # micro-batches of the whole run

# bf16 autocast runs (CPU autocast) and stays finite.
"$run" "${args[@]}" --run_dir="$work/bf16" --set=trainer.precision=BF16 --set=trainer.max_steps=4 \
  > "$work/bf16.log" 2>&1 || { tail -5 "$work/bf16.log"; fail "bf16 run"; }
grep -qE "^last_loss: [0-9]" "$work/bf16/summary.txt" || fail "bf16 loss not finite"

# A diverging run stops with the step, the loss terms and the last good checkpoint.
if "$run" "${args[@]}" --run_dir="$work/diverge" --set=schedule.lr.options.base_value=1e30 \
    --set=schedule.lr.options.warmup_epochs=0 --set=trainer.clip_grad=0 > "$work/diverge.log" 2>&1; then
  fail "a diverging run did not stop"
fi
grep -q "non-finite loss" "$work/diverge.log" && grep -q "at micro-batch" "$work/diverge.log" &&
  grep -q "last good checkpoint: .*checkpoint-" "$work/diverge.log" || { tail -3 "$work/diverge.log"; fail "guard message"; }

# One run folder, killed again and again: during start-up (no checkpoint
# yet: the resume starts from scratch), after a random micro-batch, right
# after a resume loaded its checkpoint, with a checkpoint's temporary written
# but not renamed, halfway through a metrics row, and after a checkpoint's
# rename before older ones are pruned. Then it finishes.
dir="$work/chain"
killed "$dir" "startup:1=kill"
killed "$dir" "step:$((3 + RANDOM % (steps / 2)))=kill" --resume  # after the first checkpoint
killed "$dir" "resumed:1=kill" --resume
killed "$dir" "checkpoint_tmp:1=kill" --resume
ls "$dir/checkpoints" | grep -q '\.pt\.tmp$' || fail "no checkpoint temporary left by the kill at checkpoint_tmp"
killed "$dir" "metrics_row:$((1 + RANDOM % 5))=kill" --resume
killed "$dir" "checkpoint:1=kill" --resume
"$run" "${args[@]}" --run_dir="$dir" --resume >> "$dir.log" 2>&1 || { tail -5 "$dir.log"; fail "final resume"; }
same_run "$work/straight" "$dir" "after 6 kills and resumes"
ls "$dir/checkpoints" | grep -q '\.tmp$' && fail "a checkpoint temporary survived the finished run"
echo "ok: bit-identical after 6 kills at chosen and random points"

# An external kill -9 at a point the run's progress picks: once a random
# number of its metrics rows are on disk (they are flushed at every
# checkpoint; the run holds at its last micro-batch, so it cannot finish
# first). Wherever the kill lands after that, the resume must end identical.
dir="$work/external"
want=$((4 + RANDOM % (steps - 8)))
CHEXWORLD_FAILPOINTS="step:$steps=hold" "$run" "${args[@]}" --run_dir="$dir" > "$dir.log" 2>&1 &
pid=$!
wait_for_rows "$dir/metrics.csv" "$want" "$pid"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
want=$(($(wc -l < "$dir/metrics.csv") - 1))
echo "external kill -9 with $want metrics rows and $(ls "$dir/checkpoints" | grep -c '\.pt$') checkpoints on disk"
cp -r "$dir" "$work/truncated"
cp -r "$dir" "$work/all_bad"
"$run" "${args[@]}" --run_dir="$dir" --resume >> "$dir.log" 2>&1 || { tail -5 "$dir.log"; fail "resume after the external kill"; }
same_run "$work/straight" "$dir" "after kill -9 at row $want"
echo "ok: bit-identical after an external kill -9"

# The newest checkpoint truncated: --resume says so, moves it aside, takes the
# previous one, and still ends bit-identical.
dir="$work/truncated"
newest=$(ls "$dir"/checkpoints/*.pt | tail -1)
truncate -s 4000 "$newest"
"$run" "${args[@]}" --run_dir="$dir" --resume > "$dir.log" 2>&1 || { tail -5 "$dir.log"; fail "resume past a truncated checkpoint"; }
grep -q "$(basename "$newest") is unusable (.*truncated" "$dir.log" || { tail -5 "$dir.log"; fail "no message naming the truncated checkpoint"; }
grep -q "trying the previous checkpoint" "$dir.log" || fail "no fallback message"
[ -e "$newest.corrupt" ] || fail "the truncated checkpoint was not moved aside"
same_run "$work/straight" "$dir" "after resuming past a truncated checkpoint"
echo "ok: a truncated checkpoint is skipped, named and kept aside"

# Every checkpoint corrupt (a flipped byte each): fail clearly, train nothing.
dir="$work/all_bad"
for f in "$dir"/checkpoints/*.pt; do printf 'junk' | dd of="$f" bs=1 seek=3000 conv=notrunc 2> /dev/null; done
rows=$(wc -l < "$dir/metrics.csv")
expect_status 1 "$run" "${args[@]}" --run_dir="$dir" --resume > "$dir.log" 2>&1
grep -q "none of the .* checkpoints in .* is readable" "$dir.log" || { tail -3 "$dir.log"; fail "no clear error for all checkpoints corrupt"; }
grep -q "the file is corrupt" "$dir.log" || fail "the error does not say why"
[ "$(wc -l < "$dir/metrics.csv")" = "$rows" ] || fail "a run with no readable checkpoint trained anyway"
echo "ok: no readable checkpoint fails clearly"

# The disk fills during the 3rd checkpoint: the run stops naming the path and
# errno, the previous checkpoint stays intact, and the resume ends identical.
dir="$work/disk_full"
expect_status 1 env CHEXWORLD_FAILPOINTS="checkpoint_write:3=enospc" \
  "$run" "${args[@]}" --run_dir="$dir" > "$dir.log" 2>&1
grep -q "cannot write .*checkpoint-0000000006.pt .*No space left on device" "$dir.log" || { tail -3 "$dir.log"; fail "no ENOSPC message naming the path"; }
grep -q "the previous checkpoint .*checkpoint-0000000004.pt is intact" "$dir.log" || fail "the message does not name the intact checkpoint"
[ ! -e "$dir/checkpoints/checkpoint-0000000006.pt" ] || fail "a partial checkpoint was published"
[ ! -e "$dir/checkpoints/checkpoint-0000000006.pt.tmp" ] || fail "the failed temporary was left behind"
"$run" "${args[@]}" --run_dir="$dir" --resume >> "$dir.log" 2>&1 || { tail -5 "$dir.log"; fail "resume after the full disk"; }
same_run "$work/straight" "$dir" "after a full disk"
echo "ok: a full disk during a checkpoint loses nothing"

# A kill can cut the last metrics row anywhere, even inside its iteration
# number (the stream flushes when its buffer fills); the cut row must not
# survive the resume. Rewind a copy of the straight run by one checkpoint and
# leave such a fragment at the end of its metrics.
dir="$work/cut_row"
cp -r "$work/straight" "$dir"
rm -f "$dir/target_encoder.pt" "$dir/encoder.pt" "$dir/summary.txt"
newest=$(ls "$dir"/checkpoints/*.pt | tail -1)
rm -f "$newest" "$newest.crc32"
printf '1' >> "$dir/metrics.csv"
"$run" "${args[@]}" --run_dir="$dir" --resume > "$dir.log" 2>&1 || { tail -5 "$dir.log"; fail "resume with a cut row"; }
same_run "$work/straight" "$dir" "a cut metrics row survived the resume"
echo "ok: a cut metrics row is dropped on resume"

# Concurrent shards (trainer.concurrent_shards) repeat and resume bit-exactly
# too: their gradients are summed in a fixed order.
shards=(--set=trainer.concurrent_shards=2)
GLOG_minloglevel=0 "$run" "${args[@]}" "${shards[@]}" --run_dir="$work/straight_shards" \
  > "$work/straight_shards.log" 2>&1 || { tail -5 "$work/straight_shards.log"; fail "sharded run"; }
grep -q "runs as 2 concurrent shards of 4 images" "$work/straight_shards.log" || fail "the sharded run did not report its shards"
dir="$work/killed_shards"
args+=("${shards[@]}")
killed "$dir" "step:$((1 + RANDOM % (steps - 1)))=kill"
"$run" "${args[@]}" --run_dir="$dir" --resume >> "$dir.log" 2>&1 || { tail -5 "$dir.log"; fail "sharded resume"; }
same_run "$work/straight_shards" "$dir" "concurrent shards after kill -9"
echo "ok: concurrent shards bit-identical after kill -9 and resume"
