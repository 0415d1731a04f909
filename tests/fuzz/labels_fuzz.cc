// The CSV reader and every label preset (NIH, CheXpert, MIMIC, VinDr, RSNA,
// SIIM run-length masks, generic) on arbitrary CSV text. The first byte picks
// the preset; the rest is the CSV (also used as the preset's metadata file).
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/csv.h"
#include "datasets/labels.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string csv(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto table = chexworld::ParseCsv(csv, "fuzz.csv");
  if (table.ok()) {
    for (size_t r = 0; r < table->rows.size(); ++r) {
      if (table->rows[r].size() != table->header.size()) __builtin_trap();  // the reader pads or rejects
    }
    if (!table->rows.empty() && !table->rows[0].empty()) {
      chexworld::DecodeSiimRle(table->rows[0].back(), 16, 16).IgnoreError();
    }
  }
  static const char* const kPresets[] = {"generic", "nih", "chexpert", "mimic", "vindr", "rsna", "siim"};
  chexworld::LabelOptions o;
  o.preset = kPresets[data[0] % 7];
  o.csv = chexworld::WriteScratch("labels.csv", csv);
  o.metadata = o.csv;
  o.uncertain = (data[0] / 7) % 2 ? "official" : "ignore";
  if (o.preset == "generic") {
    if (data[0] & 0x40) {
      o.label_list_column = "labels";
    } else if (table.ok() && table->header.size() > 1) {
      o.label_columns.assign(table->header.begin() + 1, table->header.end());
    } else {
      o.label_column = "label";
    }
  }
  auto labels = chexworld::LoadLabels(o);
  if (labels.ok()) {
    for (const auto& [key, entry] : labels->entries) {
      if (entry.labels.size() != labels->label_names.size()) __builtin_trap();
      labels->Find(key);
    }
  }
  return 0;
}
