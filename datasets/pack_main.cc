// Packs a folder of chest radiographs into HDF5 shards, e.g.
//
//   bazel run //datasets:pack -- --input=/data/nih/images --output=/data/nih/shards
//       --preset=nih --labels=/data/nih/Data_Entry_2017_v2020.csv.gz --size=256
//   bazel run //datasets:pack -- --input=../shared/data/kermany4/train
//       --output=data/kermany4 --preset=folders --size=256
//
// (one command per pair of lines).
//
// Relative paths are taken against your shell directory. Prints a progress
// bar, then a report: images packed, skipped (each with its reason), label
// rows that could not be used, positives per label.
#include <cstdlib>
#include <iostream>

#include <gflags/gflags.h>

#include "absl/strings/str_split.h"
#include "chexworld/core/flags.h"
#include "chexworld/core/paths.h"
#include "datasets/packer.h"

DEFINE_string(input, "", "folder of PNG/JPEG/DICOM images (searched recursively)");
DEFINE_string(output, "", "output folder for shard-*.h5 and manifest.textproto");
DEFINE_string(preset, "", "label preset: generic, folders, nih, chexpert, mimic, vindr, rsna, siim, tb_filename, jsrt; empty = no labels");
DEFINE_string(labels, "", "labels CSV of the preset (.csv or .csv.gz); several, comma-separated, are merged (CheXpert train.csv,valid.csv)");
DEFINE_string(metadata, "", "second CSV: mimic metadata, or rsna detailed class info");
DEFINE_string(file_column, "file", "generic: column with the image path relative to --input");
DEFINE_string(label_column, "", "generic: column with one class name per row");
DEFINE_string(label_columns, "", "generic: comma-separated 0/1 label columns");
DEFINE_string(label_list_column, "", "generic: column with label lists");
DEFINE_string(label_separator, "|", "generic: separator inside --label_list_column");
DEFINE_string(uncertain, "ignore", "CheXpert/MIMIC uncertain labels: ones, zeros, ignore (NaN), official");
DEFINE_bool(all_views, false, "CheXpert/MIMIC: keep lateral views too");
DEFINE_string(masks, "", "comma-separated name=folder pairs of PNG masks named like the images");
DEFINE_int32(size, 256, "packed side in pixels");
DEFINE_string(resize, "letterbox", "letterbox (keep aspect, pad) or square (stretch)");
DEFINE_bool(remove_border, true, "crop black borders before resizing");
DEFINE_bool(uint16, false, "store 16-bit pixels (default 8-bit)");
DEFINE_int32(shard_size, 1024, "images per shard");
DEFINE_int32(threads, 0, "decode threads (0 = all cores)");
DEFINE_string(split_column, "", "generic: column with each image's split (train, val/valid, test)");
DEFINE_string(split_lists, "", "split=file pairs, one image name per line (NIH: train=train_val_list.txt,test=test_list.txt)");
DEFINE_bool(progress, true, "progress bar on stderr");
DEFINE_bool(keep_unlabeled, false, "pack images without a label row (labels NaN) instead of skipping them");

int main(int argc, char** argv) {
  chexworld::ParseFlags("--input=DIR --output=DIR [--preset=P --labels=CSV] [--size=256]", __FILE__, &argc, &argv);
  if (FLAGS_input.empty() || FLAGS_output.empty()) {
    std::cerr << "error: --input and --output are required\n";
    return 2;
  }
  chexworld::PackOptions o;
  o.input_dir = chexworld::UserPath(FLAGS_input);
  if (char* real = realpath(o.input_dir.c_str(), nullptr)) {  // receipts name a clean absolute path
    o.input_dir = real;
    free(real);
  }
  o.output_dir = chexworld::UserPath(FLAGS_output);
  o.use_labels = !FLAGS_preset.empty();
  o.labels.preset = FLAGS_preset;
  for (absl::string_view f : absl::StrSplit(FLAGS_labels, ',', absl::SkipEmpty())) {  // several CSVs are merged
    o.labels.csv += (o.labels.csv.empty() ? "" : ",") + chexworld::UserPath(std::string(f));
  }
  o.labels.split_column = FLAGS_split_column;
  for (absl::string_view pair : absl::StrSplit(FLAGS_split_lists, ',', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
    if (kv.size() != 2) {
      std::cerr << "error: --split_lists expects split=file pairs, got '" << pair << "'\n";
      return 2;
    }
    o.split_lists.emplace_back(kv[0], chexworld::UserPath(kv[1]));
  }
  o.labels.metadata = FLAGS_metadata.empty() ? "" : chexworld::UserPath(FLAGS_metadata);
  o.labels.file_column = FLAGS_file_column;
  o.labels.label_column = FLAGS_label_column;
  if (!FLAGS_label_columns.empty()) o.labels.label_columns = absl::StrSplit(FLAGS_label_columns, ',');
  o.labels.label_list_column = FLAGS_label_list_column;
  o.labels.label_separator = FLAGS_label_separator;
  o.labels.uncertain = FLAGS_uncertain;
  o.labels.frontal_only = !FLAGS_all_views;
  for (absl::string_view pair : absl::StrSplit(FLAGS_masks, ',', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
    if (kv.size() != 2) {
      std::cerr << "error: --masks expects name=folder pairs, got '" << pair << "'\n";
      return 2;
    }
    o.mask_dirs.emplace_back(kv[0], chexworld::UserPath(kv[1]));
  }
  o.size = FLAGS_size;
  o.resize = FLAGS_resize;
  o.remove_border = FLAGS_remove_border;
  o.pixel_type = FLAGS_uint16 ? chexworld::PixelType::kUint16 : chexworld::PixelType::kUint8;
  o.shard_size = FLAGS_shard_size;
  o.threads = FLAGS_threads;
  o.keep_unlabeled = FLAGS_keep_unlabeled;
  o.progress = FLAGS_progress;
  auto report = chexworld::Pack(o);
  if (!report.ok()) {
    std::cerr << "error: " << report.status().message() << "\n";
    return 1;
  }
  std::cout << report->ToString();
  return 0;
}
