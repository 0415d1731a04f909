// The checkpoints folder of a run: checkpoint-<micro-batch, 10 digits>.pt, each
// with its .crc32 sidecar (core/durable_file.h). Torch-free.
#ifndef CHEXWORLD_TRAIN_CHECKPOINT_DIR_H_
#define CHEXWORLD_TRAIN_CHECKPOINT_DIR_H_

#include <cstdint>
#include <string>
#include <vector>

namespace chexworld {

// "<dir>/checkpoint-<iteration>.pt".
std::string CheckpointPath(const std::string& dir, int64_t iteration);

// Paths of the checkpoints in `dir`, oldest first (by micro-batch).
std::vector<std::string> ListCheckpoints(const std::string& dir);

// The newest checkpoint in `dir` ("" if none).
std::string LatestCheckpoint(const std::string& dir);

// Keeps the newest `keep` checkpoints; removes older ones with their
// sidecars, and temporaries and orphan sidecars that a kill left behind.
void PruneCheckpoints(const std::string& dir, int keep);

// Moves an unusable checkpoint aside (<path>.corrupt) so it is neither
// resumed nor counted, but stays for inspection. Returns the new path.
std::string QuarantineCheckpoint(const std::string& path);

}  // namespace chexworld

#endif  // CHEXWORLD_TRAIN_CHECKPOINT_DIR_H_
