#!/usr/bin/env bash
# A run folder's record is never destroyed, and a bad config does no work:
#  - a resume refused for another config changes nothing in the folder;
#  - --resume with no --config takes the run's own config.textproto;
#  - a resume of a finished run says so and changes nothing;
#  - cross-field rules (a warmup as long as the run, I-JEPA with an action
#    network) fail with status 2 before a run folder exists, for a run, a
#    sweep and --print_resolved alike;
#  - a misspelled field names file:line:column and the closest field.
set -euo pipefail
run="$1"; config="$2"; sweep="$3"; sweep_config="$4"
source "$(dirname "$0")/test_lib.sh"
work="${TEST_TMPDIR:-$(mktemp -d)}"
export GLOG_minloglevel=0
cache=(--set=data.dataset.options.cache_dir="$work/cache")
sums() { (cd "$1" && find . -type f ! -name '*.log' -print0 | sort -z | xargs -0 md5sum); }

dir="$work/killed"
expect_status 137 env CHEXWORLD_FAILPOINTS="step:5=kill" "$run" --config="$config" "${cache[@]}" --set=trainer.epochs=4 \
  --run_dir="$dir" > "$work/killed.log" 2>&1
before=$(sums "$dir")
expect_status 2 "$run" --config="$config" "${cache[@]}" --run_dir="$dir" --resume > "$work/refused.log" 2>&1
grep -q "was made with another config (line [0-9]*: the run has \`  epochs: 4\`, this config \`  epochs: 14\`)" \
  "$work/refused.log" || { cat "$work/refused.log"; fail "the refusal does not name the difference"; }
[ "$(sums "$dir")" = "$before" ] || fail "a refused resume changed the run folder"
"$run" --run_dir="$dir" --resume > "$work/resumed.log" 2>&1 || { tail -5 "$work/resumed.log"; fail "resume with the run's own config"; }
grep -q "^micro_batches: [1-9]" "$dir/summary.txt" || fail "the resumed run did not finish"
grep -q "epochs: 4" "$dir/config.textproto" || fail "config.textproto lost the run's epochs"
finished=$(sums "$dir")
"$run" --run_dir="$dir" --resume > "$work/again.log" 2>&1 || fail "resume of a finished run failed"
grep -q "has finished .*nothing to resume, nothing changed" "$work/again.log" || { cat "$work/again.log"; fail "no 'finished' notice"; }
[ "$(sums "$dir")" = "$finished" ] || fail "a resume of a finished run changed the run folder"
echo "ok: refused resume and finished resume leave the folder byte-identical; --resume alone takes the run's config"

# Cross-field rules fail before any work.
bad() {
  local want="$1"; shift
  rm -rf "$work/bad"
  expect_status 2 "$run" --config="$config" "${cache[@]}" "$@" --run_dir="$work/bad" > "$work/bad.log" 2>&1
  grep -q -- "$want" "$work/bad.log" || { cat "$work/bad.log"; fail "'$want' not in the error for $*"; }
  [ ! -e "$work/bad" ] || fail "a run folder was made for $*"
  expect_status 2 "$run" --config="$config" "${cache[@]}" "$@" --print_resolved > "$work/bad.log" 2>&1
  grep -q -- "$want" "$work/bad.log" || fail "--print_resolved accepted $*"
}
bad "warmup_epochs = 1: must be shorter than the 1 training epochs" --set=trainer.epochs=1
# ... at the file, line and column of the field, with the fix.
grep -q "resume.textproto:29:[0-9]*: schedule.lr.options.warmup_epochs: .*; set schedule.lr.options.warmup_epochs below trainer.epochs, or raise trainer.epochs" "$work/bad.log" ||
  { cat "$work/bad.log"; fail "the warm-up error names no file:line or no fix"; }
bad "^error: --set schedule.lr.options.warmup_epochs=3: schedule.lr.options.warmup_epochs" \
  --set=trainer.epochs=2 --set schedule.lr.options.warmup_epochs=3
bad "set model.predictor.options.disable_action=true" --set=objective.name=ijepa
expect_status 2 "$sweep" --sweep="$sweep_config" --sweep_dir="$work/bad_sweep" --set=trainer.epochs=1 > "$work/bad.log" 2>&1
grep -q "warmup_epochs = 1: must be shorter" "$work/bad.log" || { cat "$work/bad.log"; fail "the sweep accepted a 1-epoch warmup"; }
[ ! -e "$work/bad_sweep" ] || fail "a sweep folder was made for a bad config"
echo "ok: cross-field rules refuse with status 2 before a run or sweep folder exists"

# A machine without a GPU: run.device = cuda fails at once, in one line, before
# any folder exists (the config itself is fine: --print_resolved shows it).
if ! nvidia-smi -L > /dev/null 2>&1; then
  rm -rf "$work/bad"
  expect_status 2 "$run" --config="$config" "${cache[@]}" --set=run.device=cuda --run_dir="$work/bad" > "$work/bad.log" 2>&1
  [ "$(grep -c . "$work/bad.log")" = 1 ] && grep -q "^error: no CUDA device: run.device = \"cuda\"" "$work/bad.log" ||
    { cat "$work/bad.log"; fail "run.device=cuda without a GPU did not fail in one 'no CUDA device' line"; }
  [ ! -e "$work/bad" ] || fail "a run folder was made for run.device=cuda without a GPU"
  expect_status 2 "$sweep" --sweep="$sweep_config" --sweep_dir="$work/bad_sweep" --set=run.device=cuda \
    --set=trainer.concurrent_shards=1 > "$work/bad.log" 2>&1
  grep -q "no CUDA device" "$work/bad.log" && [ ! -e "$work/bad_sweep" ] || { cat "$work/bad.log"; fail "the sweep on cuda"; }
  "$run" --config="$config" "${cache[@]}" --set=run.device=cuda --set=trainer.concurrent_shards=1 --print_resolved \
    > /dev/null ||
    fail "--print_resolved refused a cuda config on a CPU machine"
  echo "ok: run.device=cuda without a GPU fails at once with 'no CUDA device', no folder"
else
  skip_part "the no-GPU refusal of run.device=cuda (this machine has a GPU)"
fi

sed 's/patch_size: 8/pach_size: 8/' "$config" > "$work/typo.textproto"
expect_status 2 "$run" --config="$work/typo.textproto" --print_resolved > "$work/typo.log" 2>&1
grep -q "typo.textproto:[0-9]*:[0-9]*: .*no field named \"pach_size\". Did you mean 'patch_size'?" "$work/typo.log" ||
  { cat "$work/typo.log"; fail "the misspelled field has no file:line:col or no suggestion"; }
echo "ok: a misspelled field names file:line:col and the closest field"
