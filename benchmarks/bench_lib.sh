# Helpers shared by the benchmark scripts (source this file).

# Median of the numbers on standard input, one per line.
median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

# Steady-state images/s of a run from its metrics.csv: the images of the steps
# after the first 3 over the wall time since (elapsed_s column).
#   steady_rate METRICS_CSV GLOBAL_BATCH
steady_rate() {
  awk -F, -v B="$2" -v W=3 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == "elapsed_s") c = i; next}
    {t[$3] = $c; last = $3} END {printf "%.3f\n", (last - W) * B / (t[last] - t[W])}' "$1"
}
