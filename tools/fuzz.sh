#!/usr/bin/env bash
# Builds the fuzz targets (clang, libFuzzer, ASan + UBSan) and runs each.
#
#   tools/fuzz.sh [SECONDS] [TARGET ...]      default 20 s each, all targets
#   FUZZ_JOBS=2 tools/fuzz.sh 600 pickle_fuzz  # two libFuzzer jobs at once
#
# Corpora grow in runs/fuzz/<target>/ (from the committed seeds and, when
# ../shared/data is present, real radiographs, DICOMs and shards). A crash
# leaves its input in runs/fuzz/crashes/<target>/; copy it to
# tests/fuzz/regressions/<target>/ with the fix. Prints one line per target:
# executions, coverage and whether it found anything; exits 1 on a finding.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"; shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(image_fuzz dicom_fuzz shard_fuzz pickle_fuzz config_fuzz labels_fuzz)
jobs="${FUZZ_JOBS:-1}"
command -v clang++ > /dev/null || { echo "clang++ missing: tools/install_deps.sh installs it"; exit 1; }
base="${CHEXWORLD_FUZZ_OUTPUT_BASE:-$HOME/.cache/chexworld-fuzz-output}"
bazel --output_base="$base" build --config=fuzz --symlink_prefix=/ $(printf '//tests/fuzz:%s ' "${targets[@]}")
bin="$(bazel --output_base="$base" info --config=fuzz bazel-bin 2>/dev/null)/tests/fuzz"
shared="$(cd .. && pwd)/shared/data"
export ASAN_OPTIONS="detect_leaks=1:detect_container_overflow=0:allocator_may_return_null=1:malloc_limit_mb=2048"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/tools/sanitizers/lsan.supp:print_suppressions=0"
found=0
for t in "${targets[@]}"; do
  corpus="runs/fuzz/$t"; crashes="runs/fuzz/crashes/$t"
  mkdir -p "$corpus" "$crashes"
  extra=()
  if [ -d "$shared" ]; then  # real files as extra seeds (read in place, never copied into the tree)
    case "$t" in
      image_fuzz) extra=("$shared/kermany4/train") ;;
      dicom_fuzz) extra=("$shared/dicom") ;;
      labels_fuzz) [ -f "$shared/nih1000_64px/labels.csv" ] && extra=("$shared/nih1000_64px") ;;
    esac
  fi
  log="runs/fuzz/$t.log"
  set +e
  parallel=()
  [ "$jobs" -gt 1 ] && parallel=(-jobs="$jobs" -workers="$jobs")  # -jobs=1 would hide the output in fuzz-0.log
  "$bin/$t" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=3072 "${parallel[@]}" \
    -artifact_prefix="$crashes/" -print_final_stats=1 "$corpus" "tests/fuzz/seeds/$t" "${extra[@]}" > "$log" 2>&1
  rc=$?
  set -e
  [ "$jobs" -gt 1 ] && cat fuzz-*.log >> "$log" 2> /dev/null && rm -f fuzz-*.log
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s += $2} END {print s + 0}')
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  corpus_n=$(ls "$corpus" | wc -l)
  if [ "$rc" -ne 0 ] || ls "$crashes" | grep -q .; then
    found=1
    echo "$t: FINDING after $execs executions (see $log, inputs in $crashes)"
    grep -E "ERROR: |SUMMARY: |runtime error" "$log" | head -3
  else
    echo "$t: ${execs} executions in ${seconds}s, coverage ${cov:-?} edges / ${ft:-?} features, corpus ${corpus_n}, no findings"
  fi
done
exit "$found"
