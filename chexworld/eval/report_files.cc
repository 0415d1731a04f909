#include "chexworld/eval/report_files.h"

#include <dirent.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "chexworld/core/paths.h"
#include "chexworld/core/status_macros.h"

extern char** environ;

namespace chexworld {

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(n);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::pair<std::string, std::string>> KeyValues(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    out.emplace_back(std::string(absl::StripAsciiWhitespace(line.substr(0, colon))),
                     std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  }
  return out;
}

absl::StatusOr<google::protobuf::Struct> ReadJson(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  google::protobuf::Struct s;
  auto status = google::protobuf::util::JsonStringToMessage(text, &s);
  if (!status.ok()) return absl::DataLossError(absl::StrCat(path, ": ", status.ToString()));
  return s;
}

const google::protobuf::Value* JsonField(const google::protobuf::Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? nullptr : &it->second;
}

double JsonNumber(const google::protobuf::Struct& s, const std::string& key) {
  const auto* f = JsonField(s, key);
  return f != nullptr && f->has_number_value() ? f->number_value() : std::nan("");
}

Interval JsonInterval(const google::protobuf::Value* v) {
  if (v == nullptr || !v->has_struct_value()) return {std::nan(""), std::nan(""), std::nan("")};
  const auto& s = v->struct_value();
  return {JsonNumber(s, "value"), JsonNumber(s, "low"), JsonNumber(s, "high")};
}

std::string IntervalCell(const Interval& i) {
  if (std::isnan(i.value)) return "—";
  return absl::StrFormat("%.3f [%.3f, %.3f]", i.value, i.low, i.high);
}

namespace {

void FindSvgs(const std::string& dir, std::vector<std::string>* out) {
  for (const auto& name : ListDir(dir)) {
    const std::string path = dir + "/" + name;
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (name != "checkpoints" && name != "tensorboard" && name != "cache") FindSvgs(path, out);
    } else if (absl::EndsWith(name, ".svg")) {
      out->push_back(path);
    }
  }
}

// Runs argv[0] with argv (no shell); its exit status, or -1.
int Spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

absl::StatusOr<int> WritePdfFigures(const std::string& dir) {
  std::vector<std::string> svgs;
  FindSvgs(dir, &svgs);
  if (svgs.empty()) return 0;
  if (Spawn({"rsvg-convert", "--version"}) != 0) {
    return absl::FailedPreconditionError(
        "--pdf needs rsvg-convert (Debian: apt-get install librsvg2-bin; tools/install_deps.sh installs it)");
  }
  for (const auto& svg : svgs) {
    const std::string pdf = svg.substr(0, svg.size() - 4) + ".pdf";
    if (Spawn({"rsvg-convert", "-f", "pdf", "-o", pdf, svg}) != 0) {
      return absl::InternalError(absl::StrCat("rsvg-convert could not make ", pdf, " from ", svg));
    }
  }
  return static_cast<int>(svgs.size());
}

}  // namespace chexworld
