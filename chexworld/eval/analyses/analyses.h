// World-model analyses (METHOD 7): probes of the three kinds of knowledge a
// CheXWorld model should have learned, run on held-out images with the
// trained encoder, EMA target encoder and predictor (eval mode).
//
//   local structure    masked-patch retrieval: predicted tokens retrieve the
//                      true (image, position) among all positions of this and
//                      other images (top-1/top-5), MSE and cosine vs targets.
//   global layout      cross-crop prediction of the other crop's full token
//                      map with the true offset, offset 0 and a wrong offset
//                      (another sample's); position-retrieval accuracy.
//   domain variation   prediction of the clean view's tokens from the
//                      augmented view, conditioned on the true action, the
//                      identity action and a shuffled action.
// A model trained with the corresponding term should show a gap between the
// true and the ablated conditions; one trained without it should not.
#ifndef CHEXWORLD_EVAL_ANALYSES_ANALYSES_H_
#define CHEXWORLD_EVAL_ANALYSES_ANALYSES_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "chexworld/data/batch.h"
#include "chexworld/models/encoder.h"
#include "chexworld/models/predictor.h"

namespace chexworld {

struct AnalysisResult {
  std::string name;
  // condition -> metric -> value, e.g. "true offset" -> {"mse", "cosine", "position_top1"}.
  std::vector<std::pair<std::string, std::map<std::string, double>>> conditions;
};

struct WorldModel {
  Encoder* encoder = nullptr;  // context encoder
  Encoder* target = nullptr;   // EMA target encoder
  Predictor* predictor = nullptr;
};

// `batch` comes from the pretraining loader (two views, actions, offsets, masks).
AnalysisResult MaskedPatchRetrieval(const WorldModel& m, const WorldModelBatch& batch);
AnalysisResult CrossCropPrediction(const WorldModel& m, const WorldModelBatch& batch);
AnalysisResult ActionConditioning(const WorldModel& m, const WorldModelBatch& batch);

// Markdown table of results, and an SVG bar chart of one metric, a bar per
// condition (figure.h).
std::string ToMarkdown(const std::vector<AnalysisResult>& results);
std::string AnalysisFigure(const AnalysisResult& r, const std::string& metric, const std::string& title,
                           const std::string& ylabel);

}  // namespace chexworld

#endif  // CHEXWORLD_EVAL_ANALYSES_ANALYSES_H_
