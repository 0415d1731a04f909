#!/usr/bin/env bash
# Lists the parts of tests that did not run in the last `bazel test`, from the
# test logs, one line each: "SKIPPED //pkg:target: why". A test that skips
# part of its work says so in its log (tests/test_lib.sh skip_part, or
# GTEST_SKIP); this makes the skip visible next to Bazel's PASSED lines.
set -uo pipefail
cd "$(dirname "$0")/.."
logs="$(bazel info bazel-testlogs 2> /dev/null)" || exit 0
[ -d "$logs" ] || exit 0
find -L "$logs" -name test.log 2> /dev/null | sort | while read -r log; do
  rel="${log#"$logs"/}"
  rel="${rel%/test.log}"
  target="//${rel%/*}:${rel##*/}"
  # Shell tests: "SKIPPED: why".
  grep -h '^SKIPPED: ' "$log" | sed "s|^SKIPPED: |SKIPPED $target: |"
  # gtest: "file:line: Skipped" then the message, then "[  SKIPPED ] Suite.Test".
  awk -v t="$target" '/: Skipped$/ { getline why; next_why = why }
                      /^\[  SKIPPED \] [A-Za-z]/ && !/tests?, listed below/ { print "SKIPPED " t ": " $4 ": " next_why }' "$log"
done | sort -u
