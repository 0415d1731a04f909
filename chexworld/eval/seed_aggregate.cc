#include "chexworld/eval/seed_aggregate.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "chexworld/eval/metrics.h"

namespace chexworld {
namespace {

std::string Json(double v) { return std::isnan(v) ? "null" : absl::StrFormat("%.6g", v); }

double MeanAuroc(const TestScores& t, const std::vector<double>& scores, const std::vector<int64_t>* idx) {
  return Classify(scores, t.labels, t.rows(), t.classes(), t.multiclass, idx).mean_auroc;
}

double Percentile(std::vector<double> v, double q) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const double pos = q * (v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos)), hi = std::min(v.size() - 1, lo + 1);
  return v[lo] + (pos - lo) * (v[hi] - v[lo]);
}

struct Cell {
  std::vector<double> per_seed;  // full test set
  double mean = 0, sd = 0;
  double mean_low = 0, mean_high = 0;                      // the mean's two-level interval
  double delta = 0, low = 0, high = 0, p_not_better = 0;  // vs the first method
};

absl::Status CheckRuns(const std::vector<SeedMethod>& methods, const std::vector<std::string>& seeds) {
  if (methods.empty() || seeds.empty()) return absl::InvalidArgumentError("no methods or no seeds to aggregate");
  const TestScores& ref = *methods[0].runs[0];
  for (const auto& m : methods) {
    if (m.runs.size() != seeds.size()) {
      return absl::InvalidArgumentError(absl::StrCat("method '", m.name, "' has ", m.runs.size(), " runs for ",
                                                     seeds.size(), " seeds"));
    }
    for (size_t s = 0; s < seeds.size(); ++s) {
      const TestScores& t = *m.runs[s];
      if (t.ids != ref.ids || t.class_names != ref.class_names) {
        return absl::InvalidArgumentError(absl::StrCat("method '", m.name, "', seed ", seeds[s],
                                                       ": its test images or classes differ from the first run's"));
      }
      if (!t.scores.count({m.encoder, "none"})) {
        return absl::InvalidArgumentError(absl::StrCat("method '", m.name, "', seed ", seeds[s], ": no encoder '",
                                                       m.encoder, "' in its scores"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SeedAggregate> AggregateSeeds(const std::string& title, const std::vector<SeedMethod>& methods,
                                             const std::vector<std::string>& seeds, int resamples,
                                             uint64_t bootstrap_seed) {
  if (absl::Status s = CheckRuns(methods, seeds); !s.ok()) return s;
  const TestScores& ref = *methods[0].runs[0];
  std::vector<std::string> conditions;
  for (const auto& c : ref.conditions) {
    bool everywhere = true;
    for (const auto& m : methods)
      for (const auto* r : m.runs) everywhere = everywhere && r->scores.count({m.encoder, c});
    if (everywhere) conditions.push_back(c);
  }
  const size_t nm = methods.size(), ns = seeds.size();
  const int64_t nt = ref.rows();
  std::mt19937_64 rng(bootstrap_seed);
  std::uniform_int_distribution<size_t> pick_seed(0, ns - 1);
  std::uniform_int_distribution<int64_t> pick_row(0, nt - 1);
  SeedAggregate out;
  std::string header = "| condition |", rule = "|---|";
  for (const auto& m : methods) absl::StrAppend(&header, " ", m.name, " mean ± sd |"), rule += "---|";
  for (size_t m = 1; m < nm; ++m) {
    absl::StrAppend(&header, " ", methods[m].name, " − ", methods[0].name, ": Δ [95% CI], P(not better) |");
    rule += "---|";
  }
  const bool one_run = ns == 1 && seeds[0].empty();  // a sweep without seeds
  out.markdown = absl::StrCat("#### ", title,
                              one_run ? std::string(" (mean AUROC; one run each: intervals over test images only)")
                                      : absl::StrCat(" (mean AUROC over ", ns, " seeds: ", absl::StrJoin(seeds, ", "), ")"),
                              "\n\n", header, "\n", rule, "\n");
  std::vector<std::string> json_rows;
  for (const auto& cond : conditions) {
    std::vector<Cell> cells(nm);
    for (size_t m = 0; m < nm; ++m) {
      for (size_t s = 0; s < ns; ++s) {
        const TestScores& t = *methods[m].runs[s];
        cells[m].per_seed.push_back(MeanAuroc(t, t.scores.at({methods[m].encoder, cond}), nullptr));
      }
      double sum = 0, sq = 0;
      for (double v : cells[m].per_seed) sum += v;
      cells[m].mean = sum / ns;
      for (double v : cells[m].per_seed) sq += (v - cells[m].mean) * (v - cells[m].mean);
      cells[m].sd = ns > 1 ? std::sqrt(sq / (ns - 1)) : 0.0;
      cells[m].delta = cells[m].mean - (m == 0 ? cells[m].mean : cells[0].mean);
    }
    std::vector<std::vector<double>> deltas(nm), means(nm);
    std::vector<int64_t> idx(nt);
    std::vector<size_t> drawn(ns);
    for (int r = 0; r < resamples; ++r) {
      for (auto& s : drawn) s = pick_seed(rng);
      for (auto& i : idx) i = pick_row(rng);
      std::vector<double> value(nm, 0.0);
      for (size_t m = 0; m < nm; ++m) {
        std::vector<double> cache(ns, std::nan(""));
        for (size_t s : drawn) {
          if (std::isnan(cache[s])) {
            const TestScores& t = *methods[m].runs[s];
            cache[s] = MeanAuroc(t, t.scores.at({methods[m].encoder, cond}), &idx);
          }
          value[m] += cache[s] / ns;
        }
      }
      for (size_t m = 0; m < nm; ++m) means[m].push_back(value[m]);
      for (size_t m = 1; m < nm; ++m) deltas[m].push_back(value[m] - value[0]);
    }
    std::string row = absl::StrCat("| ", cond, " |");
    for (const auto& c : cells) absl::StrAppend(&row, absl::StrFormat(" %.3f ± %.3f |", c.mean, c.sd));
    std::vector<std::string> json_methods;
    for (size_t m = 0; m < nm; ++m) {
      Cell& c = cells[m];
      c.mean_low = Percentile(means[m], 0.025);
      c.mean_high = Percentile(means[m], 0.975);
      if (m > 0) {
        c.low = Percentile(deltas[m], 0.025);
        c.high = Percentile(deltas[m], 0.975);
        c.p_not_better = static_cast<double>(std::count_if(deltas[m].begin(), deltas[m].end(),
                                                           [](double d) { return d <= 0; })) / resamples;
        absl::StrAppend(&row, absl::StrFormat(" %+.3f [%+.3f, %+.3f], %.3f |", c.delta, c.low, c.high, c.p_not_better));
      }
      std::vector<std::string> per_seed;
      for (double v : c.per_seed) per_seed.push_back(Json(v));
      json_methods.push_back(absl::StrCat(
          "{\"name\": \"", methods[m].name, "\", \"encoder\": \"", methods[m].encoder, "\", \"per_seed\": [",
          absl::StrJoin(per_seed, ", "), "], \"mean\": ", Json(c.mean), ", \"sd\": ", Json(c.sd), ", \"mean_low\": ",
          Json(c.mean_low), ", \"mean_high\": ", Json(c.mean_high),
          m == 0 ? std::string()
                 : absl::StrCat(", \"vs_first\": {\"delta\": ", Json(c.delta), ", \"low\": ", Json(c.low),
                                ", \"high\": ", Json(c.high), ", \"p_not_better\": ", Json(c.p_not_better), "}"),
          "}"));
    }
    absl::StrAppend(&out.markdown, row, "\n");
    json_rows.push_back(absl::StrCat("{\"condition\": \"", cond, "\", \"methods\": [", absl::StrJoin(json_methods, ", "), "]}"));
  }
  absl::StrAppend(&out.markdown, "\nΔ: mean over seeds of the paired AUROC difference; its interval is a two-level ",
                  "bootstrap (", resamples, " replicates) drawing seeds and test images with replacement, so it covers ",
                  "test-set sampling and seed variation", ns <= 3 ? absl::StrCat(" (with ", ns, " seeds the seed level is coarse)") : "",
                  "; sd: across seeds on the full test set.\n");
  out.json = absl::StrCat("{\"title\": \"", title, "\", \"seeds\": [\"", absl::StrJoin(seeds, "\", \""),
                          "\"], \"resamples\": ", resamples, ", \"conditions\": [\n  ", absl::StrJoin(json_rows, ",\n  "),
                          "\n]}\n");
  return out;
}

}  // namespace chexworld
