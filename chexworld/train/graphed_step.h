// trainer.cuda_graph: the whole training step (forward, backward, clipping,
// AdamW, EMA) captured once in a CUDA graph and replayed for every later
// micro-batch, so that the host enqueues one graph launch instead of every
// operator. The batch is copied into fixed input buffers made at the first
// micro-batch (a fixed-shape step: masks of fixed lengths); the learning rate,
// weight decay and EMA momentum are device scalars the trainer fills before
// each step. The first `warmup` micro-batches run eagerly on a side stream (as
// capture needs: libraries initialise, the allocator settles), the next one is
// captured on that stream and replayed, and every later one replayed. The
// captured step's outputs (loss, terms, monitors, gradient norm) live in the
// graph's memory and are rewritten by each replay: read them before the next.
//
// CUDA builds only (CHEXWORLD_HAVE_CUDA); elsewhere Run fails. Not yet
// measured on a GPU (README).
#ifndef CHEXWORLD_TRAIN_GRAPHED_STEP_H_
#define CHEXWORLD_TRAIN_GRAPHED_STEP_H_

#include <functional>
#include <memory>
#include <utility>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "chexworld/data/batch.h"
#include "chexworld/objectives/objective.h"

namespace chexworld {

class GraphedStep {
 public:
  // One whole step on `batch` (already on the device): the objective's
  // outputs and the gradient norm. Must launch the same work every time.
  using StepFn = std::function<std::pair<ObjectiveOutput, torch::Tensor>(const WorldModelBatch& batch)>;

  GraphedStep(torch::Device device, StepFn step, int warmup = 3);
  ~GraphedStep();
  GraphedStep(const GraphedStep&) = delete;
  GraphedStep& operator=(const GraphedStep&) = delete;

  // Copies `host` into the input buffers and runs the step (eagerly, captured
  // or replayed). A batch of other shapes than the first fails.
  absl::StatusOr<std::pair<ObjectiveOutput, torch::Tensor>> Run(const WorldModelBatch& host);
  bool captured() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chexworld

#endif  // CHEXWORLD_TRAIN_GRAPHED_STEP_H_
