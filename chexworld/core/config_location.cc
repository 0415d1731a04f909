#include "chexworld/core/config_location.h"

#include <cctype>
#include <map>
#include <optional>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "chexworld/core/paths.h"

namespace chexworld {
namespace {

// "a.b[2].c" -> {"a", "b[2]", "c"}; "b" is the same as "b[0]".
std::vector<std::string> Segments(const std::string& path) {
  std::vector<std::string> out = absl::StrSplit(path, '.', absl::SkipEmpty());
  for (auto& s : out) {
    if (s.find('[') == std::string::npos) s += "[0]";
  }
  return out;
}

// A scanner of text format that knows only what the location needs: field
// names, nesting ({} and <>), Any type URLs ([...]), and where each field is.
class Scanner {
 public:
  Scanner(const std::string& text, const std::vector<std::string>& want) : t_(text), want_(want) {}

  // line:column (1-based) of the last assignment of the wanted path.
  std::optional<std::pair<int, int>> Find() {
    std::vector<std::string> path;               // segments with [index]
    std::vector<std::map<std::string, int>> seen(1);  // occurrences per name, per nesting level
    std::optional<std::pair<int, int>> found;
    while (Skip()) {
      const char c = t_[i_];
      if (c == '}' || c == '>') {
        ++i_;
        if (!path.empty()) path.pop_back();
        if (seen.size() > 1) seen.pop_back();
        continue;
      }
      if (c == '[') {  // an Any's type URL: a block that adds no segment
        while (i_ < t_.size() && t_[i_] != ']') ++i_;
        ++i_;
        if (Skip() && t_[i_] == ':') ++i_;
        if (Skip() && (t_[i_] == '{' || t_[i_] == '<')) {
          ++i_;
          path.push_back("");
          seen.emplace_back();
        }
        continue;
      }
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        const auto [line, col] = Position();
        std::string name;
        while (i_ < t_.size() && (std::isalnum(static_cast<unsigned char>(t_[i_])) || t_[i_] == '_')) name += t_[i_++];
        const std::string segment = absl::StrCat(name, "[", seen.back()[name]++, "]");
        if (Skip() && t_[i_] == ':') ++i_;
        if (Skip() && (t_[i_] == '{' || t_[i_] == '<')) {
          ++i_;
          path.push_back(segment);
          seen.emplace_back();
          if (Matches(path)) found = std::make_pair(line, col);
        } else {
          std::vector<std::string> p = path;
          p.push_back(segment);
          if (Matches(p)) found = std::make_pair(line, col);
          SkipValue();
        }
        continue;
      }
      ++i_;  // anything else: separators
    }
    return found;
  }

 private:
  // Skips blanks and comments; false at the end.
  bool Skip() {
    while (i_ < t_.size()) {
      if (std::isspace(static_cast<unsigned char>(t_[i_])) || t_[i_] == ',' || t_[i_] == ';') {
        ++i_;
      } else if (t_[i_] == '#') {
        while (i_ < t_.size() && t_[i_] != '\n') ++i_;
      } else {
        return true;
      }
    }
    return false;
  }
  void SkipValue() {
    if (!Skip()) return;
    if (t_[i_] == '"' || t_[i_] == '\'') {
      const char q = t_[i_++];
      while (i_ < t_.size() && t_[i_] != q) i_ += t_[i_] == '\\' ? 2 : 1;
      ++i_;
      return;
    }
    if (t_[i_] == '[') {  // a list of scalars
      while (i_ < t_.size() && t_[i_] != ']') ++i_;
      ++i_;
      return;
    }
    while (i_ < t_.size() && !std::isspace(static_cast<unsigned char>(t_[i_])) && t_[i_] != '}' && t_[i_] != '>' &&
           t_[i_] != ',' && t_[i_] != ';' && t_[i_] != '#') {
      ++i_;
    }
  }
  std::pair<int, int> Position() const {
    int line = 1, col = 1;
    for (size_t k = 0; k < i_; ++k) {
      if (t_[k] == '\n') ++line, col = 1;
      else ++col;
    }
    return {line, col};
  }
  bool Matches(const std::vector<std::string>& path) const {
    std::vector<std::string> p;
    for (const auto& s : path) {
      if (!s.empty()) p.push_back(s);
    }
    return p == want_;
  }

  const std::string& t_;
  std::vector<std::string> want_;
  size_t i_ = 0;
};

}  // namespace

std::string LocateConfigField(const std::string& text, const std::string& filename,
                              const std::vector<std::string>& sets, const std::string& field_path) {
  const std::vector<std::string> want = Segments(field_path);
  for (auto it = sets.rbegin(); it != sets.rend(); ++it) {
    const std::string lhs = it->substr(0, it->find('='));
    const std::vector<std::string> got = Segments(lhs);
    if (got.size() <= want.size() && std::equal(got.begin(), got.end(), want.begin())) return "--set " + *it;
  }
  if (const auto at = Scanner(text, want).Find()) return absl::StrCat(filename, ":", at->first, ":", at->second);
  return "";
}

absl::Status WithConfigField(absl::Status status, const std::string& field_path) {
  if (!status.ok()) status.SetPayload(kConfigFieldPayload, absl::Cord(field_path));
  return status;
}

std::string ConfigFieldOf(const absl::Status& status) {
  auto p = status.GetPayload(kConfigFieldPayload);
  return p.has_value() ? std::string(*p) : "";
}

std::string MessageWithLocation(const absl::Status& status, const std::string& config_path,
                                const std::vector<std::string>& sets) {
  const std::string field = ConfigFieldOf(status), message(status.message());
  if (field.empty()) return message;
  auto text = ReadFile(config_path);
  const std::string where = LocateConfigField(text.ok() ? *text : "", config_path, sets, field);
  return where.empty() ? message : absl::StrCat(where, ": ", message);
}

}  // namespace chexworld
