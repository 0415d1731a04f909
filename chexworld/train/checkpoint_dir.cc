#include "chexworld/train/checkpoint_dir.h"

#include <dirent.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "chexworld/core/durable_file.h"

namespace chexworld {
namespace {

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) out.push_back(e->d_name);
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool IsCheckpointName(const std::string& n) {
  return absl::StartsWith(n, "checkpoint-") && absl::EndsWith(n, ".pt");
}

}  // namespace

std::string CheckpointPath(const std::string& dir, int64_t iteration) {
  return absl::StrFormat("%s/checkpoint-%010d.pt", dir, iteration);
}

std::vector<std::string> ListCheckpoints(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& n : Names(dir)) {
    if (IsCheckpointName(n)) out.push_back(dir + "/" + n);
  }
  return out;
}

std::string LatestCheckpoint(const std::string& dir) {
  auto all = ListCheckpoints(dir);
  return all.empty() ? "" : all.back();
}

void PruneCheckpoints(const std::string& dir, int keep) {
  auto all = ListCheckpoints(dir);
  for (size_t i = 0; i + std::max(1, keep) < all.size(); ++i) RemoveDurableFile(all[i]);
  std::set<std::string> live;
  for (const auto& p : ListCheckpoints(dir)) live.insert(p.substr(p.find_last_of('/') + 1));
  for (const auto& n : Names(dir)) {
    if (!absl::StartsWith(n, "checkpoint-")) continue;
    const bool tmp = absl::EndsWith(n, ".pt.tmp");
    const bool orphan = absl::EndsWith(n, ".pt.crc32") && live.count(std::string(absl::StripSuffix(n, ".crc32"))) == 0;
    if (tmp || orphan) std::remove((dir + "/" + n).c_str());
  }
}

std::string QuarantineCheckpoint(const std::string& path) {
  const std::string aside = path + ".corrupt";
  std::rename(path.c_str(), aside.c_str());
  std::rename(SidecarPath(path).c_str(), (aside + ".crc32").c_str());
  return aside;
}

}  // namespace chexworld
