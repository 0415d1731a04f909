// Reads HDF5 datasets and attributes as tensors/strings (parity fixtures, and
// any float32/int64 array file written by h5py).
#ifndef CHEXWORLD_TESTING_H5_TENSORS_H_
#define CHEXWORLD_TESTING_H5_TENSORS_H_

#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/status/statusor.h"

namespace chexworld {

class H5TensorFile {
 public:
  static absl::StatusOr<H5TensorFile> Open(const std::string& path);
  H5TensorFile(H5TensorFile&& other) noexcept;
  H5TensorFile& operator=(H5TensorFile&&) = delete;
  ~H5TensorFile();

  // float32 / float64 -> kFloat32 / kFloat64, integers -> kInt64. 0-d for scalars.
  absl::StatusOr<torch::Tensor> Read(const std::string& dataset) const;
  // Names of the members of a group ("/state_dict").
  absl::StatusOr<std::vector<std::string>> List(const std::string& group) const;
  // A string attribute of an object.
  absl::StatusOr<std::string> StringAttribute(const std::string& object, const std::string& name) const;

 private:
  H5TensorFile(long long id, std::string path) : id_(id), path_(std::move(path)) {}
  long long id_;
  std::string path_;
};

}  // namespace chexworld

#endif  // CHEXWORLD_TESTING_H5_TENSORS_H_
