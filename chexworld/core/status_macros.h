// Status propagation helpers (in the style of MediaPipe's ret_check / status_macros).
//
//   RETURN_IF_ERROR(DoThing()) << is not supported; add context with
//   RETURN_IF_ERROR_CTX(DoThing(), "while loading ", path).
//   ASSIGN_OR_RETURN(auto x, MakeX());
#ifndef CHEXWORLD_CORE_STATUS_MACROS_H_
#define CHEXWORLD_CORE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace chexworld {

// Returns `status` with `context` prepended to its message ("context: message"),
// keeping its code and payloads (IsPreempted and friends read payloads).
inline absl::Status AddContext(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  absl::Status out(status.code(), absl::StrCat(context, ": ", status.message()));
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

}  // namespace chexworld

#define CHEXWORLD_CONCAT_INNER(a, b) a##b
#define CHEXWORLD_CONCAT(a, b) CHEXWORLD_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                                 \
  do {                                                        \
    const ::absl::Status _chexworld_status = (expr);          \
    if (!_chexworld_status.ok()) return _chexworld_status;    \
  } while (0)

#define RETURN_IF_ERROR_CTX(expr, ...)                                          \
  do {                                                                          \
    const ::absl::Status _chexworld_status = (expr);                            \
    if (!_chexworld_status.ok())                                                \
      return ::chexworld::AddContext(_chexworld_status, ::absl::StrCat(__VA_ARGS__)); \
  } while (0)

#define CHEXWORLD_ASSIGN_OR_RETURN_IMPL(var, lhs, expr) \
  auto var = (expr);                                    \
  if (!var.ok()) return std::move(var).status();        \
  lhs = std::move(var).value()

#define ASSIGN_OR_RETURN(lhs, expr) \
  CHEXWORLD_ASSIGN_OR_RETURN_IMPL(CHEXWORLD_CONCAT(_chexworld_or_, __LINE__), lhs, expr)

#endif  // CHEXWORLD_CORE_STATUS_MACROS_H_
