#!/usr/bin/env bash
# Preemption: on SIGTERM or SIGUSR1 the trainer finishes the optimizer step in
# progress, writes a checkpoint, logs where, and exits with status 75; a
# --resume then ends bit-identical to an uninterrupted run. Signals are sent
# at fail points (CHEXWORLD_FAILPOINTS), or from outside once the run says it
# holds at one, never after a sleep.
set -euo pipefail
run="$1"
config="$2"
source "$(dirname "$0")/test_lib.sh"
work="${TEST_TMPDIR:-$(mktemp -d)}"
export GLOG_minloglevel=1
seed="${PREEMPTION_TEST_SEED:-$RANDOM}"
RANDOM="$seed"
echo "random signal points from PREEMPTION_TEST_SEED=$seed"
args=(--config="$config" --set=data.dataset.options.cache_dir="$work/cache" --set=trainer.checkpoint_every=5)

"$run" "${args[@]}" --run_dir="$work/straight" > "$work/straight.log" 2>&1 || { tail -5 "$work/straight.log"; fail "straight run"; }
steps=$(($(wc -l < "$work/straight/metrics.csv") - 1))

# SIGTERM raised at a random micro-batch, between two periodic checkpoints:
# the stop writes its own checkpoint at the end of that optimizer step.
dir="$work/term"
at=$((1 + RANDOM % (steps - 3)))
expect_status 75 env CHEXWORLD_FAILPOINTS="step:$at=term" "$run" "${args[@]}" --run_dir="$dir" > "$dir.log" 2>&1
stop=$(( (at + 1) / 2 * 2 ))  # accum_iter 2: the step in progress ends at an even micro-batch
ckpt=$(printf 'checkpoint-%010d.pt' "$stop")
grep -q "preempted by SIGTERM after micro-batch $stop .*checkpoint .*$ckpt; continue with --resume" "$dir.log" ||
  { tail -3 "$dir.log"; fail "no preemption line naming micro-batch $stop and $ckpt"; }
[ -e "$dir/checkpoints/$ckpt" ] || fail "$ckpt was not written"
[ "$(($(wc -l < "$dir/metrics.csv") - 1))" = "$stop" ] || fail "metrics do not end at micro-batch $stop"
"$run" "${args[@]}" --run_dir="$dir" --resume >> "$dir.log" 2>&1 || { tail -5 "$dir.log"; fail "resume after SIGTERM"; }
same_run "$work/straight" "$dir" "SIGTERM at micro-batch $at"
echo "ok: SIGTERM at micro-batch $at: checkpoint at $stop, exit 75, bit-identical after --resume"

# SIGUSR1 from outside (sbatch --signal=USR1@...), sent when the run holds at
# a random micro-batch.
dir="$work/usr1"
at=$((1 + RANDOM % (steps - 3)))
CHEXWORLD_FAILPOINTS="step:$at=hold" "$run" "${args[@]}" --run_dir="$dir" > "$dir.log" 2>&1 &
pid=$!
wait_for_line "$dir.log" "failpoint step:$at holding" "$pid"
kill -USR1 "$pid"
set +e; wait "$pid"; rc=$?; set -e
[ "$rc" = 75 ] || { tail -3 "$dir.log"; fail "SIGUSR1: exit status $rc, expected 75"; }
grep -q "preempted by SIGUSR1" "$dir.log" || fail "no preemption line for SIGUSR1"
"$run" "${args[@]}" --run_dir="$dir" --resume >> "$dir.log" 2>&1 || { tail -5 "$dir.log"; fail "resume after SIGUSR1"; }
same_run "$work/straight" "$dir" "SIGUSR1 at micro-batch $at"
echo "ok: SIGUSR1 at micro-batch $at: exit 75, bit-identical after --resume"

# A second signal while stopping ends the process at once (the default
# action); what is on disk is still a valid place to resume from.
dir="$work/twice"
expect_status 143 env CHEXWORLD_FAILPOINTS="step:11=term,step:12=term" "$run" "${args[@]}" --run_dir="$dir" > "$dir.log" 2>&1
"$run" "${args[@]}" --run_dir="$dir" --resume >> "$dir.log" 2>&1 || { tail -5 "$dir.log"; fail "resume after two signals"; }
same_run "$work/straight" "$dir" "two SIGTERMs"
echo "ok: a second SIGTERM ends the run at once; it still resumes exactly"
