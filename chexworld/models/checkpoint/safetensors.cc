#include "chexworld/models/checkpoint/safetensors.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "chexworld/core/paths.h"

namespace chexworld {
namespace {

const char* Code(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return "F32";
    case torch::kFloat64: return "F64";
    case torch::kFloat16: return "F16";
    case torch::kBFloat16: return "BF16";
    case torch::kInt64: return "I64";
    case torch::kInt32: return "I32";
    case torch::kInt16: return "I16";
    case torch::kInt8: return "I8";
    case torch::kUInt8: return "U8";
    case torch::kBool: return "BOOL";
    default: return nullptr;
  }
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace

absl::Status SaveSafetensors(const NamedTensors& tensors, const std::string& path,
                             const std::map<std::string, std::string>& metadata) {
  std::vector<std::string> entries;
  if (!metadata.empty()) {
    std::vector<std::string> kv;
    for (const auto& [k, v] : metadata) kv.push_back(JsonString(k) + ":" + JsonString(v));
    entries.push_back("\"__metadata__\":{" + absl::StrJoin(kv, ",") + "}");
  }
  std::string data;
  for (const auto& [name, tensor] : tensors) {
    const char* code = Code(tensor.scalar_type());
    if (code == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' has dtype ", c10::toString(tensor.scalar_type()),
                                                     ", which safetensors cannot store"));
    }
    torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
    const size_t begin = data.size(), bytes = static_cast<size_t>(t.numel()) * t.element_size();
    data.append(static_cast<const char*>(t.data_ptr()), bytes);  // x86-64 and aarch64 are little-endian
    std::vector<std::string> shape;
    for (int64_t d : t.sizes()) shape.push_back(absl::StrCat(d));
    entries.push_back(absl::StrCat(JsonString(name), ":{\"dtype\":\"", code, "\",\"shape\":[", absl::StrJoin(shape, ","),
                                   "],\"data_offsets\":[", begin, ",", begin + bytes, "]}"));
  }
  std::string header = "{" + absl::StrJoin(entries, ",") + "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return WriteFileAtomically(path, out + header + data);
}

}  // namespace chexworld
