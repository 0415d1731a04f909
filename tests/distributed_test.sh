#!/usr/bin/env bash
# Data parallelism on loopback, one-thread ranks:
#  - 2 ranks of batch 4 (one launcher) match 1 process of batch 8, within float
#    tolerance (the all-reduce sums in another order); 2 concurrent shards too;
#  - 2 "nodes" (two launchers, one rank each, env:// rendezvous through
#    --master_addr/--master_port) train bit-identically to the one-launcher run;
#  - a wrong master fails within run.rendezvous_timeout_s, naming the address;
#  - a rank killed with kill -9 stops the survivor with an error naming it, no
#    checkpoint is written after it, the launcher exits non-zero, and a
#    relaunch with --resume ends bit-identical to an uninterrupted run;
#  - SIGTERM to the launcher preempts both ranks at the same step (exit 75),
#    and --resume ends bit-identical.
set -euo pipefail
run="$1"; launch="$2"; compare="$3"; config="$4"
source "$(dirname "$0")/test_lib.sh"
work="${TEST_TMPDIR:-$(mktemp -d)}"
export GLOG_minloglevel=1
seed="${DISTRIBUTED_TEST_SEED:-$RANDOM}"
RANDOM="$seed"
echo "random points from DISTRIBUTED_TEST_SEED=$seed"
common=(--config="$config" --set=data.dataset.options.cache_dir="$work/cache" --set=trainer.epochs=3
        --set=trainer.checkpoint_every=0 --set=run.threads=1 --set=data.num_workers=1)
"$run" "${common[@]}" --set=data.batch_size=8 --run_dir="$work/single" > "$work/single.log" 2>&1 ||
  { tail -5 "$work/single.log"; fail "single process"; }
"$launch" --nproc=2 --runner="$run" --run_dir="$work/ddp" -- "${common[@]}" --set=data.batch_size=4 > "$work/ddp.log" 2>&1 ||
  { tail -5 "$work/ddp.log"; fail "2 ranks"; }
[ -s "$work/ddp/target_encoder.pt" ] || fail "no export from rank 0"
"$compare" "$work/single/target_encoder.pt" "$work/ddp/target_encoder.pt" 1e-4
"$compare" "$work/single/encoder.pt" "$work/ddp/encoder.pt" 1e-4
# Same number of steps and nearly the same logged losses.
[ "$(wc -l < "$work/single/metrics.csv")" = "$(wc -l < "$work/ddp/metrics.csv")" ]
# AdamW hides a gradient's scale from the parameters: compare the logged
# losses and gradient norms (relative 1e-3) as well.
same_column() {  # column, a.csv, b.csv
  paste -d, "$2" "$3" | awk -F, -v col="$1" '
    NR == 1 { n = NF / 2; for (i = 1; i <= n; i++) if ($i == col) c = i; if (!c) { print "no column " col; exit 1 } next }
    { a = $c; b = $(c + n); if (a == "nan" && b == "nan") next
      d = a - b; if (d < 0) d = -d; s = (a < 0 ? -a : a) + 1e-12
      if (d / s > 1e-3) { print "FAIL: " col " differs at row " NR ": " a " vs " b; bad = 1; exit 1 } }
    END { exit bad }'
}
for col in loss grad_norm; do same_column "$col" "$work/single/metrics.csv" "$work/ddp/metrics.csv"; done
echo "ok: 2 ranks of batch 4 match 1 process of batch 8"

# The same inside one process: batch 8 as 2 concurrent shards of 4.
"$run" "${common[@]}" --set=data.batch_size=8 --set=trainer.concurrent_shards=2 --run_dir="$work/shards" > "$work/shards.log" 2>&1
"$compare" "$work/single/target_encoder.pt" "$work/shards/target_encoder.pt" 1e-4
"$compare" "$work/single/encoder.pt" "$work/shards/encoder.pt" 1e-4
[ "$(wc -l < "$work/single/metrics.csv")" = "$(wc -l < "$work/shards/metrics.csv")" ]
for col in loss grad_norm; do same_column "$col" "$work/single/metrics.csv" "$work/shards/metrics.csv"; done
echo "ok: 2 concurrent shards of batch 4 match 1 pass of batch 8"

# Shard settings that cannot hold fail before any work, naming the field.
expect_error() {  # message, then arguments
  local want="$1"; shift
  if "$run" "${common[@]}" --run_dir="$work/bad" "$@" > "$work/bad.log" 2>&1; then
    fail "accepted $*"
  fi
  grep -q -- "$want" "$work/bad.log" || { tail -3 "$work/bad.log"; fail "'$want' not in the error"; }
  [ ! -e "$work/bad/metrics.csv" ] || fail "$* trained before failing"
}
expect_error "trainer.concurrent_shards = 3 does not divide data.batch_size = 8" \
  --set=data.batch_size=8 --set=trainer.concurrent_shards=3
expect_error "needs model.encoder.options.drop_path_rate = 0" \
  --set=data.batch_size=8 --set=trainer.concurrent_shards=2 --set=model.encoder.options.drop_path_rate=0.1
expect_error "run.distributed_backend = \"nccl\" needs a CUDA run.device, not \"cpu\"" --set=run.distributed_backend=nccl
expect_error "run.distributed_backend = \"mpi\" is not" --set=run.distributed_backend=mpi
expect_error "builds an action network of .* set model.predictor.options.disable_action=true" --set=objective.name=ijepa
echo "ok: bad settings fail before any work"

