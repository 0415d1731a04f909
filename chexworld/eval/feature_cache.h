// Frozen features cached as HDF5 in the run folder (one file per encoder and
// data setting), so probes and k-NN reuse one extraction per checkpoint.
#ifndef CHEXWORLD_EVAL_FEATURE_CACHE_H_
#define CHEXWORLD_EVAL_FEATURE_CACHE_H_

#include <string>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "chexworld/eval/evaluator.h"

namespace chexworld {

// Identifies the encoder weights (path, size, mtime) and the data setting.
std::string FeatureCacheKey(const EvalContext& ctx, const EncoderSource& source, const TaskData& data,
                            const EvalData& d);
// /features [N, D] float32, attribute "encoder".
absl::Status WriteFeatureCache(const std::string& path, const torch::Tensor& features, const std::string& encoder);
// NotFound when absent; DataLoss when it does not hold `n` rows.
absl::StatusOr<torch::Tensor> ReadFeatureCache(const std::string& path, int64_t n);

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_FEATURE_CACHE_H_
