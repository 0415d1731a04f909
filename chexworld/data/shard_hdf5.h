// HDF5 helpers shared by the shard writer and reader (shard.h): scoped
// handles, arrays, strings and attributes with errors that name the field.
// Private to //chexworld/data:shard.
#ifndef CHEXWORLD_DATA_SHARD_HDF5_H_
#define CHEXWORLD_DATA_SHARD_HDF5_H_

#include <hdf5.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "chexworld/data/shard.h"

namespace chexworld {
namespace shard_hdf5 {

// Closes an HDF5 handle on scope exit.
class H5Handle {
 public:
  H5Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~H5Handle() {
    if (id_ >= 0) close_(id_);
  }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

inline void SilenceHdf5() {
  static const bool once = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)once;
}

inline absl::Status WriteArray(hid_t loc, const std::string& name, hid_t type, const std::vector<hsize_t>& dims,
                        const void* data, hid_t dcpl = H5P_DEFAULT) {
  H5Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  H5Handle ds(H5Dcreate2(loc, name.c_str(), type, space.get(), H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) return absl::InternalError(absl::StrCat("cannot create dataset ", name));
  if (H5Dwrite(ds.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
    return absl::InternalError(absl::StrCat("cannot write dataset ", name));
  }
  return absl::OkStatus();
}

// Upper bound on one metadata array read: corrupt sizes fail instead of allocating.
inline constexpr uint64_t kMaxArrayBytes = uint64_t{1} << 32;

// Strings are fixed-length (NUL-padded) byte arrays: a corrupt file then
// yields wrong bytes, never a crash in HDF5's variable-length heap code.
inline absl::Status WriteStrings(hid_t loc, const std::string& name, const std::vector<std::string>& values) {
  size_t len = 1;
  for (const auto& v : values) len = std::max(len, v.size() + 1);
  std::vector<char> buf(values.size() * len, '\0');
  for (size_t i = 0; i < values.size(); ++i) std::memcpy(&buf[i * len], values[i].data(), values[i].size());
  H5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), len);
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  hsize_t n = values.size();
  H5Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  H5Handle ds(H5Dcreate2(loc, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
              H5Dclose);
  if (!ds.ok()) return absl::InternalError(absl::StrCat("cannot create dataset ", name));
  if (n > 0 && H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0) {
    return absl::InternalError(absl::StrCat("cannot write dataset ", name));
  }
  return absl::OkStatus();
}

inline absl::StatusOr<std::vector<std::string>> ReadStrings(hid_t loc, const std::string& name) {
  H5Handle ds(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) return absl::NotFoundError(absl::StrCat("no dataset ", name));
  H5Handle space(H5Dget_space(ds.get()), H5Sclose);
  H5Handle file_type(H5Dget_type(ds.get()), H5Tclose);
  hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0 || H5Tget_class(file_type.get()) != H5T_STRING || H5Tis_variable_str(file_type.get()) != 0) {
    return absl::DataLossError(absl::StrCat(name, " is not a fixed-length string dataset"));
  }
  const size_t len = H5Tget_size(file_type.get());
  if (len == 0 || len > (1 << 20) || static_cast<uint64_t>(n) * len > kMaxArrayBytes) return absl::DataLossError(absl::StrCat(name, ": implausible string size"));
  std::vector<std::string> out(n);
  if (n == 0) return out;
  std::vector<char> buf(static_cast<size_t>(n) * len);
  H5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), len);
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  H5Tset_cset(type.get(), H5Tget_cset(file_type.get()));
  if (H5Dread(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0) {
    return absl::DataLossError(absl::StrCat("cannot read ", name));
  }
  for (hssize_t i = 0; i < n; ++i) out[i] = std::string(&buf[i * len], strnlen(&buf[i * len], len));
  return out;
}

template <typename T>
absl::StatusOr<std::vector<T>> ReadNumeric(hid_t loc, const std::string& name, hid_t mem_type,
                                           std::vector<hsize_t>* dims_out = nullptr) {
  H5Handle ds(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) return absl::NotFoundError(absl::StrCat("no dataset ", name));
  H5Handle space(H5Dget_space(ds.get()), H5Sclose);
  int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(rank);
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  if (dims_out) *dims_out = dims;
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0 || static_cast<uint64_t>(n) * sizeof(T) > kMaxArrayBytes) {
    return absl::DataLossError(absl::StrCat(name, ": implausible size (", n, " elements)"));
  }
  std::vector<T> out(n);
  if (!out.empty() && H5Dread(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0) {
    return absl::DataLossError(absl::StrCat("cannot read ", name));
  }
  return out;
}

inline absl::Status WriteIntAttr(hid_t loc, const char* name, int64_t value) {
  H5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  H5Handle attr(H5Acreate2(loc, name, H5T_NATIVE_INT64, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.ok() || H5Awrite(attr.get(), H5T_NATIVE_INT64, &value) < 0) {
    return absl::InternalError(absl::StrCat("cannot write attribute ", name));
  }
  return absl::OkStatus();
}

inline absl::Status WriteStringAttr(hid_t loc, const char* name, const std::string& value) {
  H5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), value.size() + 1);
  H5Tset_strpad(type.get(), H5T_STR_NULLTERM);
  H5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  H5Handle attr(H5Acreate2(loc, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.ok() || H5Awrite(attr.get(), type.get(), value.c_str()) < 0) {
    return absl::InternalError(absl::StrCat("cannot write attribute ", name));
  }
  return absl::OkStatus();
}

inline absl::StatusOr<int64_t> ReadIntAttr(hid_t loc, const char* name) {
  H5Handle attr(H5Aopen(loc, name, H5P_DEFAULT), H5Aclose);
  int64_t v = 0;
  if (!attr.ok() || H5Aread(attr.get(), H5T_NATIVE_INT64, &v) < 0) {
    return absl::NotFoundError(absl::StrCat("attribute ", name, " missing"));
  }
  return v;
}

inline absl::StatusOr<std::string> ReadStringAttr(hid_t loc, const char* name) {
  H5Handle attr(H5Aopen(loc, name, H5P_DEFAULT), H5Aclose);
  if (!attr.ok()) return absl::NotFoundError(absl::StrCat("attribute ", name, " missing"));
  H5Handle file_type(H5Aget_type(attr.get()), H5Tclose);
  if (H5Tget_class(file_type.get()) != H5T_STRING || H5Tis_variable_str(file_type.get()) != 0) {
    return absl::DataLossError(absl::StrCat("attribute ", name, " is not a fixed-length string"));
  }
  const size_t len = H5Tget_size(file_type.get());
  if (len == 0 || len > 4096) return absl::DataLossError(absl::StrCat("attribute ", name, ": implausible size"));
  std::vector<char> buf(len + 1, '\0');
  if (H5Aread(attr.get(), file_type.get(), buf.data()) < 0) {
    return absl::DataLossError(absl::StrCat("cannot read attribute ", name));
  }
  return std::string(buf.data(), strnlen(buf.data(), len));
}

inline const char* PixelTypeName(PixelType t) { return t == PixelType::kUint16 ? "uint16" : "uint8"; }

inline uint32_t Crc(const void* data, size_t n) {
  return static_cast<uint32_t>(crc32(0L, static_cast<const Bytef*>(data), static_cast<uInt>(n)));
}

}  // namespace shard_hdf5
}  // namespace chexworld

#endif  // CHEXWORLD_DATA_SHARD_HDF5_H_
