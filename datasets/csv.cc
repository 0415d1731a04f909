#include "datasets/csv.h"

#include <zlib.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "chexworld/core/paths.h"

namespace chexworld {

absl::StatusOr<int> CsvTable::Column(const std::string& name) const {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int>(i);
  }
  return absl::NotFoundError(absl::StrCat(path, ": no column '", name, "'; columns: ", absl::StrJoin(header, ", ")));
}

bool CsvTable::HasColumn(const std::string& name) const { return Column(name).ok(); }

absl::StatusOr<CsvTable> ParseCsv(const std::string& text, const std::string& path) {
  CsvTable t;
  t.path = path;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, field_started = false;
  int line = 1, row_line = 1;
  auto end_field = [&] {
    row.push_back(field);
    field.clear();
    field_started = false;
  };
  auto end_row = [&] {
    end_field();
    if (!(row.size() == 1 && row[0].empty())) {
      if (t.header.empty()) {
        t.header = row;
      } else {
        t.rows.push_back(row);
        t.lines.push_back(row_line);
      }
    }
    row.clear();
  };
  size_t i = 0;
  if (text.size() >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) i = 3;  // UTF-8 BOM
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"' && !field_started && field.empty()) {
      quoted = true;
      field_started = true;
    } else if (c == ',') {
      end_field();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_row();
      row_line = ++line;
    } else {
      field += c;
      field_started = true;
    }
  }
  if (quoted) return absl::DataLossError(absl::StrCat(path, ":", row_line, ": unterminated quoted field"));
  if (!field.empty() || !row.empty()) end_row();
  if (t.header.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": empty CSV"));
  for (size_t r = 0; r < t.rows.size(); ++r) {
    if (t.rows[r].size() != t.header.size()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", t.lines[r], ": ", t.rows[r].size(),
                                                     " fields, the header has ", t.header.size()));
    }
  }
  return t;
}

absl::StatusOr<CsvTable> ReadCsv(const std::string& path) {
  if (path.size() > 3 && path.substr(path.size() - 3) == ".gz") {
    gzFile f = gzopen(path.c_str(), "rb");
    if (f == nullptr) return absl::NotFoundError(absl::StrCat("cannot open ", path));
    std::string text;
    char buf[1 << 16];
    int n;
    while ((n = gzread(f, buf, sizeof(buf))) > 0) text.append(buf, n);
    const bool bad = n < 0;
    gzclose(f);
    if (bad) return absl::DataLossError(absl::StrCat(path, ": corrupt gzip data"));
    return ParseCsv(text, path);
  }
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseCsv(*text, path);
}

}  // namespace chexworld
