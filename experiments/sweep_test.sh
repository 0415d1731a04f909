#!/usr/bin/env bash
# Runs the ablation sweep at a tiny size and checks its results table. In two
# parts (the 6th argument), so each stays well inside its time on a loaded
# machine: "run" (a sweep, its re-run, a preempted and continued sweep) and
# "seeds" (a two-seed sweep: pooling, the compact table, figures, reports).
set -euo pipefail
sweep="$1"
config="$2"
report="$3"
python_sh="$4"
source "$5"  # tests/test_lib.sh
part="$6"
case "$part" in run | seeds) ;; *) echo "FAIL: part must be run or seeds, got '$part'"; exit 1 ;; esac
py="$(project_python "$python_sh")"
dir="${TEST_TMPDIR:-$(mktemp -d)}/sweep"
export GLOG_minloglevel=1
# (The sweep machinery is under test here, not the evaluation: no shift matrix.)
light=(--set=evals[0].options.data.shifts= --set=evals[0].options.data.bootstrap=200)
small=("${light[@]}" --set=trainer.epochs=2 --set=trainer.max_steps=3 --set=trainer.checkpoint_every=0
       --set=data.dataset.options.num_images=64 --set=data.dataset.options.cache_dir="$dir/cache"
       --set=model.encoder.options.depth=1 --set=data.batch_size=8)
if [ "$part" = run ]; then
  "$sweep" --sweep="$config" --sweep_dir="$dir" "${light[@]}" \
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
  # One report that opens with the sweep figure and the compact table, and each variant's own.
  grep -q "^!\[sweep\](sweep.svg)" "$dir/report.md" && grep -q "^## Results" "$dir/report.md" &&
    grep -q "^| variant | linear_probe | Δ \[95% CI\] |" "$dir/results.md" && grep -q "^## Performance" "$dir/results.md" ||
    { cat "$dir/report.md"; echo "FAIL: no sweep figure or compact table in the sweep report"; exit 1; }
  [ -s "$dir/report.html" ] && [ -s "$dir/full/report.html" ] || { echo "FAIL: missing report.html"; exit 1; }
  # A second run reuses finished variants.
  GLOG_minloglevel=0 "$sweep" --sweep="$config" --sweep_dir="$dir" "${light[@]}" --set=trainer.epochs=2 --set=trainer.max_steps=3 \
    --set=trainer.checkpoint_every=0 --set=data.dataset.options.num_images=64 \
    --set=data.dataset.options.cache_dir="$dir/cache" --set=model.encoder.options.depth=1 --set=data.batch_size=8 2>&1 \
    | grep -c "already finished" | grep -q 5

  # Preempted (SIGTERM at the first variant's 2nd micro-batch): the sweep stops
  # with status 75 after that variant's checkpoint; re-running it continues and
  # ends with the same results as the uninterrupted sweep.
  pre="${TEST_TMPDIR:-$(mktemp -d)}/preempted"
  set +e
  CHEXWORLD_FAILPOINTS=step:2=term "$sweep" --sweep="$config" --sweep_dir="$pre" "${small[@]}" > "$pre.log" 2>&1
  rc=$?
  set -e
  [ "$rc" = 75 ] || { tail -5 "$pre.log"; echo "FAIL: preempted sweep exited $rc, expected 75"; exit 1; }
  grep -q "re-run the sweep with --sweep_dir=$pre" "$pre.log" || { echo "FAIL: no hint to re-run"; exit 1; }
  "$sweep" --sweep="$config" --sweep_dir="$pre" "${small[@]}" > "$pre.log" 2>&1 || { tail -5 "$pre.log"; exit 1; }
  # Every column but the timing ones (the FLOP count per image describes the
  # whole run, resumed or not, and must be equal).
  results() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) keep[i] = $i !~ /data_wait|images_per_second|tflops|peak_|overrides/ }
                       { line = ""; for (i = 1; i <= NF; i++) if (keep[i]) line = line $i ","; print line }' "$1"; }
  diff <(results "$dir/results.csv") <(results "$pre/results.csv") ||
    { echo "FAIL: a preempted and continued sweep differs from an uninterrupted one"; exit 1; }
