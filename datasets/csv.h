// A small RFC 4180 CSV reader (quoted fields, embedded commas, quotes and
// newlines, CRLF), returning rows with their 1-based line numbers for errors.
#ifndef DATASETS_CSV_H_
#define DATASETS_CSV_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace chexworld {

struct CsvTable {
  std::string path;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int> lines;  // line of each row
  // Column index by name; NotFound listing the columns.
  absl::StatusOr<int> Column(const std::string& name) const;
  bool HasColumn(const std::string& name) const;
};

absl::StatusOr<CsvTable> ParseCsv(const std::string& text, const std::string& path);
// Reads plain or gzip-compressed (.gz) files.
absl::StatusOr<CsvTable> ReadCsv(const std::string& path);

}  // namespace chexworld

#endif  // DATASETS_CSV_H_
