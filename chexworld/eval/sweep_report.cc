#include "chexworld/eval/sweep_report.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "chexworld/core/paths.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/eval/figure.h"
#include "chexworld/eval/report_files.h"
#include "chexworld/eval/run_report.h"
#include "chexworld/eval/seed_report.h"

namespace chexworld {
namespace {

using Key = std::pair<std::string, std::string>;  // (evaluation report, encoder)

struct RunData {
  SweepRunInfo info;
  std::map<Key, Interval> primary;           // mean AUROC or mean Dice
  std::set<std::string> dice;                // reports measured in Dice
  std::map<std::string, std::string> values;  // summary.txt, eval_summary.txt (as eval/<key>)
  std::vector<double> iteration, loss;        // metrics.csv
};

// seeds.json's figures of a variant for one (report, encoder).
struct Pooled {
  double mean = std::nan(""), sd = std::nan(""), low = std::nan(""), high = std::nan("");
  double delta = std::nan(""), delta_low = std::nan(""), delta_high = std::nan("");
};

RunData LoadRun(const std::string& sweep_dir, const SweepRunInfo& info) {
  RunData r;
  r.info = info;
  const std::string dir = SeedRunDir(sweep_dir, info.variant, info.seed);
  for (const auto& f : ListDir(dir + "/eval")) {
    if (!absl::EndsWith(f, ".json")) continue;
    auto json = ReadJson(dir + "/eval/" + f);
    if (!json.ok()) continue;
    const auto* encoders = JsonField(*json, "encoders");
    if (encoders == nullptr || !encoders->has_list_value()) continue;
    const std::string report = f.substr(0, f.size() - 5);
    for (const auto& e : encoders->list_value().values()) {
      if (!e.has_struct_value()) continue;
      const auto& es = e.struct_value();
      const auto* name = JsonField(es, "name");
      const bool dice = JsonField(es, "mean_dice") != nullptr;
      if (dice) r.dice.insert(report);
      r.primary[{report, name != nullptr ? name->string_value() : "?"}] =
          JsonInterval(JsonField(es, dice ? "mean_dice" : "mean_auroc"));
    }
  }
  for (const char* file : {"summary.txt", "eval_summary.txt"}) {
    if (auto text = ReadFile(dir + "/" + file); text.ok()) {
      for (const auto& [k, v] : KeyValues(*text)) r.values[std::string(file) == "summary.txt" ? k : "eval/" + k] = v;
    }
  }
  if (auto csv = ReadFile(dir + "/metrics.csv"); csv.ok()) {
    std::vector<std::string> lines = absl::StrSplit(*csv, '\n', absl::SkipEmpty());
    std::vector<std::string> header = lines.empty() ? std::vector<std::string>() : absl::StrSplit(lines[0], ',');
    const auto col = std::find(header.begin(), header.end(), "loss") - header.begin();
    for (size_t i = 1; i < lines.size() && col < static_cast<long>(header.size()); ++i) {
      std::vector<std::string> v = absl::StrSplit(lines[i], ',');
      double x = 0, y = 0;
      if (v.size() == header.size() && absl::SimpleAtod(v[0], &x) && absl::SimpleAtod(v[col], &y)) {
        r.iteration.push_back(x), r.loss.push_back(y);
      }
    }
  }
  return r;
}

// (report, encoder) -> variant -> pooled figures, from seeds.json (a list of
// WriteSweepSeedReport's aggregates).
std::map<Key, std::map<std::string, Pooled>> ReadPooled(const std::string& sweep_dir) {
  std::map<Key, std::map<std::string, Pooled>> out;
  auto text = ReadFile(sweep_dir + "/seeds.json");
  google::protobuf::ListValue list;
  if (!text.ok() || !google::protobuf::util::JsonStringToMessage(*text, &list).ok()) return out;
  for (const auto& agg : list.values()) {
    if (!agg.has_struct_value()) continue;
    const auto& as = agg.struct_value();
    const auto* title = JsonField(as, "title");
    const auto* conditions = JsonField(as, "conditions");
    if (title == nullptr || conditions == nullptr) continue;
    const size_t cut = title->string_value().find(", encoder ");
    if (cut == std::string::npos) continue;
    const Key key{title->string_value().substr(0, cut), title->string_value().substr(cut + 10)};
    for (const auto& c : conditions->list_value().values()) {
      const auto& cs = c.struct_value();
      const auto* condition = JsonField(cs, "condition");
      const auto* methods = JsonField(cs, "methods");
      if (condition == nullptr || condition->string_value() != "none" || methods == nullptr) continue;
      for (const auto& m : methods->list_value().values()) {
        const auto& ms = m.struct_value();
        Pooled p;
        p.mean = JsonNumber(ms, "mean"), p.sd = JsonNumber(ms, "sd");
        p.low = JsonNumber(ms, "mean_low"), p.high = JsonNumber(ms, "mean_high");
        if (const auto* vs = JsonField(ms, "vs_first"); vs != nullptr && vs->has_struct_value()) {
          p.delta = JsonNumber(vs->struct_value(), "delta");
          p.delta_low = JsonNumber(vs->struct_value(), "low");
          p.delta_high = JsonNumber(vs->struct_value(), "high");
        }
        if (const auto* name = JsonField(ms, "name")) out[key][name->string_value()] = p;
      }
    }
  }
  return out;
}

struct Sweep {
  std::vector<std::string> variants;   // in sweep order
  std::vector<std::string> seeds;      // labels, "" without seeds
  std::vector<RunData> runs;
  std::vector<Key> own;                // (report, encoder) that depend on the variant
  std::vector<Key> shared;             // ... that do not
  std::map<Key, std::map<std::string, Pooled>> pooled;
  const RunData* Run(const std::string& v, const std::string& seed) const {
    for (const auto& r : runs)
      if (r.info.variant == v && r.info.seed == seed) return &r;
    return nullptr;
  }
};

Sweep Load(const std::string& sweep_dir, const std::vector<SweepRunInfo>& infos) {
  Sweep s;
  for (const auto& i : infos) {
    if (std::find(s.variants.begin(), s.variants.end(), i.variant) == s.variants.end()) s.variants.push_back(i.variant);
    if (std::find(s.seeds.begin(), s.seeds.end(), i.seed) == s.seeds.end()) s.seeds.push_back(i.seed);
    s.runs.push_back(LoadRun(sweep_dir, i));
  }
  if (s.runs.empty()) return s;
  s.pooled = ReadPooled(sweep_dir);
  for (const auto& [key, value] : s.runs[0].primary) {
    // The paired comparison (seeds.json) compares test predictions, not the
    // rounded metric: an encoder barely moved by a short run still depends on
    // the variant. Without it, compare the metric.
    if (auto p = s.pooled.find(key); p != s.pooled.end()) {
      (p->second.size() > 1 ? s.own : s.shared).push_back(key);
      continue;
    }
    bool depends = s.variants.size() < 2;
    for (const auto& seed : s.seeds) {
      const RunData* base = s.Run(s.variants[0], seed);
      for (const auto& v : s.variants) {
        const RunData* r = s.Run(v, seed);
        if (r == nullptr || base == nullptr || !r->primary.count(key) || !base->primary.count(key)) continue;
        depends = depends || r->primary.at(key).value != base->primary.at(key).value;
      }
    }
    (depends ? s.own : s.shared).push_back(key);
  }
  return s;
}

// Mean and sd over the variant's seeds of a primary metric.
std::pair<double, double> MeanSd(const Sweep& s, const std::string& variant, const Key& key) {
  std::vector<double> xs;
  for (const auto& r : s.runs) {
    if (r.info.variant == variant && r.primary.count(key) && !std::isnan(r.primary.at(key).value)) {
      xs.push_back(r.primary.at(key).value);
    }
  }
  if (xs.empty()) return {std::nan(""), std::nan("")};
  double m = 0, q = 0;
  for (double x : xs) m += x / xs.size();
  for (double x : xs) q += (x - m) * (x - m);
  return {m, xs.size() > 1 ? std::sqrt(q / (xs.size() - 1)) : 0.0};
}

std::string Column(const Sweep& s, const Key& key) {
  size_t same_report = 0;
  for (const auto& k : s.own) same_report += k.first == key.first;
  return same_report > 1 ? absl::StrCat(key.first, " · ", key.second) : key.first;
}

std::string CompactTable(const Sweep& s) {
  const bool seeds = !(s.seeds.size() == 1 && s.seeds[0].empty());
  std::string md = absl::StrCat(
      "## Results\n\nPrimary metric of each variant's own encoder (mean AUROC; mean Dice for segmentation)",
      seeds ? absl::StrCat(", mean ± sd over ", s.seeds.size(), " seeds") : ", one run each",
      "; Δ against ", s.variants[0], " with its 95% interval (",
      seeds ? "two-level bootstrap over seeds and test images" : "bootstrap over test images", ").\n\n| variant |");
  std::string rule = "|---|";
  for (const auto& key : s.own) {
    absl::StrAppend(&md, " ", Column(s, key), " | Δ [95% CI] |");
    rule += "---|---|";
  }
  absl::StrAppend(&md, "\n", rule, "\n");
  for (const auto& v : s.variants) {
    absl::StrAppend(&md, "| ", v, " |");
    for (const auto& key : s.own) {
      const auto [m, sd] = MeanSd(s, v, key);
      absl::StrAppend(&md, std::isnan(m) ? std::string(" — |") : absl::StrFormat(" %.3f ± %.3f |", m, sd));
      const Pooled* p = s.pooled.count(key) && s.pooled.at(key).count(v) ? &s.pooled.at(key).at(v) : nullptr;
      if (v == s.variants[0]) {
        absl::StrAppend(&md, " (base) |");
      } else if (p != nullptr && !std::isnan(p->delta)) {
        absl::StrAppend(&md, absl::StrFormat(" %+.3f [%+.3f, %+.3f] |", p->delta, p->delta_low, p->delta_high));
      } else {
        const double base = MeanSd(s, s.variants[0], key).first;
        absl::StrAppend(&md, std::isnan(m) ? std::string(" — |")
                                           : absl::StrFormat(" %+.3f (no interval: no kept predictions) |", m - base));
      }
    }
    absl::StrAppend(&md, "\n");
  }
  if (!s.shared.empty()) {
    absl::StrAppend(&md, "\nEncoders that do not depend on the variant (the same result in every variant",
                    seeds ? " at each seed" : "", "), once:\n\n| evaluation | encoder | mean ± sd |\n|---|---|---|\n");
    for (const auto& key : s.shared) {
      const auto [m, sd] = MeanSd(s, s.variants[0], key);
      absl::StrAppend(&md, "| ", key.first, " | ", key.second, " | ", absl::StrFormat("%.3f ± %.3f", m, sd), " |\n");
    }
  }
  return md;
}

std::string PerformanceTable(const Sweep& s) {
  const std::vector<std::pair<const char*, const char*>> cols = {
      {"images_per_second", "images/s"},          {"achieved_tflops", "model TFLOP/s"},
      {"data_wait_fraction", "data wait"},        {"model_gflop_per_image", "GFLOP/image"},
      {"peak_cuda_allocated_bytes", "CUDA peak allocated (GiB)"}, {"peak_cuda_reserved_bytes", "CUDA peak reserved (GiB)"}};
  std::string md = "## Performance\n\nOf pretraining (summary.txt), mean ± sd over seeds; n/a: not a CUDA run.\n\n| variant |";
  std::string rule = "|---|";
  for (const auto& c : cols) absl::StrAppend(&md, " ", c.second, " |"), rule += "---|";
  absl::StrAppend(&md, "\n", rule, "\n");
  for (const auto& v : s.variants) {
    absl::StrAppend(&md, "| ", v, " |");
    for (const auto& [key, label] : cols) {
      std::vector<double> xs;
      bool na = false;
      for (const auto& r : s.runs) {
        if (r.info.variant != v || !r.values.count(key)) continue;
        double x = 0;
        if (absl::SimpleAtod(r.values.at(key), &x)) {
          xs.push_back(absl::StartsWith(key, "peak_cuda") ? x / 1073741824.0 : x);
        } else {
          na = true;
        }
      }
      if (xs.empty()) {
        absl::StrAppend(&md, na ? " n/a |" : " — |");
        continue;
      }
      double m = 0, q = 0;
      for (double x : xs) m += x / xs.size();
      for (double x : xs) q += (x - m) * (x - m);
      absl::StrAppend(&md, absl::StrFormat(" %.4g ± %.2g |", m, xs.size() > 1 ? std::sqrt(q / (xs.size() - 1)) : 0.0));
    }
    absl::StrAppend(&md, "\n");
  }
  return md;
}

std::string CsvCell(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// Every run's row: results.csv, and the last table of results.md.
std::string EveryRun(const std::string& sweep_dir, const Sweep& s) {
  std::vector<std::string> columns = {"variant", "seed"};
  for (const auto& r : s.runs)
    for (const auto& [k, v] : r.values)
      if (k != "checkpoint" && std::find(columns.begin(), columns.end(), k) == columns.end()) columns.push_back(k);
  columns.push_back("overrides");
  std::string md = absl::StrCat("## Every run\n\n| ", absl::StrJoin(columns, " | "), " |\n|");
  for (size_t c = 0; c < columns.size(); ++c) md += "---|";
  md += "\n";
  std::string csv = absl::StrCat(absl::StrJoin(columns, ","), "\n");
  for (const auto& r : s.runs) {
    std::vector<std::string> cells;
    for (const auto& c : columns) {
      cells.push_back(c == "variant" ? r.info.variant : c == "seed" ? r.info.seed : c == "overrides" ? r.info.overrides
                      : r.values.count(c) ? r.values.at(c) : "");
    }
    absl::StrAppend(&md, "| ", absl::StrJoin(cells, " | "), " |\n");
    for (auto& cell : cells) cell = CsvCell(cell);
    absl::StrAppend(&csv, absl::StrJoin(cells, ","), "\n");
  }
  WriteFileAtomically(sweep_dir + "/results.csv", csv).IgnoreError();
  return md;
}

std::string SweepFigure(const Sweep& s) {
  Figure f;
  f.title = "Sweep: every variant at a glance";
  f.columns = 2;
  f.panel_width = 340;
  f.panel_height = 240;
  f.caption = "Left: primary metric (mean over seeds; error bars: 95% intervals, two-level bootstrap over seeds and "
              "test images). Right: training loss, mean over seeds.";
  Axes& a = f.AddPanel("primary metric by evaluation", "evaluation", "mean AUROC (Dice: segmentation)");
  std::vector<std::string> reports;
  for (const auto& k : s.own)
    if (std::find(reports.begin(), reports.end(), k.first) == reports.end()) reports.push_back(k.first);
  for (const auto& k : s.shared)
    if (std::find(reports.begin(), reports.end(), k.first) == reports.end()) reports.push_back(k.first);
  a.categories = reports;
  auto add = [&](const std::string& label, const std::string& variant, const std::vector<Key>& keys, int color) {
    Series series{label};
    series.line = false;
    series.markers = true;
    series.color = color;
    for (size_t i = 0; i < reports.size(); ++i) {
      for (const auto& key : keys) {
        if (key.first != reports[i]) continue;
        const Pooled* p = s.pooled.count(key) && s.pooled.at(key).count(variant) ? &s.pooled.at(key).at(variant) : nullptr;
        const double m = MeanSd(s, variant, key).first;
        if (std::isnan(m)) continue;
        series.x.push_back(static_cast<double>(i));
        series.y.push_back(m);
        series.y_low.push_back(p != nullptr ? p->low : std::nan(""));
        series.y_high.push_back(p != nullptr ? p->high : std::nan(""));
        break;
      }
    }
    a.series.push_back(std::move(series));
  };
  for (size_t v = 0; v < s.variants.size(); ++v) add(s.variants[v], s.variants[v], s.own, static_cast<int>(v));
  std::set<std::string> shared_encoders;
  for (const auto& k : s.shared) shared_encoders.insert(k.second);
  for (const auto& e : shared_encoders) {
    std::vector<Key> keys;
    for (const auto& k : s.shared)
      if (k.second == e) keys.push_back(k);
    add(e + " (every variant)", s.variants[0], keys, 7);
  }
  Axes& l = f.AddPanel("training loss", "micro-batch", "loss");
  for (size_t v = 0; v < s.variants.size(); ++v) {
    std::map<double, std::pair<double, int>> sum;  // iteration -> (sum, count) over seeds
    for (const auto& r : s.runs) {
      if (r.info.variant != s.variants[v]) continue;
      for (size_t i = 0; i < r.iteration.size(); ++i) {
        sum[r.iteration[i]].first += r.loss[i];
        ++sum[r.iteration[i]].second;
      }
    }
    Series series{s.variants[v]};
    series.color = static_cast<int>(v);
    series.width = 1.4;
    for (const auto& [x, y] : sum) series.x.push_back(x), series.y.push_back(y.first / y.second);
    l.series.push_back(std::move(series));
  }
  return RenderSvg(f);
}

}  // namespace

std::vector<SweepRunInfo> ReadSweepRuns(const std::string& sweep_dir) {
  std::vector<SweepRunInfo> runs;
  if (auto csv = ReadFile(sweep_dir + "/results.csv"); csv.ok()) {
    std::vector<std::string> lines = absl::StrSplit(*csv, '\n', absl::SkipEmpty());
    if (!lines.empty()) {
      std::vector<std::string> header = absl::StrSplit(lines[0], ',');
      const auto at = [&](const char* name) { return std::find(header.begin(), header.end(), name) - header.begin(); };
      const long v = at("variant"), s = at("seed");
      for (size_t i = 1; i < lines.size(); ++i) {
        std::vector<std::string> cells = absl::StrSplit(lines[i], ',');
        if (v >= static_cast<long>(cells.size())) continue;
        runs.push_back({cells[v], s < static_cast<long>(cells.size()) ? cells[s] : "", ""});
      }
      return runs;
    }
  }
  for (const auto& d : ListDir(sweep_dir)) {
    if (PathExists(sweep_dir + "/" + d + "/config.textproto")) runs.push_back({d, "", ""});
  }
  return runs;
}

absl::Status WriteSweepResults(const std::string& sweep_dir, const std::string& header_md,
                               const std::vector<SweepRunInfo>& runs) {
  const Sweep s = Load(sweep_dir, runs);
  if (s.runs.empty()) return absl::InvalidArgumentError(absl::StrCat(sweep_dir, ": no runs"));
  const std::string md = absl::StrCat(header_md, CompactTable(s), "\n", PerformanceTable(s), "\n", EveryRun(sweep_dir, s));
  return WriteFileAtomically(sweep_dir + "/results.md", md);
}

absl::Status WriteSweepReport(const std::string& sweep_dir, const std::vector<SweepRunInfo>& runs) {
  const Sweep s = Load(sweep_dir, runs);
  std::string md = absl::StrCat("# Sweep report\n\nSweep folder: `", sweep_dir, "`\n\n");
  if (!s.runs.empty()) {
    RETURN_IF_ERROR(WriteFileAtomically(sweep_dir + "/sweep.svg", SweepFigure(s)));
    absl::StrAppend(&md, "![sweep](sweep.svg)\n\n");
  }
  if (auto results = ReadFile(sweep_dir + "/results.md"); results.ok()) {
    absl::StrAppend(&md, absl::StripPrefix(*results, "# "), "\n");
  }
  if (auto seeds = ReadFile(sweep_dir + "/seeds.md"); seeds.ok()) absl::StrAppend(&md, "\n", *seeds, "\n");
  absl::StrAppend(&md, "## Run reports\n\n");
  for (const auto& r : runs) {
    if (PathExists(SeedRunDir(sweep_dir, r.variant, r.seed) + "/report.html")) {
      absl::StrAppend(&md, "- `", r.name(), "/report.html`\n");
    }
  }
  RETURN_IF_ERROR(WriteFileAtomically(sweep_dir + "/report.md", md));
  return WriteFileAtomically(sweep_dir + "/report.html", MarkdownToHtml(md, "chexworld sweep " + sweep_dir, sweep_dir));
}

}  // namespace chexworld
