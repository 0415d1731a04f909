#include "chexworld/eval/feature_cache.h"

#include <hdf5.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "chexworld/core/config.h"
#include "chexworld/core/paths.h"
#include "chexworld/core/status_macros.h"

namespace chexworld {
namespace {

// CRC-32 of a file's bytes, read in 4 MiB pieces.
absl::StatusOr<uint32_t> FileCrc(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::vector<char> buffer(4 << 20);
  uLong crc = crc32(0L, Z_NULL, 0);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(buffer.data()), static_cast<uInt>(in.gcount()));
  }
  return static_cast<uint32_t>(crc);
}

std::string CacheDir(const EvalContext& ctx, const EvalData& d) {
  if (d.feature_cache() == "off") return "";
  if (d.feature_cache().empty() || d.feature_cache() == "run") return ctx.run_dir + "/eval/features";
  return UserPath(d.feature_cache());
}

std::string CacheKey(const EvalContext& ctx, const std::string& weights, const EncoderSource& src, const TaskData& data,
                     const EvalData& d, const ImageSelection& selection) {
  const std::string rows = absl::StrJoin(selection.rows, ",");
  const std::string text = absl::StrCat(weights, "|", src.prefix(), "|", ToTextProto(ctx.config.model().encoder()), "|",
                                        ToTextProto(d.dataset()), "|", ToTextProto(d.test_dataset()), "|",
                                        data.image_size, "|", d.normalization(), "|", data.n, "|",
                                        std::hash<std::string>()(rows), "|", selection.key, "|", d.feature_precision());
  return absl::StrFormat("%s-%016x", src.name(), std::hash<std::string>()(text));
}

}  // namespace

absl::StatusOr<std::string> WeightsHash(const EvalContext& ctx, const EncoderSource& src) {
  const std::string ckpt = src.checkpoint().empty() ? ctx.pretrained : src.checkpoint();
  if (ckpt == "random" || ckpt.empty()) return absl::StrCat("random:", ctx.config.run().seed());
  const std::string path = UserPath(ckpt);
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return absl::NotFoundError(absl::StrCat("encoder '", src.name(), "': no file ", path));
  static std::mutex mu;
  static auto* known = new std::map<std::string, std::string>();  // path:size:mtime -> hash
  const std::string version = absl::StrCat(path, ":", st.st_size, ":", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec);
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = known->find(version); it != known->end()) return it->second;
  }
  ASSIGN_OR_RETURN(uint32_t crc, FileCrc(path));
  const std::string hash = absl::StrFormat("crc32:%08x:%d", crc, static_cast<int64_t>(st.st_size));
  std::lock_guard<std::mutex> lock(mu);
  (*known)[version] = hash;
  return hash;
}

absl::StatusOr<torch::Tensor> CachedFeatures(const EvalContext& ctx, LazyEncoder& encoder, const TaskData& data,
                                             const EvalData& d, const ImageSelection& selection) {
  const std::string dir = CacheDir(ctx, d);
  std::string path;
  if (!dir.empty()) {
    ASSIGN_OR_RETURN(std::string weights, WeightsHash(ctx, encoder.source()));
    path = absl::StrCat(dir, "/", CacheKey(ctx, weights, encoder.source(), data, d, selection), ".h5");
    if (auto cached = ReadFeatureCache(path, static_cast<int64_t>(selection.rows.size())); cached.ok()) {
      LOG(INFO) << "features of '" << encoder.source().name() << "'" << (selection.key.empty() ? "" : " (" + selection.key + ")")
                << " from " << path;
      return *cached;
    }
  }
  ASSIGN_OR_RETURN(std::shared_ptr<Encoder> enc, encoder.Get());
  const auto dtype = d.feature_precision() == "float16" ? torch::kHalf : torch::kFloat32;
  ASSIGN_OR_RETURN(torch::Tensor f, EncodeImages(*enc, data, PassFor(selection, *enc, d.normalization(), ctx.device),
                                                 ctx.device, /*pooled=*/true, dtype));
  if (!path.empty()) RETURN_IF_ERROR(WriteFeatureCache(path, f, encoder.source().name()));
  return f;
}

absl::Status WriteFeatureCache(const std::string& path, const torch::Tensor& f, const std::string& encoder) {
  RETURN_IF_ERROR(MakeDirectories(path.substr(0, path.find_last_of('/'))));
  const bool half = f.scalar_type() == torch::kHalf;
  auto t = (half ? f : f.to(torch::kFloat32)).contiguous();
  const std::string tmp = absl::StrCat(path, ".tmp", getpid());
  hid_t file = H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) return absl::PermissionDeniedError(absl::StrCat("cannot create ", tmp));
  hsize_t dims[2] = {static_cast<hsize_t>(t.size(0)), static_cast<hsize_t>(t.size(1))};
  hid_t space = H5Screate_simple(2, dims, nullptr);
  hid_t type = half ? H5T_NATIVE_UINT16 : H5T_NATIVE_FLOAT;
  hid_t ds = H5Dcreate2(file, "features", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  herr_t err = H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data_ptr());
  auto attribute = [&](const char* name, const std::string& value) {
    hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, value.size() + 1);
    hid_t scalar = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(ds, name, str, scalar, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(attr, str, value.c_str());
    H5Aclose(attr);
    H5Sclose(scalar);
    H5Tclose(str);
  };
  attribute("encoder", encoder);
  attribute("dtype", half ? "float16" : "float32");
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
  hid_t type = ds >= 0 ? H5Dget_type(ds) : -1;
  const size_t bytes = type >= 0 ? H5Tget_size(type) : 0;
  hsize_t dims[2] = {0, 0};
  const bool ok = space >= 0 && (bytes == 2 || bytes == 4) && H5Sget_simple_extent_ndims(space) == 2 &&
                  H5Sget_simple_extent_dims(space, dims, nullptr) == 2 && static_cast<int64_t>(dims[0]) == n &&
                  dims[1] > 0 && dims[1] < (1 << 16);
  torch::Tensor t;
  herr_t err = -1;
  if (ok) {
    const bool half = bytes == 2;
    t = torch::empty({static_cast<int64_t>(dims[0]), static_cast<int64_t>(dims[1])}, half ? torch::kHalf : torch::kFloat32);
    err = H5Dread(ds, half ? H5T_NATIVE_UINT16 : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data_ptr());
  }
  if (type >= 0) H5Tclose(type);
  if (space >= 0) H5Sclose(space);
  if (ds >= 0) H5Dclose(ds);
  H5Fclose(file);
  if (!ok || err < 0) return absl::DataLossError(absl::StrCat(path, ": not a feature cache for ", n, " images"));
  return t;
}

}  // namespace chexworld
