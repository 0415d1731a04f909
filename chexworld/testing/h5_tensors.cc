#include "chexworld/testing/h5_tensors.h"

#include <hdf5.h>

#include "absl/strings/str_cat.h"

namespace chexworld {

absl::StatusOr<H5TensorFile> H5TensorFile::Open(const std::string& path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) return absl::NotFoundError(absl::StrCat("cannot open HDF5 file ", path));
  return H5TensorFile(id, path);
}

H5TensorFile::H5TensorFile(H5TensorFile&& other) noexcept : id_(other.id_), path_(std::move(other.path_)) {
  other.id_ = -1;
}

H5TensorFile::~H5TensorFile() {
  if (id_ >= 0) H5Fclose(id_);
}

absl::StatusOr<torch::Tensor> H5TensorFile::Read(const std::string& name) const {
  hid_t ds = H5Dopen2(id_, name.c_str(), H5P_DEFAULT);
  if (ds < 0) return absl::NotFoundError(absl::StrCat(path_, ": no dataset ", name));
  hid_t space = H5Dget_space(ds);
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(rank > 0 ? rank : 0);
  if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  hid_t type = H5Dget_type(ds);
  const H5T_class_t cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  torch::ScalarType dtype;
  hid_t mem_type;
  if (cls == H5T_FLOAT) {
    dtype = size == 8 ? torch::kFloat64 : torch::kFloat32;
    mem_type = size == 8 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
  } else if (cls == H5T_INTEGER) {
    dtype = torch::kInt64;
    mem_type = H5T_NATIVE_INT64;
  } else {
    H5Tclose(type);
    H5Sclose(space);
    H5Dclose(ds);
    return absl::InvalidArgumentError(absl::StrCat(path_, ": dataset ", name, " is not numeric"));
  }
  std::vector<int64_t> shape(dims.begin(), dims.end());
  auto t = torch::empty(shape, torch::TensorOptions().dtype(dtype));
  herr_t err = H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data_ptr());
  H5Tclose(type);
  H5Sclose(space);
  H5Dclose(ds);
  if (err < 0) return absl::DataLossError(absl::StrCat(path_, ": cannot read ", name));
  return t;
}

absl::StatusOr<std::vector<std::string>> H5TensorFile::List(const std::string& group) const {
  hid_t g = H5Gopen2(id_, group.c_str(), H5P_DEFAULT);
  if (g < 0) return absl::NotFoundError(absl::StrCat(path_, ": no group ", group));
  H5G_info_t info;
  H5Gget_info(g, &info);
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t n = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    std::string name(n, '\0');
    H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), n + 1, H5P_DEFAULT);
    names.push_back(name);
  }
  H5Gclose(g);
  return names;
}

absl::StatusOr<std::string> H5TensorFile::StringAttribute(const std::string& object, const std::string& name) const {
  hid_t attr = H5Aopen_by_name(id_, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
  if (attr < 0) return absl::NotFoundError(absl::StrCat(path_, ": no attribute ", object, "@", name));
  hid_t type = H5Aget_type(attr);
  std::string out;
  herr_t err;
  if (H5Tis_variable_str(type) > 0) {
    hid_t mem = H5Tcopy(H5T_C_S1);
    H5Tset_size(mem, H5T_VARIABLE);
    H5Tset_cset(mem, H5Tget_cset(type));
    char* s = nullptr;
    err = H5Aread(attr, mem, &s);
    if (err >= 0 && s != nullptr) out = s;
    if (s != nullptr) H5free_memory(s);
    H5Tclose(mem);
  } else {
    out.resize(H5Tget_size(type));
    err = H5Aread(attr, type, out.data());
    out = out.c_str();
  }
  H5Tclose(type);
  H5Aclose(attr);
  if (err < 0) return absl::DataLossError(absl::StrCat(path_, ": cannot read attribute ", name));
  return out;
}

}  // namespace chexworld
