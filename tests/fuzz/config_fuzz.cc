// Experiment configs: the text-format parser, --set overrides and component
// resolution (registry lookups, Any options, validators) on arbitrary text.
// Input: a config, then optionally "\n--set\n" and one override per line.
// Whatever loads must print and parse back to the same config.
#include <cstdint>
#include <string>

#include "absl/strings/str_split.h"
#include "chexworld/core/config.h"
#include "chexworld/proto/experiment.pb.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  std::string text, sets;
  chexworld::SplitInput(in, "\n--set\n", &text, &sets);
  chexworld::ExperimentConfig config;
  if (!chexworld::ParseTextProto(text, "fuzz.textproto", &config).ok()) return 0;
  for (absl::string_view line : absl::StrSplit(sets, '\n', absl::SkipEmpty())) {
    if (!chexworld::ApplyOverride(line, &config).ok()) return 0;
  }
  if (!chexworld::ResolveComponents(&config).ok()) return 0;
  const std::string printed = chexworld::ToTextProto(config);
  chexworld::ExperimentConfig again;
  if (!chexworld::ParseTextProto(printed, "printed.textproto", &again).ok()) __builtin_trap();
  if (chexworld::ToTextProto(again) != printed) __builtin_trap();
  // The form with defaults spelled out parses to the same config too.
  chexworld::ExperimentConfig from_defaults;
  if (!chexworld::ParseTextProto(chexworld::ToTextProtoWithDefaults(config), "defaults.textproto", &from_defaults).ok()) {
    __builtin_trap();
  }
  if (chexworld::ToTextProto(from_defaults) != printed) __builtin_trap();
  return 0;
}