# Two nodes on 127.0.0.1: one launcher each, joined at --master_addr:--master_port.
port=$(free_port)
nodes=(--nnodes=2 --nproc=1 --master_addr=127.0.0.1 --master_port="$port" --runner="$run" --run_dir="$work/nodes")
"$launch" "${nodes[@]}" --node_rank=1 -- "${common[@]}" --set=data.batch_size=4 > "$work/node1.log" 2>&1 &
node1=$!
"$launch" "${nodes[@]}" --node_rank=0 -- "${common[@]}" --set=data.batch_size=4 > "$work/node0.log" 2>&1 ||
  { tail -5 "$work/node0.log"; fail "node 0"; }
wait "$node1" || { tail -5 "$work/node1.log"; fail "node 1"; }
same_run "$work/ddp" "$work/nodes" "two launchers against one"
"$compare" "$work/single/encoder.pt" "$work/nodes/encoder.pt" 1e-4
echo "ok: 2 nodes (env:// rendezvous on loopback) train exactly as one launcher with 2 ranks"

# A master nobody listens on: fail within the timeout, naming the address.
dead_port=$(free_port)
expect_status 1 env RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT="$dead_port" \
  "$run" "${common[@]}" --set=run.rendezvous_timeout_s=2 --run_dir="$work/nomaster" > "$work/nomaster.log" 2>&1
grep -q "cannot reach the rendezvous store at 127.0.0.1:$dead_port within 2 s (run.rendezvous_timeout_s)" "$work/nomaster.log" ||
  { tail -3 "$work/nomaster.log"; fail "unreachable master not named"; }
expect_status 2 "$launch" --nnodes=2 --node_rank=0 --runner="$run" --run_dir="$work/noport" -- "${common[@]}"
echo "ok: an unreachable master fails within run.rendezvous_timeout_s, naming the address"

# kill -9 of rank 1 after a random micro-batch.
ck=(--set=data.batch_size=4 --set=trainer.checkpoint_every=1)
steps=$(($(wc -l < "$work/ddp/metrics.csv") - 1))
at=$((3 + RANDOM % (steps - 4)))
set +e
CHEXWORLD_FAILPOINTS="step:$at=kill@1" "$launch" --nproc=2 --runner="$run" --run_dir="$work/dead" -- "${common[@]}" "${ck[@]}" \
  > "$work/dead.log" 2>&1
rc=$?
set -e
[ "$rc" != 0 ] || fail "the launcher exited 0 after a rank was killed"
grep -q "launch: rank 1 (pid [0-9]*) was killed by signal 9" "$work/dead.log" || { tail -5 "$work/dead.log"; fail "launcher did not name the killed rank"; }
grep -q "rank 0 of 2: the all-reduce of [a-z ]* failed: lost rank 1" "$work/dead.log" || { tail -5 "$work/dead.log"; fail "survivor did not name the lost rank"; }
newest=$(ls "$work/dead/checkpoints"/*.pt | tail -1)
[ "$(basename "$newest")" \< "$(printf 'checkpoint-%010d.pt' "$((at + 1))")" ] || fail "a checkpoint ($newest) was written after rank 1 died at micro-batch $at"
[ ! -e "$work/dead/target_encoder.pt" ] || fail "the survivor exported as if finished"
"$launch" --nproc=2 --runner="$run" --run_dir="$work/dead" -- "${common[@]}" "${ck[@]}" --resume >> "$work/dead.log" 2>&1 ||
  { tail -5 "$work/dead.log"; fail "relaunch with --resume"; }
same_run "$work/ddp" "$work/dead" "relaunch after rank 1 was killed at micro-batch $at"
echo "ok: rank 1 killed at micro-batch $at: named, nothing written after, bit-identical after --resume"

# SIGTERM to the launcher while rank 0 holds at a random micro-batch: both
# ranks stop after the same optimizer step, exit 75, and resume exactly.
at=$((1 + RANDOM % (steps - 3)))
CHEXWORLD_FAILPOINTS="step:$at=hold@0" "$launch" --nproc=2 --runner="$run" --run_dir="$work/pre" -- "${common[@]}" "${ck[@]}" \
  > "$work/pre.log" 2>&1 &
pid=$!
wait_for_line "$work/pre.log" "failpoint step:$at holding" "$pid"
kill -TERM "$pid"
set +e; wait "$pid"; rc=$?; set -e
[ "$rc" = 75 ] || { tail -5 "$work/pre.log"; fail "preempted launcher exited $rc, expected 75"; }
[ "$(grep -c "preempted by SIGTERM after micro-batch" "$work/pre.log")" = 2 ] || fail "not both ranks stopped for the preemption"
[ "$(grep "preempted by SIGTERM after micro-batch" "$work/pre.log" | sed 's/.*micro-batch \([0-9]*\).*/\1/' | sort -u | wc -l)" = 1 ] ||
  fail "the ranks stopped at different micro-batches"
"$launch" --nproc=2 --runner="$run" --run_dir="$work/pre" -- "${common[@]}" "${ck[@]}" --resume >> "$work/pre.log" 2>&1 ||
  { tail -5 "$work/pre.log"; fail "resume after preemption"; }
same_run "$work/ddp" "$work/pre" "2 ranks preempted at micro-batch $at"
echo "ok: 2 ranks preempted together at micro-batch $at, bit-identical after --resume"
