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

absl::Status WriteAll(const std::string& dir, const std::string& title, const std::string& md, const std::string& json) {
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/seeds.md", md));
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/seeds.json", json));
  return WriteFileAtomically(dir + "/seeds.html", MarkdownToHtml(md, title, dir));
}

}  // namespace

std::string SeedRunDir(const std::string& sweep_dir, const std::string& variant, uint64_t seed) {
  return absl::StrCat(sweep_dir, "/", variant, "/seed", seed);
}

absl::StatusOr<std::string> WriteSweepSeedReport(const std::string& sweep_dir, const std::vector<std::string>& variants,
                                                 const std::vector<uint64_t>& seeds) {
  if (variants.empty() || seeds.empty()) return std::string();
  std::vector<std::string> labels;
  for (uint64_t s : seeds) labels.push_back(absl::StrCat(s));
  ScoreCache cache;
  std::string md = absl::StrCat("# Sweep over ", seeds.size(), " seeds: every variant against ", variants[0], "\n\n");
  std::vector<std::string> json;
  bool any = false;
  for (const auto& report : ScoreReports(SeedRunDir(sweep_dir, variants[0], seeds[0]))) {
    ASSIGN_OR_RETURN(const TestScores* first, cache.Get(SeedRunDir(sweep_dir, variants[0], seeds[0]), report));
    for (const auto& encoder : first->encoders) {
      std::vector<SeedMethod> methods;
      for (const auto& v : variants) {
        SeedMethod m{v, encoder, {}};
        for (uint64_t s : seeds) {
          ASSIGN_OR_RETURN(const TestScores* t, cache.Get(SeedRunDir(sweep_dir, v, s), report));
          m.runs.push_back(t);
        }
        methods.push_back(std::move(m));
      }
      ASSIGN_OR_RETURN(SeedAggregate a, AggregateSeeds(absl::StrCat(report, ", encoder ", encoder), methods, labels));
      absl::StrAppend(&md, a.markdown, "\n");
      json.push_back(a.json);
      any = true;
    }
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
