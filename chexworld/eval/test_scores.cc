#include "chexworld/eval/test_scores.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "chexworld/core/paths.h"
#include "chexworld/core/status_macros.h"

namespace chexworld {
namespace {

constexpr char kMagic[] = "# chexworld test scores v1, multiclass=";

// Names go into a CSV header: no commas, pipes or line breaks.
std::string Clean(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    if (c == ',' || c == '|' || c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

std::string Number(double v) { return std::isnan(v) ? "nan" : absl::StrFormat("%.9g", v); }

}  // namespace

std::string TestScoresToCsv(const TestScores& t) {
  const int64_t n = t.rows(), c = t.classes();
  std::vector<std::string> header = {"test_id"};
  for (const auto& k : t.class_names) header.push_back("label:" + Clean(k));
  std::vector<const std::vector<double>*> columns;
  for (const auto& e : t.encoders) {
    for (const auto& cond : t.conditions) {
      auto it = t.scores.find({e, cond});
      if (it == t.scores.end()) continue;
      for (const auto& k : t.class_names) header.push_back(absl::StrCat(Clean(e), "|", Clean(cond), "|", Clean(k)));
      columns.push_back(&it->second);
    }
  }
  std::string out = absl::StrCat(kMagic, t.multiclass ? 1 : 0, "\n", absl::StrJoin(header, ","), "\n");
  for (int64_t i = 0; i < n; ++i) {
    absl::StrAppend(&out, Clean(t.ids[i]));
    for (int64_t k = 0; k < c; ++k) absl::StrAppend(&out, ",", Number(t.labels[i * c + k]));
    for (const auto* col : columns)
      for (int64_t k = 0; k < c; ++k) absl::StrAppend(&out, ",", Number((*col)[i * c + k]));
    absl::StrAppend(&out, "\n");
  }
  return out;
}

absl::StatusOr<TestScores> ReadTestScores(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  auto bad = [&](size_t line, const std::string& why) {
    return absl::DataLossError(absl::StrCat(path, ":", line + 1, ": ", why));
  };
  if (lines.size() < 2 || !absl::StartsWith(lines[0], kMagic)) return bad(0, "not a chexworld test scores file");
  TestScores t;
  t.multiclass = absl::EndsWith(lines[0], "1");
  std::vector<std::string> header = absl::StrSplit(lines[1], ',');
  struct Column {
    std::string encoder, condition;
    int64_t k;
  };
  std::vector<Column> columns;
  for (size_t j = 1; j < header.size(); ++j) {
    if (absl::StartsWith(header[j], "label:")) {
      t.class_names.push_back(header[j].substr(6));
      continue;
    }
    std::vector<std::string> parts = absl::StrSplit(header[j], '|');
    if (parts.size() != 3) return bad(1, absl::StrCat("column ", j + 1, " '", header[j], "' is not encoder|condition|class"));
    int64_t k = -1;
    for (size_t c = 0; c < t.class_names.size(); ++c)
      if (t.class_names[c] == parts[2]) k = static_cast<int64_t>(c);
    if (k < 0) return bad(1, absl::StrCat("column ", j + 1, " names class '", parts[2], "' with no label column"));
    if (std::find(t.encoders.begin(), t.encoders.end(), parts[0]) == t.encoders.end()) t.encoders.push_back(parts[0]);
    if (std::find(t.conditions.begin(), t.conditions.end(), parts[1]) == t.conditions.end()) t.conditions.push_back(parts[1]);
    columns.push_back({parts[0], parts[1], k});
  }
  const int64_t c = t.classes(), n = static_cast<int64_t>(lines.size()) - 2;
  for (const auto& col : columns) t.scores[{col.encoder, col.condition}].assign(n * c, std::nan(""));
  t.labels.assign(n * c, std::nan(""));
  for (int64_t i = 0; i < n; ++i) {
    std::vector<std::string> cells = absl::StrSplit(lines[i + 2], ',');
    if (cells.size() != header.size()) {
      return bad(i + 2, absl::StrCat(cells.size(), " cells, the header has ", header.size()));
    }
    t.ids.push_back(cells[0]);
    auto number = [&](const std::string& s, double* v) { return s == "nan" ? (*v = std::nan(""), true) : absl::SimpleAtod(s, v); };
    for (int64_t k = 0; k < c; ++k) {
      if (!number(cells[1 + k], &t.labels[i * c + k])) return bad(i + 2, absl::StrCat("label '", cells[1 + k], "' is not a number"));
    }
    for (size_t j = 0; j < columns.size(); ++j) {
      double v = 0;
      if (!number(cells[1 + c + j], &v)) return bad(i + 2, absl::StrCat("score '", cells[1 + c + j], "' is not a number"));
      t.scores[{columns[j].encoder, columns[j].condition}][i * c + columns[j].k] = v;
    }
  }
  return t;
}

}  // namespace chexworld
