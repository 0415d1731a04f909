// File-system helpers shared by binaries and tests.
#ifndef CHEXWORLD_CORE_PATHS_H_
#define CHEXWORLD_CORE_PATHS_H_

#include <string>

#include "absl/status/statusor.h"

namespace chexworld {

// Resolves a user-supplied path: relative paths are taken against the shell
// directory `bazel run` was started from ($BUILD_WORKING_DIRECTORY), not the
// runfiles tree; absolute paths and plain runs use them as given.
std::string UserPath(const std::string& path);

// "<root>/<name>/<YYYYmmdd-HHMMSS>" under the user's directory; created.
absl::StatusOr<std::string> MakeRunDirectory(const std::string& root, const std::string& name);

// True when `path` names an existing file or folder.
bool PathExists(const std::string& path);

// Creates `path` and its parents.
absl::Status MakeDirectories(const std::string& path);

// Reads a whole file; NotFound naming the path.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Writes `contents` to `path` via a temporary file and rename(2), so readers
// never see a partial file.
absl::Status WriteFileAtomically(const std::string& path, const std::string& contents);

// Directory of the shared development data and parity fixtures (../shared next
// to the workspace, or $CHEXWORLD_SHARED_DIR); "" when absent.
std::string SharedDataDir();

}  // namespace chexworld

#endif  // CHEXWORLD_CORE_PATHS_H_
