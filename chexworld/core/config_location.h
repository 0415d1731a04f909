// Where a config field got its value: the place to point at when a rule
// between fields fails ("warm-up longer than the run"). Torch-free.
//
//   const std::string where = LocateConfigField(text, "experiments/x.textproto", sets,
//                                               "schedule.lr.options.warmup_epochs");
//   // "experiments/x.textproto:31:71", "--set schedule.lr.options.warmup_epochs=40", or ""
#ifndef CHEXWORLD_CORE_CONFIG_LOCATION_H_
#define CHEXWORLD_CORE_CONFIG_LOCATION_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace chexworld {

// `field_path` is dotted field names as --set takes them (repeated fields with
// [index]; a ComponentSpec's "options" steps over the Any's type URL). The
// last --set that assigns the field or a message containing it wins, else the
// field's last assignment in `text` ("<filename>:<line>:<column>"), else "" (the
// default applies).
std::string LocateConfigField(const std::string& text, const std::string& filename,
                              const std::vector<std::string>& sets, const std::string& field_path);

// A status carries the config field it is about as a payload under this URL;
// runners turn it into a location (ConfigFieldOf, LocateConfigField).
inline constexpr char kConfigFieldPayload[] = "type.chexworld/config_field";
absl::Status WithConfigField(absl::Status status, const std::string& field_path);
std::string ConfigFieldOf(const absl::Status& status);

// The status's message, led by where its field was set ("x.textproto:31:71: "
// or "--set ...: "), reading the config file at `config_path`.
std::string MessageWithLocation(const absl::Status& status, const std::string& config_path,
                                const std::vector<std::string>& sets);

}  // namespace chexworld

#endif  // CHEXWORLD_CORE_CONFIG_LOCATION_H_