fi
if [ "$part" = seeds ]; then
  # Seeds: two variants, each once per seed (the sweep file's `seeds`, then
  # --seeds overriding it), pooled: mean ± sd over seeds and paired intervals.
  seeded="${TEST_TMPDIR:-$(mktemp -d)}/seeded"
  mkdir -p "$seeded"
  base="$(cd "$(dirname "$config")/../pretrain" && pwd)/tiny.textproto"
  printf 'base_config: "%s"\nseeds: [3, 4]\nvariants { name: "full" }\nvariants { name: "no_domain" set: "model.predictor.options.disable_action=true" }\n' \
    "$base" > "$seeded/seeds.textproto"
  "$sweep" --sweep="$seeded/seeds.textproto" --sweep_dir="$seeded/run" "${small[@]}" > "$seeded/log" 2>&1 ||
    { tail -5 "$seeded/log"; echo "FAIL: sweep with seeds"; exit 1; }
  for r in full/seed3 full/seed4 no_domain/seed3 no_domain/seed4; do
    [ -s "$seeded/run/$r/eval/linear_probe_scores.csv" ] || { echo "FAIL: no $r/eval/linear_probe_scores.csv"; exit 1; }
  done
  grep -q "^seed: 4$\|seed: 4" "$seeded/run/full/seed4/config.textproto" || { echo "FAIL: seed 4 not in its config"; exit 1; }
  grep -q "^| full | 3 |" "$seeded/run/results.md" && grep -q "^| no_domain | 4 |" "$seeded/run/results.md" ||
    { cat "$seeded/run/results.md"; echo "FAIL: a run per variant and seed"; exit 1; }
  # The compact table: mean ± sd over seeds, Δ against the base with its interval.
  grep -q "mean ± sd over 2 seeds" "$seeded/run/results.md" &&
    grep -Eq "^\| full \| 0\.[0-9]{3} ± 0\.[0-9]{3} \| \(base\) \|" "$seeded/run/results.md" &&
    grep -Eq "^\| no_domain \| 0\.[0-9]{3} ± 0\.[0-9]{3} \| [-+]0\.[0-9]{3} \[[-+]0\.[0-9]{3}, [-+]0\.[0-9]{3}\] \|" \
      "$seeded/run/results.md" || { cat "$seeded/run/results.md"; echo "FAIL: no compact table over seeds"; exit 1; }
  grep -q "linear_probe, encoder .* (mean AUROC over 2 seeds: 3, 4)" "$seeded/run/seeds.md" &&
    grep -q "no_domain − full: Δ \[95% CI\]" "$seeded/run/seeds.md" && grep -q "two-level" "$seeded/run/results.md" ||
    { cat "$seeded/run/seeds.md"; echo "FAIL: no pooled comparison"; exit 1; }
  # The random encoder does not depend on the variant: once, never compared with itself.
  grep -q "^| linear_probe | random | 0\.[0-9]* ± 0\.[0-9]* |" "$seeded/run/results.md" &&
    grep -q "Encoders that do not depend on the variant" "$seeded/run/seeds.md" &&
    ! grep -q "linear_probe, encoder random (mean AUROC" "$seeded/run/seeds.md" ||
    { cat "$seeded/run/results.md" "$seeded/run/seeds.md"; echo "FAIL: the random encoder compared across variants"; exit 1; }
  # The sweep's figure and every run's render; the performance table says n/a on CPU.
  [ -s "$seeded/run/sweep.svg" ] || { echo "FAIL: no sweep.svg"; exit 1; }
  check_figures "$seeded/run" 5 "$py"
  grep -q "^| full | .* | n/a | n/a |$" "$seeded/run/results.md" || { echo "FAIL: CUDA memory not n/a on CPU"; exit 1; }
  # --seeds overrides the file; the report tool rebuilds reports of seed folders.
  expect() { "$@" > /dev/null 2>&1 && { echo "FAIL: accepted $*"; exit 1; } || true; }
  expect "$sweep" --sweep="$seeded/seeds.textproto" --sweep_dir="$seeded/bad" --seeds=x "${small[@]}"
  expect "$sweep" --sweep="$seeded/seeds.textproto" --sweep_dir="$seeded/bad" --seeds=0 "${small[@]}"
  [ ! -e "$seeded/bad" ] || { echo "FAIL: a refused --seeds made the sweep folder"; exit 1; }
  "$report" --sweep_dir="$seeded/run" > /dev/null && [ -s "$seeded/run/full/seed3/report.html" ] ||
    { echo "FAIL: report --sweep_dir over seed folders"; exit 1; }
  # Evaluation runs one per seed (here the variants' own), pooled by encoder.
  "$report" --seed_runs="$seeded/run/full/seed3,$seeded/run/full/seed4" --seed_labels=3,4 --out_dir="$seeded/pooled" \
    > "$seeded/pooled.log" && grep -q "over 2 seeds: 3, 4" "$seeded/pooled/seeds.md" && [ -s "$seeded/pooled/seeds.html" ] ||
    { cat "$seeded/pooled.log"; echo "FAIL: report --seed_runs"; exit 1; }
fi
echo "ok ($part)"
