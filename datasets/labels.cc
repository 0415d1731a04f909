#include "datasets/labels.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "datasets/csv.h"

namespace chexworld {
namespace {

const float kNaN = std::nanf("");

std::string Stem(const std::string& p) {
  size_t slash = p.find_last_of('/');
  std::string name = slash == std::string::npos ? p : p.substr(slash + 1);
  size_t dot = name.find_last_of('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

std::string NoExt(const std::string& p) {
  size_t slash = p.find_last_of('/');
  size_t dot = p.find_last_of('.');
  return dot == std::string::npos || (slash != std::string::npos && dot < slash) ? p : p.substr(0, dot);
}

std::string Base(const std::string& p) {
  size_t slash = p.find_last_of('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

const std::vector<std::string>& NihLabels() {
  static const auto* v = new std::vector<std::string>{
      "Atelectasis", "Cardiomegaly", "Effusion",  "Infiltration", "Mass",     "Nodule",  "Pneumonia",
      "Pneumothorax", "Consolidation", "Edema", "Emphysema",    "Fibrosis", "Pleural_Thickening", "Hernia"};
  return *v;
}

const std::vector<std::string>& ChexpertLabels() {
  static const auto* v = new std::vector<std::string>{
      "No Finding",   "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity",    "Lung Lesion",
      "Edema",        "Consolidation",              "Pneumonia",    "Atelectasis",     "Pneumothorax",
      "Pleural Effusion", "Pleural Other",          "Fracture",     "Support Devices"};
  return *v;
}

// CheXpert-style value: "1.0", "0.0", "-1.0" (uncertain) or blank.
float Uncertain(const std::string& raw, const std::string& label, const std::string& policy) {
  std::string v(absl::StripAsciiWhitespace(raw));
  if (v.empty()) return kNaN;
  double d;
  if (!absl::SimpleAtod(v, &d)) return kNaN;
  if (d > 0.5) return 1.f;
  if (d > -0.5) return 0.f;
  if (policy == "ones") return 1.f;
  if (policy == "zeros") return 0.f;
  if (policy == "official") return (label == "Atelectasis" || label == "Edema") ? 1.f : 0.f;
  return kNaN;
}

absl::Status AddEntry(LabelTable* t, const CsvTable& csv, size_t row, const std::string& key, LabelEntry e) {
  auto [it, inserted] = t->entries.emplace(key, std::move(e));
  if (!inserted) t->problems.push_back(absl::StrCat(csv.path, ":", csv.lines[row], ": duplicate row for '", key, "' ignored"));
  return absl::OkStatus();
}

absl::StatusOr<LabelTable> Generic(const LabelOptions& o) {
  auto csv = ReadCsv(o.csv);
  if (!csv.ok()) return csv.status();
  LabelTable t;
  auto file_col = csv->Column(o.file_column);
  if (!file_col.ok()) return file_col.status();
  if (!o.label_column.empty()) {
    auto col = csv->Column(o.label_column);
    if (!col.ok()) return col.status();
    std::set<std::string> classes;
    for (const auto& r : csv->rows) classes.insert(r[*col]);
    t.label_names.assign(classes.begin(), classes.end());
    for (size_t i = 0; i < csv->rows.size(); ++i) {
      LabelEntry e;
      e.labels.assign(t.label_names.size(), 0.f);
      e.labels[std::find(t.label_names.begin(), t.label_names.end(), csv->rows[i][*col]) - t.label_names.begin()] = 1.f;
      AddEntry(&t, *csv, i, csv->rows[i][*file_col], std::move(e)).IgnoreError();
    }
  } else if (!o.label_columns.empty()) {
    std::vector<int> cols;
    for (const auto& name : o.label_columns) {
      auto c = csv->Column(name);
      if (!c.ok()) return c.status();
      cols.push_back(*c);
    }
    t.label_names = o.label_columns;
    for (size_t i = 0; i < csv->rows.size(); ++i) {
      LabelEntry e;
      for (int c : cols) e.labels.push_back(Uncertain(csv->rows[i][c], t.label_names[e.labels.size()], o.uncertain));
      AddEntry(&t, *csv, i, csv->rows[i][*file_col], std::move(e)).IgnoreError();
    }
  } else if (!o.label_list_column.empty()) {
    auto col = csv->Column(o.label_list_column);
    if (!col.ok()) return col.status();
    std::set<std::string> names;
    for (const auto& r : csv->rows) {
      for (absl::string_view s : absl::StrSplit(r[*col], o.label_separator, absl::SkipWhitespace())) {
        names.insert(std::string(absl::StripAsciiWhitespace(s)));
      }
    }
    t.label_names.assign(names.begin(), names.end());
    for (size_t i = 0; i < csv->rows.size(); ++i) {
      LabelEntry e;
      e.labels.assign(t.label_names.size(), 0.f);
      for (absl::string_view s : absl::StrSplit(csv->rows[i][*col], o.label_separator, absl::SkipWhitespace())) {
        auto it = std::find(t.label_names.begin(), t.label_names.end(), std::string(absl::StripAsciiWhitespace(s)));
        e.labels[it - t.label_names.begin()] = 1.f;
      }
      AddEntry(&t, *csv, i, csv->rows[i][*file_col], std::move(e)).IgnoreError();
    }
  } else {
    return absl::InvalidArgumentError("preset 'generic' needs --label_column, --label_columns or --label_list_column");
  }
  if (!o.split_column.empty()) {
    auto col = csv->Column(o.split_column);
    if (!col.ok()) return col.status();
    for (size_t i = 0; i < csv->rows.size(); ++i) {
      auto it = t.entries.find(csv->rows[i][*file_col]);
      if (it == t.entries.end()) continue;
      it->second.split = NormalizeSplit(csv->rows[i][*col]);
      if (it->second.split.empty()) {
        t.problems.push_back(absl::StrCat(csv->path, ":", csv->lines[i], ": split '", csv->rows[i][*col],
                                          "' is not train, val or test: the image gets no stored split"));
      }
    }
  }
  return t;
}

absl::StatusOr<LabelTable> Nih(const LabelOptions& o) {
  auto csv = ReadCsv(o.csv);
  if (!csv.ok()) return csv.status();
  auto file = csv->Column("Image Index");
  auto findings = csv->Column("Finding Labels");
  if (!file.ok()) return file.status();
  if (!findings.ok()) return findings.status();
  const int patient = csv->HasColumn("Patient ID") ? *csv->Column("Patient ID") : -1;
  LabelTable t;
  t.label_names = NihLabels();
  for (size_t i = 0; i < csv->rows.size(); ++i) {
    const auto& r = csv->rows[i];
    LabelEntry e;
    e.labels.assign(t.label_names.size(), 0.f);
    bool bad = false;
    for (absl::string_view f : absl::StrSplit(r[*findings], '|', absl::SkipWhitespace())) {
      std::string name(absl::StripAsciiWhitespace(f));
      if (name == "No Finding") continue;
      auto it = std::find(t.label_names.begin(), t.label_names.end(), name);
      if (it == t.label_names.end()) {
        t.problems.push_back(absl::StrCat(csv->path, ":", csv->lines[i], ": '", r[*file], "' has unknown label '", name,
                                          "' (ChestX-ray14 labels: ", absl::StrJoin(t.label_names, ", "), ")"));
        bad = true;
        break;
      }
      e.labels[it - t.label_names.begin()] = 1.f;
    }
    if (bad) continue;
    if (patient >= 0) e.patient_id = r[patient];
    AddEntry(&t, *csv, i, r[*file], std::move(e)).IgnoreError();
  }
  return t;
}

absl::StatusOr<LabelTable> Chexpert(const LabelOptions& o) {
  auto csv = ReadCsv(o.csv);
  if (!csv.ok()) return csv.status();
  auto path = csv->Column("Path");
  if (!path.ok()) return path.status();
  const int view = csv->HasColumn("Frontal/Lateral") ? *csv->Column("Frontal/Lateral") : -1;
  LabelTable t;
  std::vector<int> cols;
  for (const auto& name : ChexpertLabels()) {
    auto c = csv->Column(name);
    if (!c.ok()) return c.status();
    cols.push_back(*c);
  }
  t.label_names = ChexpertLabels();
  for (size_t i = 0; i < csv->rows.size(); ++i) {
    const auto& r = csv->rows[i];
    if (o.frontal_only && view >= 0 && r[view] != "Frontal") continue;
    LabelEntry e;
    for (size_t k = 0; k < cols.size(); ++k) e.labels.push_back(Uncertain(r[cols[k]], t.label_names[k], o.uncertain));
    size_t p = r[*path].find("patient");
    if (p != std::string::npos) e.patient_id = r[*path].substr(p, r[*path].find('/', p) - p);
    AddEntry(&t, *csv, i, r[*path], std::move(e)).IgnoreError();
  }
  return t;
}

absl::StatusOr<LabelTable> Mimic(const LabelOptions& o) {
  if (o.metadata.empty()) return absl::InvalidArgumentError("preset 'mimic' needs --metadata (mimic-cxr-2.0.0-metadata.csv)");
  auto labels = ReadCsv(o.csv);
  if (!labels.ok()) return labels.status();
  auto meta = ReadCsv(o.metadata);
  if (!meta.ok()) return meta.status();
  auto subj = labels->Column("subject_id");
  auto study = labels->Column("study_id");
  if (!subj.ok()) return subj.status();
  if (!study.ok()) return study.status();
  LabelTable t;
  t.label_names = ChexpertLabels();
  std::vector<int> cols;
  for (const auto& name : t.label_names) {
    auto c = labels->Column(name);
    if (!c.ok()) return c.status();
    cols.push_back(*c);
  }
  std::map<std::string, std::vector<float>> by_study;
  for (size_t i = 0; i < labels->rows.size(); ++i) {
    std::vector<float> v;
    for (size_t k = 0; k < cols.size(); ++k) v.push_back(Uncertain(labels->rows[i][cols[k]], t.label_names[k], o.uncertain));
    by_study[labels->rows[i][*subj] + "/" + labels->rows[i][*study]] = v;
  }
  auto dicom = meta->Column("dicom_id");
  auto msubj = meta->Column("subject_id");
  auto mstudy = meta->Column("study_id");
  if (!dicom.ok()) return dicom.status();
  if (!msubj.ok()) return msubj.status();
  if (!mstudy.ok()) return mstudy.status();
  const int view = meta->HasColumn("ViewPosition") ? *meta->Column("ViewPosition") : -1;
  for (size_t i = 0; i < meta->rows.size(); ++i) {
    const auto& r = meta->rows[i];
    if (o.frontal_only && view >= 0 && r[view] != "PA" && r[view] != "AP") continue;
    auto it = by_study.find(r[*msubj] + "/" + r[*mstudy]);
    if (it == by_study.end()) {
      t.problems.push_back(absl::StrCat(meta->path, ":", meta->lines[i], ": study s", r[*mstudy], " has no label row"));
      continue;
    }
    LabelEntry e;
    e.labels = it->second;
    e.patient_id = r[*msubj];
    const std::string s = r[*msubj];
    const std::string key = absl::StrCat("files/p", s.substr(0, 2), "/p", s, "/s", r[*mstudy], "/", r[*dicom], ".jpg");
    AddEntry(&t, *meta, i, key, std::move(e)).IgnoreError();
  }
  return t;
}

absl::StatusOr<LabelTable> Vindr(const LabelOptions& o) {
  auto csv = ReadCsv(o.csv);
  if (!csv.ok()) return csv.status();
  auto id = csv->Column("image_id");
  if (!id.ok()) return id.status();
  LabelTable t;
  std::vector<int> cols;
  for (size_t c = 0; c < csv->header.size(); ++c) {
    if (csv->header[c] == "image_id" || csv->header[c] == "rad_id") continue;
    t.label_names.push_back(csv->header[c]);
    cols.push_back(static_cast<int>(c));
  }
  // Several radiologists per image: positive if any marked it.
  for (size_t i = 0; i < csv->rows.size(); ++i) {
    const auto& r = csv->rows[i];
    auto& e = t.entries[r[*id]];
    if (e.labels.empty()) e.labels.assign(cols.size(), 0.f);
    for (size_t k = 0; k < cols.size(); ++k) {
      double v = 0;
      if (!absl::SimpleAtod(r[cols[k]], &v)) {
        t.problems.push_back(absl::StrCat(csv->path, ":", csv->lines[i], ": '", r[cols[k]], "' in column '",
                                          t.label_names[k], "' is not 0/1"));
        continue;
      }
      e.labels[k] = std::max(e.labels[k], v > 0.5 ? 1.f : 0.f);
    }
  }
  return t;
}

absl::StatusOr<LabelTable> Rsna(const LabelOptions& o) {
  auto csv = ReadCsv(o.csv);
  if (!csv.ok()) return csv.status();
  auto id = csv->Column("patientId");
  auto target = csv->Column("Target");
  if (!id.ok()) return id.status();
  if (!target.ok()) return target.status();
  const int x = csv->HasColumn("x") ? *csv->Column("x") : -1;
  LabelTable t;
  std::map<std::string, std::string> classes;
  if (!o.metadata.empty()) {
    auto info = ReadCsv(o.metadata);
    if (!info.ok()) return info.status();
    auto pid = info->Column("patientId");
    auto cls = info->Column("class");
    if (!pid.ok()) return pid.status();
    if (!cls.ok()) return cls.status();
    for (const auto& r : info->rows) classes[r[*pid]] = r[*cls];
    t.label_names = {"Lung Opacity", "No Lung Opacity / Not Normal", "Normal"};
  } else {
    t.label_names = {"pneumonia"};
  }
  for (size_t i = 0; i < csv->rows.size(); ++i) {
    const auto& r = csv->rows[i];
    auto& e = t.entries[r[*id]];
    if (e.labels.empty()) {
      e.labels.assign(t.label_names.size(), 0.f);
      e.patient_id = r[*id];
      if (!classes.empty()) {
        auto c = classes.find(r[*id]);
        if (c == classes.end()) {
          t.problems.push_back(absl::StrCat(csv->path, ":", csv->lines[i], ": '", r[*id], "' has no class row"));
          e.labels.assign(t.label_names.size(), kNaN);
        } else {
          auto it = std::find(t.label_names.begin(), t.label_names.end(), c->second);
          if (it == t.label_names.end()) {
            t.problems.push_back(absl::StrCat(o.metadata, ": unknown class '", c->second, "' for ", r[*id]));
            e.labels.assign(t.label_names.size(), kNaN);
          } else {
            e.labels[it - t.label_names.begin()] = 1.f;
          }
        }
      }
    }
    if (r[*target] == "1") {
      if (classes.empty()) e.labels[0] = 1.f;
      float v[4];
      bool ok = x >= 0;
      for (int k = 0; k < 4 && ok; ++k) ok = absl::SimpleAtof(r[x + k], &v[k]);
      if (ok) e.boxes.push_back({v[0], v[1], v[2], v[3]});
      else t.problems.push_back(absl::StrCat(csv->path, ":", csv->lines[i], ": positive row without a valid box"));
    }
  }
  return t;
}

absl::StatusOr<LabelTable> Siim(const LabelOptions& o) {
  auto csv = ReadCsv(o.csv);
  if (!csv.ok()) return csv.status();
  auto id = csv->Column("ImageId");
  if (!id.ok()) return id.status();
  int rle = csv->HasColumn("EncodedPixels") ? *csv->Column("EncodedPixels") : -1;
  if (rle < 0 && csv->HasColumn(" EncodedPixels")) rle = *csv->Column(" EncodedPixels");
  if (rle < 0) return csv->Column("EncodedPixels").status();
  LabelTable t;
  t.label_names = {"pneumothorax"};
  for (size_t i = 0; i < csv->rows.size(); ++i) {
    const auto& r = csv->rows[i];
    auto& e = t.entries[r[*id]];
    if (e.labels.empty()) e.labels = {0.f};
    std::string code(absl::StripAsciiWhitespace(r[rle]));
    if (code != "-1" && !code.empty()) {
      e.labels[0] = 1.f;
      e.rle.push_back(code);
    }
  }
  return t;
}

}  // namespace

const LabelEntry* LabelTable::Find(const std::string& rel) const {
  for (const std::string& key : {rel, NoExt(rel), Base(rel), Stem(rel)}) {
    auto it = entries.find(key);
    if (it != entries.end()) return &it->second;
  }
  return nullptr;
}

bool LabelTable::FromPath(const std::string& rel, LabelEntry* out) const {
  if (!derived_from_path) return false;
  const std::string stem = Stem(rel);
  out->labels.assign(label_names.size(), 0.f);
  if (label_names == std::vector<std::string>{"tuberculosis"}) {
    if (stem.size() < 2 || stem[stem.size() - 2] != '_' || (stem.back() != '0' && stem.back() != '1')) return false;
    out->labels[0] = stem.back() == '1' ? 1.f : 0.f;
    return true;
  }
  if (label_names == std::vector<std::string>{"nodule"}) {
    if (stem.rfind("JPCLN", 0) == 0) out->labels[0] = 1.f;
    else if (stem.rfind("JPCNN", 0) != 0) return false;
    return true;
  }
  // folders: the parent folder is the class.
  size_t slash = rel.find_last_of('/');
  if (slash == std::string::npos) return false;
  std::string parent = rel.substr(0, slash);
  parent = parent.substr(parent.find_last_of('/') == std::string::npos ? 0 : parent.find_last_of('/') + 1);
  auto it = std::find(label_names.begin(), label_names.end(), parent);
  if (it == label_names.end()) return false;
  out->labels[it - label_names.begin()] = 1.f;
  return true;
}

void SetFolderClasses(LabelTable* table, const std::vector<std::string>& paths) {
  std::set<std::string> classes;
  for (const auto& p : paths) {
    size_t slash = p.find_last_of('/');
    if (slash == std::string::npos) continue;
    std::string parent = p.substr(0, slash);
    size_t s2 = parent.find_last_of('/');
    classes.insert(s2 == std::string::npos ? parent : parent.substr(s2 + 1));
  }
  table->label_names.assign(classes.begin(), classes.end());
}

std::string NormalizeSplit(const std::string& name) {
  const std::string n = absl::AsciiStrToLower(absl::StripAsciiWhitespace(name));
  if (n == "train" || n == "training") return "train";
  if (n == "val" || n == "valid" || n == "validation" || n == "dev") return "val";
  if (n == "test" || n == "testing") return "test";
  return "";
}

absl::StatusOr<LabelTable> LoadOneLabelFile(const LabelOptions& o);

absl::StatusOr<LabelTable> LoadLabels(const LabelOptions& o) {
  std::vector<std::string> files = absl::StrSplit(o.csv, ',', absl::SkipEmpty());
  if (files.size() <= 1) return LoadOneLabelFile(o);
  LabelTable merged;
  const bool one_hot = o.preset == "generic" && !o.label_column.empty();
  std::vector<LabelTable> tables;
  for (const auto& f : files) {
    LabelOptions one = o;
    one.csv = f;
    auto t = LoadOneLabelFile(one);
    if (!t.ok()) return t.status();
    for (const auto& n : t->label_names) {
      if (std::find(merged.label_names.begin(), merged.label_names.end(), n) == merged.label_names.end()) {
        merged.label_names.push_back(n);
      }
    }
    tables.push_back(std::move(*t));
  }
  for (size_t k = 0; k < tables.size(); ++k) {
    LabelTable& t = tables[k];
    merged.problems.insert(merged.problems.end(), t.problems.begin(), t.problems.end());
    merged.derived_from_path = merged.derived_from_path || t.derived_from_path;
    for (auto& [key, e] : t.entries) {
      LabelEntry out = e;
      out.labels.assign(merged.label_names.size(), one_hot ? 0.f : kNaN);
      for (size_t j = 0; j < t.label_names.size(); ++j) {
        const size_t at = std::find(merged.label_names.begin(), merged.label_names.end(), t.label_names[j]) -
                          merged.label_names.begin();
        out.labels[at] = e.labels[j];
      }
      if (!merged.entries.emplace(key, std::move(out)).second) {
        merged.problems.push_back(absl::StrCat(files[k], ": '", key, "' is also in an earlier file; the first row is kept"));
      }
    }
  }
  return merged;
}

absl::StatusOr<LabelTable> LoadOneLabelFile(const LabelOptions& o) {
  const std::string& p = o.preset;
  if (o.uncertain != "ones" && o.uncertain != "zeros" && o.uncertain != "ignore" && o.uncertain != "official") {
    return absl::InvalidArgumentError(absl::StrCat("uncertain-label policy '", o.uncertain,
                                                   "' is not one of ones, zeros, ignore, official"));
  }
  const bool needs_csv = p != "folders" && p != "tb_filename" && p != "jsrt";
  if (needs_csv && o.csv.empty()) return absl::InvalidArgumentError(absl::StrCat("preset '", p, "' needs a labels CSV"));
  if (p == "generic") return Generic(o);
  if (p == "nih") return Nih(o);
  if (p == "chexpert") return Chexpert(o);
  if (p == "mimic") return Mimic(o);
  if (p == "vindr") return Vindr(o);
  if (p == "rsna") return Rsna(o);
  if (p == "siim") return Siim(o);
  LabelTable t;
  t.derived_from_path = true;
  if (p == "folders") return t;  // classes set by SetFolderClasses once the files are listed
  if (p == "tb_filename") {
    t.label_names = {"tuberculosis"};
    return t;
  }
  if (p == "jsrt") {
    t.label_names = {"nodule"};
    return t;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown label preset '", p,
                                                 "'; presets: generic, folders, nih, chexpert, mimic, vindr, rsna, "
                                                 "siim, tb_filename, jsrt"));
}

absl::StatusOr<std::vector<uint8_t>> DecodeSiimRle(const std::string& rle, int height, int width) {
  std::vector<uint8_t> mask(static_cast<size_t>(height) * width, 0);
  std::vector<int64_t> v;
  for (absl::string_view tok : absl::StrSplit(rle, ' ', absl::SkipEmpty())) {
    int64_t x;
    if (!absl::SimpleAtoi(tok, &x) || x < 0) return absl::InvalidArgumentError(absl::StrCat("bad RLE token '", tok, "'"));
    v.push_back(x);
  }
  if (v.size() % 2 != 0) return absl::InvalidArgumentError("RLE has an odd number of values");
  int64_t pos = 0;
  const int64_t total = static_cast<int64_t>(height) * width;
  for (size_t i = 0; i < v.size(); i += 2) {
    pos += v[i];
    for (int64_t k = 0; k < v[i + 1]; ++k) {
      const int64_t p = pos + k;
      if (p >= total) return absl::InvalidArgumentError("RLE runs past the image");
      // Column-major: p = x * height + y.
      mask[(p % height) * width + (p / height)] = 1;
    }
    pos += v[i + 1];
  }
  return mask;
}

}  // namespace chexworld
