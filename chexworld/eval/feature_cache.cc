#include "chexworld/eval/feature_cache.h"

#include <hdf5.h>
#include <sys/stat.h>

#include <cstdio>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "chexworld/core/config.h"
#include "chexworld/core/paths.h"
#include "chexworld/core/status_macros.h"

namespace chexworld {

std::string FeatureCacheKey(const EvalContext& ctx, const EncoderSource& src, const TaskData& data,
                            const EvalData& d) {
  std::string ckpt = src.checkpoint().empty() ? ctx.pretrained : src.checkpoint();
  std::string stamp = ckpt;
  struct stat st;
  if (stat(UserPath(ckpt).c_str(), &st) == 0) absl::StrAppend(&stamp, ":", st.st_size, ":", st.st_mtime);
  const std::string text = absl::StrCat(stamp, "|", src.prefix(), "|", ToTextProto(ctx.config.model().encoder()), "|",
                                        ToTextProto(d.dataset()), "|", ToTextProto(d.test_dataset()), "|",
                                        data.images.empty() ? 0 : data.images[0].height,
                                        "|", d.normalization(), "|", data.n);
  return absl::StrFormat("%s-%016x", src.name(), std::hash<std::string>()(text));
}

absl::Status WriteFeatureCache(const std::string& path, const torch::Tensor& f, const std::string& encoder) {
  RETURN_IF_ERROR(MakeDirectories(path.substr(0, path.find_last_of('/'))));
  auto t = f.to(torch::kFloat32).contiguous();
  const std::string tmp = path + ".tmp";
  hid_t file = H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) return absl::PermissionDeniedError(absl::StrCat("cannot create ", tmp));
  hsize_t dims[2] = {static_cast<hsize_t>(t.size(0)), static_cast<hsize_t>(t.size(1))};
  hid_t space = H5Screate_simple(2, dims, nullptr);
  hid_t ds = H5Dcreate2(file, "features", H5T_NATIVE_FLOAT, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  herr_t err = H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data_ptr<float>());
  hid_t str = H5Tcopy(H5T_C_S1);
  H5Tset_size(str, encoder.size() + 1);
  hid_t scalar = H5Screate(H5S_SCALAR);
  hid_t attr = H5Acreate2(ds, "encoder", str, scalar, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(attr, str, encoder.c_str());
  H5Aclose(attr);
  H5Sclose(scalar);
  H5Tclose(str);
  H5Dclose(ds);
  H5Sclose(space);
  H5Fclose(file);
  if (err < 0) return absl::DataLossError(absl::StrCat("cannot write ", tmp));
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return absl::PermissionDeniedError(absl::StrCat("cannot rename ", tmp));
  return absl::OkStatus();
}

absl::StatusOr<torch::Tensor> ReadFeatureCache(const std::string& path, int64_t n) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return absl::NotFoundError(path);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) return absl::DataLossError(absl::StrCat(path, ": unreadable"));
  hid_t ds = H5Dopen2(file, "features", H5P_DEFAULT);
  hid_t space = ds >= 0 ? H5Dget_space(ds) : -1;
  hsize_t dims[2] = {0, 0};
  const bool ok = space >= 0 && H5Sget_simple_extent_ndims(space) == 2 &&
                  H5Sget_simple_extent_dims(space, dims, nullptr) == 2 && static_cast<int64_t>(dims[0]) == n &&
                  dims[1] > 0 && dims[1] < (1 << 16);
  torch::Tensor t;
  herr_t err = -1;
  if (ok) {
    t = torch::empty({static_cast<int64_t>(dims[0]), static_cast<int64_t>(dims[1])});
    err = H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data_ptr<float>());
  }
  if (space >= 0) H5Sclose(space);
  if (ds >= 0) H5Dclose(ds);
  H5Fclose(file);
  if (!ok || err < 0) return absl::DataLossError(absl::StrCat(path, ": not a feature cache for ", n, " images"));
  return t;
}

}  // namespace chexworld
