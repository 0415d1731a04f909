// Loading experiment configs: text format with file:line:column errors,
// `--set path=value` overrides, and resolution of every ComponentSpec against
// its registry (defaults expanded, options types and values checked) before any
// work starts.
//
//   ASSIGN_OR_RETURN(ExperimentConfig config,
//                    LoadExperimentConfig("experiments/pretrain/tiny.textproto",
//                                         {"trainer.max_steps=10"}));
#ifndef CHEXWORLD_CORE_CONFIG_H_
#define CHEXWORLD_CORE_CONFIG_H_

#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "chexworld/proto/experiment.pb.h"

namespace chexworld {

// Parses `text` (named `filename` in errors) into `message`. Errors read
// "<filename>:<line>:<column>: <parser message>".
absl::Status ParseTextProto(absl::string_view text, absl::string_view filename,
                            google::protobuf::Message* message);
absl::Status ParseTextProtoFile(const std::string& path, google::protobuf::Message* message);

// Applies one "path=value" assignment. The path is dotted field names with
// optional [index] for repeated fields; it descends into ComponentSpec options
// (`model.encoder.options.depth=6`). A scalar value is parsed as text format
// (strings need no quotes); a message-typed path takes a text-format message.
// Setting a ComponentSpec's `name` to a component with another options type
// clears the options (the new component's defaults apply). An empty value on
// a repeated field clears it ("evals=").
absl::Status ApplyOverride(absl::string_view assignment, google::protobuf::Message* root);

// Resolves every ComponentSpec field annotated with (component_kind):
// checks the name against the registry, fills default options, checks the
// options type and runs the component's validator. Empty, unset specs are
// skipped (that slot is unused).
absl::Status ResolveComponents(google::protobuf::Message* message);

// File + overrides + resolution.
absl::StatusOr<ExperimentConfig> LoadExperimentConfig(const std::string& path,
                                                      const std::vector<std::string>& overrides);

// Text format with Any options expanded, fields at their default omitted
// (the canonical form checkpoints store and compare).
std::string ToTextProto(const google::protobuf::Message& message);

// The same with every scalar field printed, defaults included (seed: 0,
// precision: FP32, ...): what --print_resolved shows and run folders keep.
// Parses back to the same message.
std::string ToTextProtoWithDefaults(const google::protobuf::Message& message);

// Writes ToTextProto(message), or ToTextProtoWithDefaults, to `path` (atomically).
absl::Status WriteTextProto(const google::protobuf::Message& message, const std::string& path,
                            bool with_defaults = false);

}  // namespace chexworld

#endif  // CHEXWORLD_CORE_CONFIG_H_
