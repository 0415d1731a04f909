// Registered datasets: "shards" and "phantom".
#include <sys/stat.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "chexworld/core/paths.h"
#include "chexworld/core/seed.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/data/dataset.h"
#include "chexworld/data/datasets.pb.h"
#include "chexworld/data/phantom.h"

namespace chexworld {

ShardDataset::ShardDataset(std::unique_ptr<ShardedDataset> shards, const std::vector<std::string>& splits)
    : shards_(std::move(shards)) {
  label_names_.assign(shards_->manifest().label_names().begin(), shards_->manifest().label_names().end());
  mask_names_.assign(shards_->manifest().mask_names().begin(), shards_->manifest().mask_names().end());
  if (!splits.empty()) {
    filtered_ = true;
    for (int64_t i = 0; i < shards_->size(); ++i) {
      if (std::find(splits.begin(), splits.end(), shards_->split(i)) != splits.end()) keep_.push_back(i);
    }
  }
}

namespace {

absl::Status ValidateShards(const ShardsOptions& o) {
  if (o.manifest().empty()) return absl::InvalidArgumentError("ShardsOptions.manifest is required");
  for (int i = 0; i < o.splits_size(); ++i) {
    if (o.splits(i) != "train" && o.splits(i) != "val" && o.splits(i) != "test") {
      return absl::InvalidArgumentError(absl::StrCat("ShardsOptions.splits[", i, "] = '", o.splits(i),
                                                     "' is not train, val or test"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Dataset>> CreateShards(const ShardsOptions& o) {
  ASSIGN_OR_RETURN(auto shards, ShardedDataset::Open(UserPath(o.manifest()), !o.skip_verify()));
  std::vector<std::string> splits(o.splits().begin(), o.splits().end());
  auto ds = std::make_shared<ShardDataset>(std::move(shards), splits);
  if (!splits.empty() && ds->size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(o.manifest(), ": no image is in the stored splits ",
                                                   absl::StrJoin(splits, ", "), " (ShardsOptions.splits)"));
  }
  return std::shared_ptr<Dataset>(ds);
}

PhantomDatasetOptions ResolvePhantom(const PhantomDatasetOptions& in) {
  PhantomDatasetOptions o = in;
  if (o.num_images() == 0) o.set_num_images(512);
  if (o.image_size() == 0) o.set_image_size(128);
  if (o.num_sites() == 0) o.set_num_sites(4);
  if (o.opacity_probability() == 0) o.set_opacity_probability(0.35f);
  if (o.cardiomegaly_probability() == 0) o.set_cardiomegaly_probability(0.3f);
  if (o.cache_dir().empty()) o.set_cache_dir("runs/cache");
  if (o.shard_size() == 0) o.set_shard_size(256);
  return o;
}

absl::Status ValidatePhantom(const PhantomDatasetOptions& in) {
  PhantomDatasetOptions o = ResolvePhantom(in);
  if (o.num_images() < 1) return absl::InvalidArgumentError("PhantomDatasetOptions.num_images must be >= 1");
  if (o.image_size() < 32 || o.image_size() > 2048) {
    return absl::InvalidArgumentError(absl::StrCat("PhantomDatasetOptions.image_size = ", o.image_size(), ": must be in [32, 2048]"));
  }
  if (o.opacity_probability() < 0 || o.opacity_probability() > 1 || o.cardiomegaly_probability() < 0 ||
      o.cardiomegaly_probability() > 1) {
    return absl::InvalidArgumentError("PhantomDatasetOptions probabilities must be in [0, 1]");
  }
  if (o.shard_size() < 1) return absl::InvalidArgumentError("PhantomDatasetOptions.shard_size must be >= 1");
  for (int i = 0; i < o.sites_size(); ++i) {
    if (o.sites(i) < 0 || o.sites(i) >= o.num_sites()) {
      return absl::InvalidArgumentError(absl::StrCat("PhantomDatasetOptions.sites[", i, "] = ", o.sites(i),
                                                     " is not a site in [0, ", o.num_sites(), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Dataset>> CreatePhantom(const PhantomDatasetOptions& in) {
  PhantomDatasetOptions o = ResolvePhantom(in);
  std::string only;
  for (int site : o.sites()) absl::StrAppend(&only, "_", site);
  const std::string dir = UserPath(absl::StrFormat("%s/phantom-v2-n%d-s%d-seed%d-sites%d%s-o%.3f-c%.3f", o.cache_dir(),
                                                   o.num_images(), o.image_size(), o.seed(), o.num_sites(),
                                                   only.empty() ? "" : "-only" + only, o.opacity_probability(),
                                                   o.cardiomegaly_probability()));
  const std::string manifest = dir + "/manifest.textproto";
  struct stat st;
  if (stat(manifest.c_str(), &st) != 0) {
    // Generate (deterministic per index), then publish by writing the manifest last.
    PhantomOptions po;
    po.image_size = o.image_size();
    po.num_sites = o.num_sites();
    po.opacity_probability = o.opacity_probability();
    po.cardiomegaly_probability = o.cardiomegaly_probability();
    ShardSchema schema;
    schema.height = schema.width = o.image_size();
    schema.label_names = PhantomLabelNames();
    schema.mask_names = PhantomMaskNames();
    ShardSetWriter writer(dir, schema, o.shard_size(), absl::StrCat("chexworld phantom, seed ", o.seed()));
    for (int i = 0; i < o.num_images(); ++i) {
      PhantomImage p = MakePhantom(po, o.seed(), i);
      if (o.sites_size() > 0 && std::find(o.sites().begin(), o.sites().end(), p.site) == o.sites().end()) continue;
      ShardRecord r;
      const uint64_t draw = MixSeed(o.seed() * 1000003 + static_cast<uint64_t>(i) + 17) % 10;
      r.split = draw < 7 ? "train" : draw < 8 ? "val" : "test";
      r.id = absl::StrFormat("phantom-%06d", i);
      r.image = std::move(p.image);
      r.labels = std::move(p.labels);
      r.masks = std::move(p.masks);
      r.receipt.source_path = absl::StrCat("phantom:seed=", o.seed(), ":index=", i, ":site=", p.site);
      r.receipt.original_height = r.receipt.original_width = o.image_size();
      r.receipt.photometric = "MONOCHROME2";
      r.receipt.crop_box = r.receipt.content_box = Box{0, 0, o.image_size(), o.image_size()};
      RETURN_IF_ERROR(writer.Add(std::move(r)));
    }
    RETURN_IF_ERROR(writer.Finish().status());
  }
  ASSIGN_OR_RETURN(auto shards, ShardedDataset::Open(manifest));
  return std::shared_ptr<Dataset>(std::make_shared<ShardDataset>(std::move(shards)));
}

}  // namespace

CHEXWORLD_REGISTER_COMPONENT("dataset", "shards", ShardsOptions, Dataset,
                             "HDF5 radiograph shards listed by a manifest (made by the datasets/ packers)",
                             &CreateShards, &ValidateShards);
CHEXWORLD_REGISTER_COMPONENT("dataset", "phantom", PhantomDatasetOptions, Dataset,
                             "built-in synthetic chest phantom with findings, site styles and masks (no download)",
                             &CreatePhantom, &ValidatePhantom);

}  // namespace chexworld
