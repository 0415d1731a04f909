// Label schemas of the public chest X-ray datasets, read from their own files.
//
// Presets (the CSV each expects):
//   generic     any CSV: --file_column plus --label_column (one class per row),
//               --label_columns (one 0/1 column per label) or --label_list_column
//               ("A|B" lists, --label_separator)
//   folders     no CSV: the class is the image's parent folder
//   nih         Data_Entry_2017*.csv[.gz] (ChestX-ray14): "Image Index", "Finding Labels", "Patient ID"
//   chexpert    CheXpert train.csv/valid.csv: "Path", 14 label columns (1, 0, -1 uncertain, blank)
//   mimic       mimic-cxr-2.0.0-chexpert.csv + --metadata mimic-cxr-2.0.0-metadata.csv (dicom_id, ViewPosition)
//   vindr       VinDr-CXR image_labels_{train,test}.csv: image_id, rad_id, one column per finding
//   rsna        RSNA Pneumonia stage_2_train_labels.csv (boxes) [+ --metadata stage_2_detailed_class_info.csv: 3 classes]
//   siim        SIIM-ACR train-rle.csv: ImageId, EncodedPixels (run-length masks, 1024x1024)
//   tb_filename Shenzhen / Montgomery: no CSV; *_1.png = tuberculosis, *_0.png = normal
//   jsrt        JSRT: no CSV; JPCLN* = nodule, JPCNN* = no nodule (masks from --mask folders)
//
// Uncertain labels (CheXpert, MIMIC): "ones", "zeros", "ignore" (NaN, default)
// or "official" (CheXWorld: U-Ones for Atelectasis and Edema, U-Zeros else).
// Rows that cannot be used are not fatal: each becomes a problem line naming
// the file and line, and the packer reports them.
#ifndef DATASETS_LABELS_H_
#define DATASETS_LABELS_H_

#include <array>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace chexworld {

struct LabelOptions {
  std::string preset = "generic";
  std::string csv;       // the preset's main file
  std::string metadata;  // mimic metadata / rsna class info
  std::string file_column = "file";
  std::string label_column;                // generic: one class name per row
  std::vector<std::string> label_columns;  // generic: 0/1 columns
  std::string label_list_column;           // generic: "A|B"
  std::string label_separator = "|";
  std::string uncertain = "ignore";
  std::string split_column;  // generic: the image's split (train / val / valid / test)
  bool frontal_only = true;  // chexpert / mimic
};

struct LabelEntry {
  std::vector<float> labels;  // NaN = unknown
  std::string patient_id;
  std::string split;          // "train", "val", "test" or "" (from --split_column)
  std::vector<std::array<float, 4>> boxes;  // x, y, w, h in source pixels (rsna)
  std::vector<std::string> rle;             // SIIM run-length strings
};

struct LabelTable {
  std::vector<std::string> label_names;
  std::map<std::string, LabelEntry> entries;  // key: relative path, or its stem
  std::vector<std::string> problems;          // "file:line: reason"
  bool derived_from_path = false;             // folders, tb_filename, jsrt: Lookup computes labels

  // The entry for an image at `relative_path` (tries the path, then without
  // extension, then the file name, then its stem); nullptr if none.
  const LabelEntry* Find(const std::string& relative_path) const;
  // For presets that derive labels from the path. False if it cannot.
  bool FromPath(const std::string& relative_path, LabelEntry* out) const;
};

// `options.csv` may list several files separated by commas (CheXpert's
// train.csv and valid.csv; VinDr's train and test files): their tables are
// merged by label name (a name missing from one file is unknown there, or 0
// for one-class-per-row tables).
absl::StatusOr<LabelTable> LoadLabels(const LabelOptions& options);

// "train"/"training", "val"/"valid"/"validation"/"dev", "test"/"testing" (any
// case) -> "train", "val", "test"; "" for anything else.
std::string NormalizeSplit(const std::string& name);

// For the folders preset: class names are the sorted parent-folder names.
void SetFolderClasses(LabelTable* table, const std::vector<std::string>& relative_paths);

// SIIM run-length encoding (relative starts, column-major) to a 0/1 mask.
absl::StatusOr<std::vector<uint8_t>> DecodeSiimRle(const std::string& rle, int height, int width);

}  // namespace chexworld

#endif  // DATASETS_LABELS_H_
