#include "datasets/packer.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/ascii.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_split.h"
#include "chexworld/core/paths.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/data/decode.h"
#include "chexworld/data/resize.h"

namespace chexworld {
namespace {

bool IsImageFile(const std::string& name) {
  std::string lower = absl::AsciiStrToLower(name);
  for (const char* ext : {".png", ".jpg", ".jpeg", ".dcm", ".dicom"}) {
    const std::string e(ext);
    if (lower.size() > e.size() && lower.compare(lower.size() - e.size(), e.size(), e) == 0) return true;
  }
  return false;
}

void ListFiles(const std::string& root, const std::string& rel, std::vector<std::string>* out) {
  const std::string dir = rel.empty() ? root : root + "/" + rel;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    const std::string child = rel.empty() ? name : rel + "/" + name;
    struct stat st;
    if (stat((root + "/" + child).c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) ListFiles(root, child, out);
    else if (IsImageFile(name)) out->push_back(child);
  }
  closedir(d);
}

std::string StemOf(const std::string& p) {
  std::string b = p.substr(p.find_last_of('/') == std::string::npos ? 0 : p.find_last_of('/') + 1);
  return b.substr(0, b.find_last_of('.'));
}

struct Item {
  bool ok = false;
  std::string reason;
  ShardRecord record;
};

std::string Duration(double s) {
  const int64_t t = static_cast<int64_t>(s);
  return absl::StrFormat("%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60);
}

// Image name -> split from the split files; problems for names no input
// image has; an error for a name in two files (naming both).
absl::StatusOr<std::map<std::string, std::string>> ReadSplitLists(
    const std::vector<std::pair<std::string, std::string>>& lists, const std::vector<std::string>& files,
    std::vector<std::string>* problems) {
  std::set<std::string> names;
  for (const auto& f : files) {
    names.insert(f);
    names.insert(f.substr(f.find_last_of('/') == std::string::npos ? 0 : f.find_last_of('/') + 1));
  }
  std::map<std::string, std::string> split_of;
  std::map<std::string, std::string> where;  // name -> "file:line"
  for (const auto& [split, path] : lists) {
    const std::string s = NormalizeSplit(split);
    if (s.empty()) return absl::InvalidArgumentError(absl::StrCat("split list '", split, "=", path, "': '", split,
                                                                  "' is not train, val or test"));
    auto text = ReadFile(path);
    if (!text.ok()) return text.status();
    int line = 0, matched = 0, unknown = 0;
    for (absl::string_view raw : absl::StrSplit(*text, '\n')) {
      ++line;
      const std::string name(absl::StripAsciiWhitespace(raw));
      if (name.empty()) continue;
      const std::string here = absl::StrCat(path, ":", line);
      if (auto it = where.find(name); it != where.end() && split_of[name] != s) {
        return absl::InvalidArgumentError(absl::StrCat("'", name, "' is in two split files: ", it->second, " (",
                                                       split_of[name], ") and ", here, " (", s, ")"));
      }
      if (!names.count(name)) {
        if (++unknown <= 20) problems->push_back(absl::StrCat(here, ": '", name, "' names no image under the input"));
        continue;
      }
      split_of[name] = s;
      where[name] = here;
      ++matched;
    }
    if (unknown > 20) problems->push_back(absl::StrCat(path, ": ", unknown - 20, " more names with no image"));
    if (matched == 0) {
      return absl::InvalidArgumentError(absl::StrCat("split file ", path, " (", s, ") names none of the ", files.size(),
                                                     " images under the input (", unknown, " names, none found)"));
    }
  }
  return split_of;
}

}  // namespace

std::string SplitFromPath(const std::string& rel) {
  std::vector<std::string> parts = absl::StrSplit(rel, '/');
  parts.pop_back();  // the file name
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    const std::string s = NormalizeSplit(*it);
    if (!s.empty()) return s;
  }
  return "";
}

std::string PackReport::ToString() const {
  std::string s = absl::StrCat("found ", found, " images, packed ", packed, ", skipped ", found - packed, "\n");
  for (const auto& [reason, files] : skipped) {
    absl::StrAppend(&s, "  skipped ", files.size(), ": ", reason, "\n");
    for (size_t i = 0; i < files.size() && i < 5; ++i) absl::StrAppend(&s, "    ", files[i], "\n");
    if (files.size() > 5) absl::StrAppend(&s, "    ... and ", files.size() - 5, " more\n");
  }
  if (!label_problems.empty()) {
    absl::StrAppend(&s, "label rows not used: ", label_problems.size(), "\n");
    for (size_t i = 0; i < label_problems.size() && i < 10; ++i) absl::StrAppend(&s, "    ", label_problems[i], "\n");
    if (label_problems.size() > 10) absl::StrAppend(&s, "    ... and ", label_problems.size() - 10, " more\n");
  }
  if (!label_names.empty()) {
    absl::StrAppend(&s, "positives per label:\n");
    for (size_t i = 0; i < label_names.size(); ++i) absl::StrAppend(&s, "  ", label_names[i], ": ", positives[i], "\n");
  }
  if (!splits.empty()) {
    absl::StrAppend(&s, "stored splits:");
    for (const auto& [name, n] : splits) absl::StrAppend(&s, " ", name, " ", n);
    absl::StrAppend(&s, "\n");
  }
  absl::StrAppend(&s, "manifest: ", manifest, "\n");
  return s;
}

PackingRules PackingRulesOf(const PackOptions& o) {
  PackingRules r;
  r.set_size(o.size);
  r.set_resize(o.resize);
  r.set_remove_border(o.remove_border);
  r.set_border_threshold(o.border_threshold);
  r.set_pixel_type(o.pixel_type == PixelType::kUint16 ? "uint16" : "uint8");
  return r;
}

absl::StatusOr<PackReport> Pack(const PackOptions& o) {
  if (o.size < 16 || o.size > 4096) return absl::InvalidArgumentError(absl::StrCat("--size ", o.size, " out of [16, 4096]"));
  if (o.resize != "letterbox" && o.resize != "square") {
    return absl::InvalidArgumentError(absl::StrCat("--resize '", o.resize, "' is not letterbox or square"));
  }
  const PackingRules rules = PackingRulesOf(o);
  std::vector<std::string> files;
  ListFiles(o.input_dir, "", &files);
  std::sort(files.begin(), files.end());
  if (files.empty()) return absl::NotFoundError(absl::StrCat("no PNG, JPEG or DICOM files under ", o.input_dir));
  PackReport report;
  report.found = static_cast<int64_t>(files.size());
  LabelTable labels;
  if (o.use_labels) {
    ASSIGN_OR_RETURN(labels, LoadLabels(o.labels));
    if (o.labels.preset == "folders") SetFolderClasses(&labels, files);
    report.label_problems = labels.problems;
  }
  // Label rows that name no file.
  if (o.use_labels && !labels.derived_from_path) {
    std::set<const LabelEntry*> matched;
    for (const auto& f : files) {
      if (const LabelEntry* e = labels.Find(f)) matched.insert(e);
    }
    for (const auto& [key, entry] : labels.entries) {
      if (!matched.count(&entry)) report.label_problems.push_back(absl::StrCat("label row for '", key, "' names a missing file"));
    }
  }
  ASSIGN_OR_RETURN(auto split_of, ReadSplitLists(o.split_lists, files, &report.label_problems));
  // --input=.../kermany4/train: the input folder is itself a split folder.
  std::string input_dir = o.input_dir;
  while (input_dir.size() > 1 && input_dir.back() == '/') input_dir.pop_back();
  const std::string input_split = NormalizeSplit(input_dir.substr(input_dir.find_last_of('/') + 1));
  ShardSchema schema;
  schema.height = schema.width = o.size;
  schema.pixel_type = o.pixel_type;
  schema.label_names = labels.label_names;
  for (const auto& [name, dir] : o.mask_dirs) schema.mask_names.push_back(name);
  const bool box_masks = o.use_labels && o.labels.preset == "rsna";
  const bool rle_masks = o.use_labels && o.labels.preset == "siim";
  if (box_masks || rle_masks) schema.mask_names.push_back(labels.label_names.empty() ? "lesion" : labels.label_names[0]);
  report.label_names = schema.label_names;
  report.positives.assign(schema.label_names.size(), 0);

  auto process = [&](const std::string& rel) {
    Item item;
    const std::string path = o.input_dir + "/" + rel;
    LabelEntry entry;
    if (o.use_labels) {
      if (const LabelEntry* e = labels.Find(rel)) {
        entry = *e;
      } else if (!labels.FromPath(rel, &entry)) {
        if (!o.keep_unlabeled) {
          item.reason = "no label for this file";
          return item;
        }
        entry.labels.assign(schema.label_names.size(), std::nanf(""));
      }
    }
    auto decoded = DecodeImageFile(path);
    if (!decoded.ok()) {
      // The reason without the path prefix (the report lists the file).
      item.reason = std::string(absl::StripPrefix(decoded.status().message(), path + ": "));
      return item;
    }
    const GrayImage& img = decoded->image;
    if (img.height < 16 || img.width < 16) {
      item.reason = "image smaller than 16x16";
      return item;
    }
    Box crop;
    ShardRecord& r = item.record;
    r.image = PackImage(img, rules, &crop, &r.receipt.content_box);
    r.id = rel;
    r.patient_id = entry.patient_id;
    {
      auto by_path = split_of.find(rel);
      auto by_name = split_of.find(rel.substr(rel.find_last_of('/') == std::string::npos ? 0 : rel.find_last_of('/') + 1));
      const std::string from_path = SplitFromPath(rel);
      r.split = by_path != split_of.end() ? by_path->second
                : by_name != split_of.end() ? by_name->second
                : !entry.split.empty()      ? entry.split
                : !from_path.empty()        ? from_path
                                            : input_split;
    }
    r.labels = entry.labels;
    r.receipt.source_path = path;
    r.receipt.original_height = img.height;
    r.receipt.original_width = img.width;
    r.receipt.bits_stored = decoded->bits_stored;
    r.receipt.photometric = decoded->photometric;
    r.receipt.windowing = decoded->windowing;
    r.receipt.crop_box = crop;
    auto add_mask = [&](const std::vector<uint8_t>& full) {
      GrayImage m(img.height, img.width);
      for (size_t k = 0; k < full.size(); ++k) m.pixels[k] = full[k] ? 1.f : 0.f;
      Box ignored;
      GrayImage fitted = FitToSquare(Crop(m, crop), o.size, o.resize, &ignored);
      for (float v : fitted.pixels) r.masks.push_back(v >= 0.5f ? 1 : 0);
    };
    for (const auto& [name, dir] : o.mask_dirs) {
      auto mask = DecodeImageFile(dir + "/" + StemOf(rel) + ".png");
      if (!mask.ok()) {
        item.reason = absl::StrCat("mask '", name, "' missing or unreadable");
        return item;
      }
      if (mask->image.height != img.height || mask->image.width != img.width) {
        item.reason = absl::StrCat("mask '", name, "' size differs from the image");
        return item;
      }
      std::vector<uint8_t> full(mask->image.pixels.size());
      for (size_t k = 0; k < full.size(); ++k) full[k] = mask->image.pixels[k] >= 0.5f;
      add_mask(full);
    }
    if (box_masks) {
      std::vector<uint8_t> full(static_cast<size_t>(img.height) * img.width, 0);
      for (const auto& b : entry.boxes) {
        for (int y = std::max(0, static_cast<int>(b[1])); y < std::min(img.height, static_cast<int>(b[1] + b[3])); ++y)
          for (int x = std::max(0, static_cast<int>(b[0])); x < std::min(img.width, static_cast<int>(b[0] + b[2])); ++x)
            full[static_cast<size_t>(y) * img.width + x] = 1;
      }
      add_mask(full);
    }
    if (rle_masks) {
      std::vector<uint8_t> full(static_cast<size_t>(img.height) * img.width, 0);
      for (const auto& code : entry.rle) {
        auto m = DecodeSiimRle(code, img.height, img.width);
        if (!m.ok()) {
          item.reason = absl::StrCat("bad run-length mask: ", m.status().message());
          return item;
        }
        for (size_t k = 0; k < full.size(); ++k) full[k] |= (*m)[k];
      }
      add_mask(full);
    }
    item.ok = true;
    return item;
  };

  const int threads = o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  ShardSetWriter writer(o.output_dir, schema, o.shard_size,
                        o.provenance.empty() ? absl::StrCat("packed from ", o.input_dir) : o.provenance);
  writer.set_packing(rules);
  const size_t chunk = static_cast<size_t>(threads) * 16;
  const auto start = std::chrono::steady_clock::now();
  double last_print = -1;
  const bool tty = isatty(fileno(stderr));
  for (size_t begin = 0; begin < files.size(); begin += chunk) {
    const size_t end = std::min(files.size(), begin + chunk);
    std::vector<Item> items(end - begin);
    std::atomic<size_t> next{begin};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        for (size_t i = next++; i < end; i = next++) items[i - begin] = process(files[i]);
      });
    }
    for (auto& th : pool) th.join();
    for (size_t i = begin; i < end; ++i) {
      Item& item = items[i - begin];
      if (!item.ok) {
        report.skipped[item.reason].push_back(files[i]);
        continue;
      }
      for (size_t k = 0; k < item.record.labels.size(); ++k) report.positives[k] += item.record.labels[k] > 0.5f;
      ++report.splits[item.record.split.empty() ? "(none)" : item.record.split];
      RETURN_IF_ERROR(writer.Add(std::move(item.record)));
      ++report.packed;
    }
    if (o.progress) {
      const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (tty || end == files.size() || t - last_print > 10) {
        const double rate = end / std::max(t, 1e-9);
        const int bar = static_cast<int>(30.0 * end / files.size());
        std::fprintf(stderr, "%s[%s%s] %zu/%zu images %.1f img/s ETA %s%s", tty ? "\r" : "", std::string(bar, '#').c_str(),
                     std::string(30 - bar, ' ').c_str(), end, files.size(), rate,
                     Duration((files.size() - end) / std::max(rate, 1e-9)).c_str(), tty ? "" : "\n");
        last_print = t;
      }
    }
  }
  if (o.progress && tty) std::fprintf(stderr, "\n");
  if (report.packed == 0) {
    return absl::FailedPreconditionError(absl::StrCat("no image could be packed from ", o.input_dir, "\n", report.ToString()));
  }
  RETURN_IF_ERROR(writer.Finish().status());
  report.manifest = o.output_dir + "/manifest.textproto";
  return report;
}

}  // namespace chexworld
