// What the run and sweep reports read and write besides their markdown:
// folder listings, "key: value" files, the evaluators' JSON, figures as PDF.
// Torch-free.
#ifndef CHEXWORLD_EVAL_REPORT_FILES_H_
#define CHEXWORLD_EVAL_REPORT_FILES_H_

#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/struct.pb.h>

#include "absl/status/statusor.h"

namespace chexworld {

// The names in `dir` (no . and ..), sorted; empty when it cannot be read.
std::vector<std::string> ListDir(const std::string& dir);

// "key: value" lines (summary.txt, eval_summary.txt), in file order.
std::vector<std::pair<std::string, std::string>> KeyValues(const std::string& text);

// A JSON file (an evaluator's report) as a protobuf Struct.
absl::StatusOr<google::protobuf::Struct> ReadJson(const std::string& path);
// s[key], or null.
const google::protobuf::Value* JsonField(const google::protobuf::Struct& s, const std::string& key);
// A number field, NaN when absent.
double JsonNumber(const google::protobuf::Struct& s, const std::string& key);

// An evaluator report's value with its interval ({"value", "low", "high"}).
struct Interval {
  double value, low, high;
};
Interval JsonInterval(const google::protobuf::Value* v);
std::string IntervalCell(const Interval& i);  // "0.812 [0.774, 0.848]" or "—"

// Every figure (*.svg) under `dir`, recursively, also as PDF beside it
// (rsvg-convert -f pdf, from Debian's librsvg2-bin). Returns how many; fails
// naming the figure and rsvg-convert's message, or when rsvg-convert is missing.
absl::StatusOr<int> WritePdfFigures(const std::string& dir);

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_REPORT_FILES_H_
