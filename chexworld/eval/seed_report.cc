#include "chexworld/eval/seed_report.h"

#include <dirent.h>

#include <algorithm>
#include <map>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "chexworld/core/paths.h"
#include "chexworld/core/status_macros.h"
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_format.h"
#include "chexworld/eval/report_files.h"
#include "chexworld/eval/run_report.h"
#include "chexworld/eval/seed_aggregate.h"
#include "chexworld/eval/test_scores.h"

namespace chexworld {
namespace {

constexpr char kSuffix[] = "_scores.csv";

// Report names (eval/<report>_scores.csv) in a run folder, sorted.
std::vector<std::string> ScoreReports(const std::string& run_dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir((run_dir + "/eval").c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (absl::EndsWith(n, kSuffix)) out.push_back(n.substr(0, n.size() - (sizeof(kSuffix) - 1)));
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Every run's scores of one report, loaded once.
class ScoreCache {
 public:
  absl::StatusOr<const TestScores*> Get(const std::string& run_dir, const std::string& report) {
    const std::string path = absl::StrCat(run_dir, "/eval/", report, kSuffix);
    auto it = cache_.find(path);
    if (it != cache_.end()) return it->second.get();
    ASSIGN_OR_RETURN(TestScores t, ReadTestScores(path));
    return (cache_[path] = std::make_unique<TestScores>(std::move(t))).get();
  }

 private:
  std::map<std::string, std::unique_ptr<TestScores>> cache_;
};

// "0.812 ± 0.010 [0.790, 0.833]" of the first method on the unshifted test
// set, from an aggregate's JSON.
std::string MeanCell(const std::string& json) {
  google::protobuf::Struct s;
  if (!google::protobuf::util::JsonStringToMessage(json, &s).ok()) return "?";
  for (const auto& c : s.fields().at("conditions").list_value().values()) {
    const auto& cs = c.struct_value();
    if (cs.fields().at("condition").string_value() != "none") continue;
    const auto& m = cs.fields().at("methods").list_value().values(0).struct_value();
    return absl::StrFormat("%.3f ± %.3f [%.3f, %.3f]", JsonNumber(m, "mean"), JsonNumber(m, "sd"),
                           JsonNumber(m, "mean_low"), JsonNumber(m, "mean_high"));
  }
  return "?";
}

absl::Status WriteAll(const std::string& dir, const std::string& title, const std::string& md, const std::string& json) {
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/seeds.md", md));
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/seeds.json", json));
  return WriteFileAtomically(dir + "/seeds.html", MarkdownToHtml(md, title, dir));
}

}  // namespace

std::string SeedRunDir(const std::string& sweep_dir, const std::string& variant, const std::string& seed) {
  return seed.empty() ? absl::StrCat(sweep_dir, "/", variant) : absl::StrCat(sweep_dir, "/", variant, "/seed", seed);
}

absl::StatusOr<std::string> WriteSweepSeedReport(const std::string& sweep_dir, const std::vector<std::string>& variants,
                                                 const std::vector<std::string>& seeds) {
  if (variants.empty() || seeds.empty()) return std::string();
  ScoreCache cache;
  std::string md = seeds.size() == 1 && seeds[0].empty()
                       ? absl::StrCat("# Every variant against ", variants[0], "\n\n")
                       : absl::StrCat("# Sweep over ", seeds.size(), " seeds: every variant against ", variants[0], "\n\n");
  std::vector<std::string> json, same;
  bool any = false;
  for (const auto& report : ScoreReports(SeedRunDir(sweep_dir, variants[0], seeds[0]))) {
    ASSIGN_OR_RETURN(const TestScores* first, cache.Get(SeedRunDir(sweep_dir, variants[0], seeds[0]), report));
    for (const auto& encoder : first->encoders) {
      std::vector<SeedMethod> methods;
      bool depends = variants.size() < 2;
      for (const auto& v : variants) {
        SeedMethod m{v, encoder, {}};
        for (size_t k = 0; k < seeds.size(); ++k) {
          ASSIGN_OR_RETURN(const TestScores* t, cache.Get(SeedRunDir(sweep_dir, v, seeds[k]), report));
          m.runs.push_back(t);
          const TestScores* base = methods.empty() ? t : methods[0].runs[k];
          auto mine = t->scores.find({encoder, "none"}), theirs = base->scores.find({encoder, "none"});
          depends = depends || mine == t->scores.end() || theirs == base->scores.end() ||
                    mine->second != theirs->second;
        }
        methods.push_back(std::move(m));
      }
      if (!depends) {
        // The same predictions everywhere: one line, no comparison with itself.
        ASSIGN_OR_RETURN(SeedAggregate a, AggregateSeeds(absl::StrCat(report, ", encoder ", encoder),
                                                         {methods[0]}, seeds));
        same.push_back(absl::StrCat("- ", report, ", encoder `", encoder, "`: ", MeanCell(a.json)));
        json.push_back(a.json);
        continue;
      }
      ASSIGN_OR_RETURN(SeedAggregate a, AggregateSeeds(absl::StrCat(report, ", encoder ", encoder), methods, seeds));
      absl::StrAppend(&md, a.markdown, "\n");
      json.push_back(a.json);
      any = true;
    }
  }
  if (!same.empty()) {
    absl::StrAppend(&md, "Encoders that do not depend on the variant (the same test predictions in every variant",
                    seeds.size() > 1 ? " at each seed" : "", "; mean AUROC on the unshifted test set):\n\n",
                    absl::StrJoin(same, "\n"), "\n");
    any = true;
  }
  if (!any) return std::string();
  RETURN_IF_ERROR(WriteAll(sweep_dir, "chexworld sweep seeds " + sweep_dir, md, absl::StrCat("[\n", absl::StrJoin(json, ",\n"), "]\n")));
  return md;
}

absl::StatusOr<std::string> WriteSeedRunsReport(const std::vector<std::string>& run_dirs,
                                                const std::vector<std::string>& seed_labels, const std::string& out_dir) {
  if (run_dirs.size() != seed_labels.size() || run_dirs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(run_dirs.size(), " run folders for ", seed_labels.size(), " seed labels"));
  }
  ScoreCache cache;
  std::string md = absl::StrCat("# ", run_dirs.size(), " seeds: every encoder against the first\n\nRuns (seed: folder): ");
  for (size_t s = 0; s < run_dirs.size(); ++s) absl::StrAppend(&md, s ? ", " : "", seed_labels[s], ": `", run_dirs[s], "`");
  absl::StrAppend(&md, "\n\n");
  std::vector<std::string> json;
  const std::vector<std::string> reports = ScoreReports(run_dirs[0]);
  if (reports.empty()) return absl::NotFoundError(absl::StrCat(run_dirs[0], "/eval has no *", kSuffix));
  for (const auto& report : reports) {
    ASSIGN_OR_RETURN(const TestScores* first, cache.Get(run_dirs[0], report));
    std::vector<SeedMethod> methods;
    for (const auto& encoder : first->encoders) {
      SeedMethod m{encoder, encoder, {}};
      for (const auto& dir : run_dirs) {
        ASSIGN_OR_RETURN(const TestScores* t, cache.Get(dir, report));
        m.runs.push_back(t);
      }
      methods.push_back(std::move(m));
    }
    ASSIGN_OR_RETURN(SeedAggregate a, AggregateSeeds(report, methods, seed_labels));
    absl::StrAppend(&md, a.markdown, "\n");
    json.push_back(a.json);
  }
  RETURN_IF_ERROR(MakeDirectories(out_dir));
  RETURN_IF_ERROR(WriteAll(out_dir, "chexworld seeds " + out_dir, md, absl::StrCat("[\n", absl::StrJoin(json, ",\n"), "]\n")));
  return md;
}

}  // namespace chexworld
