#include "chexworld/core/registry.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace chexworld {

const std::vector<std::string>& ComponentKinds() {
  static const auto* kinds = new std::vector<std::string>{
      "encoder", "predictor", "masker",   "objective", "dataset",
      "transform", "optimizer", "schedule", "evaluator"};
  return *kinds;
}

ComponentCatalog& ComponentCatalog::Global() {
  static auto* catalog = new ComponentCatalog();
  return *catalog;
}

namespace {

bool IsKnownKind(absl::string_view kind) {
  const auto& kinds = ComponentKinds();
  return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

bool IsSnakeCase(absl::string_view name) {
  if (name.empty() || !absl::ascii_islower(name[0])) return false;
  for (char c : name) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_')) return false;
  }
  return true;
}

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (absl::ascii_tolower(a[i - 1]) == absl::ascii_tolower(b[j - 1]) ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

std::string ClosestMatch(absl::string_view query, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = static_cast<size_t>(-1);
  for (const auto& c : candidates) {
    size_t d = EditDistance(query, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

absl::Status ComponentCatalog::Register(ComponentInfo info) {
  if (!IsKnownKind(info.kind)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown component kind '", info.kind, "' for '", info.name,
        "'; kinds: ", absl::StrJoin(ComponentKinds(), ", ")));
  }
  if (!IsSnakeCase(info.name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        info.kind, " name '", info.name, "' is not lower_snake_case"));
  }
  for (const auto& e : entries_) {
    if (e->kind == info.kind && e->name == info.name) {
      return absl::AlreadyExistsError(absl::StrCat(
          "duplicate ", info.kind, " '", info.name, "': registered with options ",
          e->options_type, " and again with ", info.options_type,
          "; each name must be registered once per kind"));
    }
  }
  entries_.push_back(std::make_unique<ComponentInfo>(std::move(info)));
  return absl::OkStatus();
}

absl::Status ComponentCatalog::RegisterVariant(ComponentVariant variant) {
  if (!IsSnakeCase(variant.name)) {
    return absl::InvalidArgumentError(absl::StrCat(variant.kind, " variant '", variant.name, "' is not lower_snake_case"));
  }
  for (const auto& v : variants_) {
    if (v->kind == variant.kind && v->name == variant.name) {
      return absl::AlreadyExistsError(absl::StrCat("duplicate ", variant.kind, " variant '", variant.name, "'"));
    }
  }
  variants_.push_back(std::make_unique<ComponentVariant>(std::move(variant)));
  return absl::OkStatus();
}

std::vector<const ComponentVariant*> ComponentCatalog::Variants(absl::string_view kind,
                                                                absl::string_view component) const {
  std::vector<const ComponentVariant*> out;
  for (const auto& v : variants_) {
    if (v->kind == kind && v->component == component) out.push_back(v.get());
  }
  return out;
}

std::vector<const ComponentInfo*> ComponentCatalog::List(absl::string_view kind) const {
  std::vector<const ComponentInfo*> out;
  for (const auto& e : entries_) {
    if (e->kind == kind) out.push_back(e.get());
  }
  std::sort(out.begin(), out.end(),
            [](const ComponentInfo* a, const ComponentInfo* b) { return a->name < b->name; });
  return out;
}

std::vector<std::string> ComponentCatalog::Names(absl::string_view kind) const {
  std::vector<std::string> names;
  for (const ComponentInfo* e : List(kind)) names.push_back(e->name);
  return names;
}

absl::StatusOr<const ComponentInfo*> ComponentCatalog::Find(absl::string_view kind,
                                                            absl::string_view name) const {
  if (!IsKnownKind(kind)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown component kind '", kind, "'; kinds: ", absl::StrJoin(ComponentKinds(), ", ")));
  }
  for (const auto& e : entries_) {
    if (e->kind == kind && e->name == name) return e.get();
  }
  std::vector<const ComponentInfo*> known = List(kind);
  std::string msg = name.empty() ? absl::StrCat("no ", kind, " name given")
                                 : absl::StrCat("unknown ", kind, " '", name, "'");
  // A variant's name: say how to write it.
  for (const auto& v : variants_) {
    if (v->kind != kind || v->name != name) continue;
    const ComponentInfo* c = nullptr;
    for (const auto& e : entries_) {
      if (e->kind == kind && e->name == v->component) c = e.get();
    }
    return absl::NotFoundError(absl::StrCat(
        msg, ": '", name, "' is a variant of ", kind, " '", v->component, "' (", v->description, "). Write\n  name: \"",
        v->component, "\"\n  options { [type.googleapis.com/", c != nullptr ? c->options_type : "?", "] { ", v->options,
        " } }\nor, on the command line, --set <slot>.name=", v->component, " --set <slot>.options.",
        absl::StrReplaceAll(v->options, {{": ", "="}, {"\"", ""}})));
  }
  if (known.empty()) {
    absl::StrAppend(&msg, ". No ", kind, " is registered in this binary.");
  } else {
    if (!name.empty()) {
      std::vector<std::string> candidates = Names(kind);
      for (const auto& v : variants_) {
        if (v->kind == kind) candidates.push_back(v->name);
      }
      const std::string closest = ClosestMatch(name, candidates);
      std::string hint;
      for (const auto& v : variants_) {
        if (v->kind == kind && v->name == closest) hint = absl::StrCat(" (", v->component, " with ", v->options, ")");
      }
      absl::StrAppend(&msg, ". Did you mean '", closest, "'", hint, "?");
    }
    absl::StrAppend(&msg, "\nRegistered ", kind, "s:");
    for (const ComponentInfo* e : known) {
      absl::StrAppend(&msg, "\n  ", e->name, "  ", e->description, "  [", e->options_type, "]");
    }
  }
  absl::StrAppend(&msg, "\nA component that exists in the source must have its library in this "
                        "binary's deps, built with alwayslink = True.");
  return absl::NotFoundError(msg);
}

std::string ComponentCatalog::Describe() const {
  std::string out;
  for (const auto& kind : ComponentKinds()) {
    auto known = List(kind);
    absl::StrAppend(&out, kind, " (", known.size(), ")\n");
    for (const ComponentInfo* e : known) {
      absl::StrAppend(&out, "  ", e->name, "  ", e->description, "  [", e->options_type, "]\n");
      for (const ComponentVariant* v : Variants(kind, e->name)) {
        absl::StrAppend(&out, "      variant ", v->name, ": ", v->options, "  ", v->description, "\n");
      }
    }
  }
  return out;
}

std::string AnyTypeName(const google::protobuf::Any& any) {
  const std::string& url = any.type_url();
  size_t slash = url.rfind('/');
  return slash == std::string::npos ? url : url.substr(slash + 1);
}

absl::StatusOr<std::unique_ptr<google::protobuf::Message>> UnpackOptions(
    const ComponentInfo& info, const ComponentSpec& spec) {
  std::unique_ptr<google::protobuf::Message> options = info.default_options();
  if (!spec.has_options() || spec.options().type_url().empty()) return options;
  const std::string type = AnyTypeName(spec.options());
  if (type != info.options_type) {
    return absl::InvalidArgumentError(absl::StrCat(
        info.kind, " '", info.name, "' takes options of type ", info.options_type,
        " but the config gives ", type));
  }
  if (!spec.options().UnpackTo(options.get())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot unpack ", type, " options of ", info.kind, " '", info.name, "'"));
  }
  return options;
}

}  // namespace chexworld

namespace chexworld::internal {

bool RegisterVariantOrDie(const char* kind, const char* component, const char* name, const char* options,
                          const char* description) {
  absl::Status s = ComponentCatalog::Global().RegisterVariant(ComponentVariant{kind, component, name, options, description});
  if (!s.ok()) {
    std::fprintf(stderr, "chexworld registry: %s\n", std::string(s.message()).c_str());
    std::abort();
  }
  return true;
}

}  // namespace chexworld::internal
