// Frozen features of an encoder pass, cached as HDF5 (EvalData.feature_cache:
// the run folder, a folder runs share, or off), keyed by a hash of the
// encoder's weights, the data, input size, normalisation, the images and
// their shift, so probes, k-NN and re-evaluations of the same encoder read
// one extraction back instead of streaming the images again.
#ifndef CHEXWORLD_EVAL_FEATURE_CACHE_H_
#define CHEXWORLD_EVAL_FEATURE_CACHE_H_

#include <string>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "chexworld/eval/evaluator.h"

namespace chexworld {

// Mean-pooled features (rows x D, float32 or float16 as EvalData.
// feature_precision) of `selection` under `encoder`: from the cache when a
// pass with the same key wrote them, else one streamed pass, then cached.
absl::StatusOr<torch::Tensor> CachedFeatures(const EvalContext& context, LazyEncoder& encoder, const TaskData& data,
                                             const EvalData& d, const ImageSelection& selection);

// The weights' identity: "random:<seed>", or a CRC-32 and the size of the
// checkpoint's bytes (hashed once per process and file version).
absl::StatusOr<std::string> WeightsHash(const EvalContext& context, const EncoderSource& source);

// /features [N, D]: float32, or float16 stored as its 16 bits (attribute
// "dtype"); attribute "encoder".
absl::Status WriteFeatureCache(const std::string& path, const torch::Tensor& features, const std::string& encoder);
// NotFound when absent; DataLoss when it does not hold `n` rows.
absl::StatusOr<torch::Tensor> ReadFeatureCache(const std::string& path, int64_t n);

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_FEATURE_CACHE_H_
