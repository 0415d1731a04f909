#include "chexworld/core/config.h"

#include <google/protobuf/any.pb.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "chexworld/core/paths.h"
#include "chexworld/core/registry.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/proto/component.pb.h"

namespace chexworld {
namespace {

namespace pb = google::protobuf;

std::string FieldNames(const pb::Descriptor* d);

// " (did you mean 'patch_size'? ...)" for protobuf's `Message type "T" has no
// field named "f".`; "" for any other message.
std::string UnknownFieldHint(const std::string& message) {
  const std::string type_mark = "Message type \"", field_mark = "\" has no field named \"";
  const size_t t = message.find(type_mark), f = message.find(field_mark);
  if (t == std::string::npos || f == std::string::npos || f < t) return "";
  const std::string type = message.substr(t + type_mark.size(), f - t - type_mark.size());
  const size_t end = message.find('"', f + field_mark.size());
  const std::string field = message.substr(f + field_mark.size(), end == std::string::npos ? std::string::npos : end - f - field_mark.size());
  const pb::Descriptor* d = pb::DescriptorPool::generated_pool()->FindMessageTypeByName(type);
  if (d == nullptr) return "";
  std::vector<std::string> names;
  for (int i = 0; i < d->field_count(); ++i) names.push_back(d->field(i)->name());
  const std::string closest = ClosestMatch(field, names);
  return absl::StrCat(closest.empty() ? "" : absl::StrCat(" Did you mean '", closest, "'?"),
                      " Its fields are: ", FieldNames(d));
}

class CollectingErrors : public pb::io::ErrorCollector {
 public:
  explicit CollectingErrors(std::string filename) : filename_(std::move(filename)) {}
  void AddError(int line, int column, const std::string& message) override {
    errors_.push_back(absl::StrCat(filename_, ":", line + 1, ":", column + 1, ": ", message, UnknownFieldHint(message)));
  }
  void AddWarning(int line, int column, const std::string& message) override {
    errors_.push_back(
        absl::StrCat(filename_, ":", line + 1, ":", column + 1, ": warning: ", message));
  }
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::string filename_;
  std::vector<std::string> errors_;
};

bool IsComponentSpec(const pb::Descriptor* d) {
  return d->full_name() == ComponentSpec::descriptor()->full_name();
}

std::string FieldNames(const pb::Descriptor* d) {
  std::vector<std::string> names;
  for (int i = 0; i < d->field_count(); ++i) names.push_back(d->field(i)->name());
  return absl::StrJoin(names, ", ");
}

// One path element: a field name and an optional [index].
struct PathToken {
  std::string field;
  int index = -1;
};

absl::StatusOr<std::vector<PathToken>> SplitPath(absl::string_view path) {
  std::vector<PathToken> tokens;
  for (absl::string_view part : absl::StrSplit(path, '.')) {
    PathToken t;
    size_t open = part.find('[');
    if (open != absl::string_view::npos) {
      if (part.back() != ']' || !absl::SimpleAtoi(part.substr(open + 1, part.size() - open - 2), &t.index) ||
          t.index < 0) {
        return absl::InvalidArgumentError(absl::StrCat("bad index in '", part, "' of path '", path, "'"));
      }
      part = part.substr(0, open);
    }
    if (part.empty()) return absl::InvalidArgumentError(absl::StrCat("empty element in path '", path, "'"));
    t.field = std::string(part);
    tokens.push_back(std::move(t));
  }
  return tokens;
}

// A fresh message of the type named by `type_name` (must be linked in).
absl::StatusOr<std::unique_ptr<pb::Message>> NewMessageOfType(const std::string& type_name) {
  const pb::Descriptor* d = pb::DescriptorPool::generated_pool()->FindMessageTypeByName(type_name);
  if (d == nullptr) {
    return absl::NotFoundError(absl::StrCat("options type ", type_name, " is not linked into this binary"));
  }
  const pb::Message* proto = pb::MessageFactory::generated_factory()->GetPrototype(d);
  return std::unique_ptr<pb::Message>(proto->New());
}

absl::Status SetScalar(pb::Message* msg, const pb::FieldDescriptor* field, absl::string_view value,
                       const std::string& path) {
  std::string text(value);
  if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING &&
      !(text.size() >= 2 && (text.front() == '"' || text.front() == '\''))) {
    text = absl::StrCat("\"", absl::CEscape(text), "\"");
  }
  if (!pb::TextFormat::ParseFieldValueFromString(text, field, msg)) {
    return absl::InvalidArgumentError(absl::StrCat("--set ", path, ": cannot parse '", value,
                                                   "' as ", field->type_name(), " for field '",
                                                   field->full_name(), "'"));
  }
  return absl::OkStatus();
}

absl::Status ApplyAt(pb::Message* msg, const std::vector<PathToken>& tokens, size_t i,
                     absl::string_view value, const std::string& path);

// Descends into a ComponentSpec's Any options: unpack, recurse, repack.
absl::Status ApplyInsideAny(pb::Message* spec_msg, pb::Any* any, const std::vector<PathToken>& tokens,
                            size_t i, absl::string_view value, const std::string& path) {
  std::string type = AnyTypeName(*any);
  if (type.empty()) {
    auto* spec = dynamic_cast<ComponentSpec*>(spec_msg);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("--set ", path, ": empty Any outside a ComponentSpec"));
    }
    // The options of a component with no options given: start from defaults.
    for (const auto& kind : ComponentKinds()) {
      auto info = ComponentCatalog::Global().Find(kind, spec->name());
      if (info.ok()) {
        type = (*info)->options_type;
        break;
      }
    }
    if (type.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--set ", path, ": cannot set options of unregistered component '", spec->name(), "'"));
    }
  }
  ASSIGN_OR_RETURN(std::unique_ptr<pb::Message> options, NewMessageOfType(type));
  if (!any->type_url().empty() && !any->UnpackTo(options.get())) {
    return absl::InvalidArgumentError(absl::StrCat("--set ", path, ": cannot unpack ", type));
  }
  RETURN_IF_ERROR(ApplyAt(options.get(), tokens, i, value, path));
  any->PackFrom(*options);
  return absl::OkStatus();
}

absl::Status ApplyAt(pb::Message* msg, const std::vector<PathToken>& tokens, size_t i,
                     absl::string_view value, const std::string& path) {
  const PathToken& t = tokens[i];
  const pb::Descriptor* d = msg->GetDescriptor();
  const pb::FieldDescriptor* field = d->FindFieldByName(t.field);
  const std::string so_far = absl::StrJoin(tokens.begin(), tokens.begin() + i + 1, ".",
                                           [](std::string* out, const PathToken& p) {
                                             absl::StrAppend(out, p.field);
                                             if (p.index >= 0) absl::StrAppend(out, "[", p.index, "]");
                                           });
  if (field == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("--set ", path, ": unknown field '", t.field,
                                                   "' at '", so_far, "' in ", d->full_name(), ";",
                                                   UnknownFieldHint(absl::StrCat("Message type \"", d->full_name(),
                                                                                 "\" has no field named \"", t.field,
                                                                                 "\""))));
  }
  const pb::Reflection* r = msg->GetReflection();
  const bool last = i + 1 == tokens.size();
  if (last && field->is_repeated() && t.index < 0 && value.empty()) {
    r->ClearField(msg, field);  // "--set evals=" empties a repeated field
    return absl::OkStatus();
  }
  if (t.index >= 0 && !field->is_repeated()) {
    return absl::InvalidArgumentError(absl::StrCat("--set ", path, ": '", so_far, "' is not repeated"));
  }
  if (field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) {
    if (!last) {
      return absl::InvalidArgumentError(absl::StrCat("--set ", path, ": '", so_far, "' is a ",
                                                     field->type_name(), ", not a message"));
    }
    if (field->is_repeated()) {
      if (t.index >= 0) {
        if (t.index >= r->FieldSize(*msg, field)) {
          return absl::OutOfRangeError(absl::StrCat("--set ", path, ": index ", t.index, " out of range (size ",
                                                    r->FieldSize(*msg, field), ")"));
        }
        // Parse into a scratch message, then copy the one value into place.
        std::unique_ptr<pb::Message> scratch(msg->New());
        RETURN_IF_ERROR(SetScalar(scratch.get(), field, value, path));
        const pb::Reflection* sr = scratch->GetReflection();
        switch (field->cpp_type()) {
#define CHEXWORLD_COPY_REPEATED(CPPTYPE, Kind)                                           \
  case pb::FieldDescriptor::CPPTYPE:                                                     \
    r->SetRepeated##Kind(msg, field, t.index, sr->GetRepeated##Kind(*scratch, field, 0)); \
    break;
          CHEXWORLD_COPY_REPEATED(CPPTYPE_INT32, Int32)
          CHEXWORLD_COPY_REPEATED(CPPTYPE_INT64, Int64)
          CHEXWORLD_COPY_REPEATED(CPPTYPE_UINT32, UInt32)
          CHEXWORLD_COPY_REPEATED(CPPTYPE_UINT64, UInt64)
          CHEXWORLD_COPY_REPEATED(CPPTYPE_FLOAT, Float)
          CHEXWORLD_COPY_REPEATED(CPPTYPE_DOUBLE, Double)
          CHEXWORLD_COPY_REPEATED(CPPTYPE_BOOL, Bool)
          CHEXWORLD_COPY_REPEATED(CPPTYPE_STRING, String)
          CHEXWORLD_COPY_REPEATED(CPPTYPE_ENUM, Enum)
#undef CHEXWORLD_COPY_REPEATED
          default:
            return absl::InternalError(absl::StrCat("--set ", path, ": unsupported field type"));
        }
        return absl::OkStatus();
      }
      r->ClearField(msg, field);
      for (absl::string_view item : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        RETURN_IF_ERROR(SetScalar(msg, field, absl::StripAsciiWhitespace(item), path));
      }
      return absl::OkStatus();
    }
    // Setting a ComponentSpec name to a component with other options: drop them.
    if (IsComponentSpec(d) && t.field == "name") {
      auto* spec = static_cast<ComponentSpec*>(msg);
      if (spec->name() != value && spec->has_options()) {
        std::string old_type = AnyTypeName(spec->options());
        bool keep = false;
        for (const auto& kind : ComponentKinds()) {
          auto info = ComponentCatalog::Global().Find(kind, std::string(value));
          if (info.ok() && (*info)->options_type == old_type) keep = true;
        }
        if (!keep) spec->clear_options();
      }
    }
    return SetScalar(msg, field, value, path);
  }
  // Message-typed field.
  pb::Message* child = nullptr;
  if (field->is_repeated()) {
    const int size = r->FieldSize(*msg, field);
    if (t.index < 0) {
      if (!last) {
        return absl::InvalidArgumentError(absl::StrCat("--set ", path, ": '", so_far,
                                                       "' is repeated; give an index, e.g. ", so_far, "[0]"));
      }
      r->ClearField(msg, field);
      child = r->AddMessage(msg, field);
    } else if (t.index < size) {
      child = r->MutableRepeatedMessage(msg, field, t.index);
    } else if (t.index == size) {
      child = r->AddMessage(msg, field);
    } else {
      return absl::OutOfRangeError(absl::StrCat("--set ", path, ": index ", t.index, " out of range (size ",
                                                size, "; use ", size, " to append)"));
    }
  } else {
    child = r->MutableMessage(msg, field);
  }
  if (last) {
    child->Clear();
    CollectingErrors errors(absl::StrCat("--set ", path));
    pb::TextFormat::Parser parser;
    parser.RecordErrorsTo(&errors);
    if (!parser.ParseFromString(std::string(value), child)) {
      return absl::InvalidArgumentError(absl::StrJoin(errors.errors(), "\n"));
    }
    return absl::OkStatus();
  }
  if (child->GetDescriptor()->full_name() == pb::Any::descriptor()->full_name()) {
    return ApplyInsideAny(msg, static_cast<pb::Any*>(child), tokens, i + 1, value, path);
  }
  return ApplyAt(child, tokens, i + 1, value, path);
}

absl::Status ResolveAt(pb::Message* msg, const std::string& prefix) {
  const pb::Descriptor* d = msg->GetDescriptor();
  const pb::Reflection* r = msg->GetReflection();
  for (int f = 0; f < d->field_count(); ++f) {
    const pb::FieldDescriptor* field = d->field(f);
    if (field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    const std::string kind = field->options().GetExtension(component_kind);
    const int n = field->is_repeated() ? r->FieldSize(*msg, field) : (r->HasField(*msg, field) ? 1 : 0);
    for (int k = 0; k < n; ++k) {
      pb::Message* child = field->is_repeated() ? r->MutableRepeatedMessage(msg, field, k)
                                                : r->MutableMessage(msg, field);
      const std::string path = field->is_repeated()
                                   ? absl::StrCat(prefix, field->name(), "[", k, "]")
                                   : absl::StrCat(prefix, field->name());
      if (kind.empty() || !IsComponentSpec(child->GetDescriptor())) {
        RETURN_IF_ERROR(ResolveAt(child, path + "."));
        continue;
      }
      auto* spec = static_cast<ComponentSpec*>(child);
      if (spec->name().empty() && !spec->has_options()) continue;  // unused slot
      auto info = ComponentCatalog::Global().Find(kind, spec->name());
      if (!info.ok()) return AddContext(info.status(), path + ".name");
      auto options = UnpackOptions(**info, *spec);
      if (!options.ok()) return AddContext(options.status(), path + ".options");
      // Options may hold component slots of their own (an evaluator's dataset).
      RETURN_IF_ERROR(ResolveAt(options->get(), path + ".options."));
      if ((*info)->resolve) {  // the defaults it uses, written in
        RETURN_IF_ERROR_CTX((*info)->resolve(options->get()), path, ".options (", kind, " '", spec->name(), "')");
      } else if ((*info)->validate) {
        RETURN_IF_ERROR_CTX((*info)->validate(**options), path, ".options (", kind, " '", spec->name(), "')");
      }
      spec->mutable_options()->PackFrom(**options);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseTextProto(absl::string_view text, absl::string_view filename, pb::Message* message) {
  CollectingErrors errors{std::string(filename)};
  pb::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), message)) {
    return absl::InvalidArgumentError(absl::StrJoin(errors.errors(), "\n"));
  }
  return absl::OkStatus();
}

absl::Status ParseTextProtoFile(const std::string& path, pb::Message* message) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseTextProto(text, path, message);
}

absl::Status ApplyOverride(absl::string_view assignment, pb::Message* root) {
  size_t eq = assignment.find('=');
  if (eq == absl::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--set expects path=value, got '", assignment, "'"));
  }
  std::string path(absl::StripAsciiWhitespace(assignment.substr(0, eq)));
  absl::string_view value = absl::StripAsciiWhitespace(assignment.substr(eq + 1));
  ASSIGN_OR_RETURN(std::vector<PathToken> tokens, SplitPath(path));
  return ApplyAt(root, tokens, 0, value, path);
}

absl::Status ResolveComponents(pb::Message* message) { return ResolveAt(message, ""); }

absl::StatusOr<ExperimentConfig> LoadExperimentConfig(const std::string& path,
                                                      const std::vector<std::string>& overrides) {
  ExperimentConfig config;
  RETURN_IF_ERROR(ParseTextProtoFile(path, &config));
  for (const auto& o : overrides) RETURN_IF_ERROR(ApplyOverride(o, &config));
  RETURN_IF_ERROR_CTX(ResolveComponents(&config), path);
  return config;
}

std::string ToTextProto(const pb::Message& message) {
  pb::TextFormat::Printer printer;
  printer.SetExpandAny(true);
  std::string out;
  printer.PrintToString(message, &out);
  return out;
}

namespace {

void PrintWithDefaults(const pb::Message& m, int indent, std::string* out);

// One field value in text format; messages recurse (an Any is unpacked).
void PrintValue(const pb::Message& m, const pb::FieldDescriptor* f, int index, int indent, std::string* out) {
  const pb::Reflection* r = m.GetReflection();
  const bool rep = f->is_repeated();
  const std::string pad(2 * indent, ' ');
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_MESSAGE: {
      const pb::Message& sub = rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f);
      absl::StrAppend(out, pad, f->name(), " {\n");
      PrintWithDefaults(sub, indent + 1, out);
      absl::StrAppend(out, pad, "}\n");
      return;
    }
    default:
      break;
  }
  std::string v;
  pb::TextFormat::PrintFieldValueToString(m, f, rep ? index : -1, &v);
  absl::StrAppend(out, pad, f->name(), ": ", v, "\n");
}

void PrintWithDefaults(const pb::Message& m, int indent, std::string* out) {
  const pb::Descriptor* d = m.GetDescriptor();
  const pb::Reflection* r = m.GetReflection();
  const std::string pad(2 * indent, ' ');
  if (d->full_name() == "google.protobuf.Any") {
    const auto& any = static_cast<const pb::Any&>(m);
    const pb::Descriptor* inner = any.type_url().empty() ? nullptr
        : pb::DescriptorPool::generated_pool()->FindMessageTypeByName(any.type_url().substr(any.type_url().rfind('/') + 1));
    if (inner != nullptr) {
      std::unique_ptr<pb::Message> unpacked(pb::MessageFactory::generated_factory()->GetPrototype(inner)->New());
      if (any.UnpackTo(unpacked.get())) {
        absl::StrAppend(out, pad, "[", any.type_url(), "] {\n");
        PrintWithDefaults(*unpacked, indent + 1, out);
        absl::StrAppend(out, pad, "}\n");
        return;
      }
    }
  }
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    if (f->is_repeated()) {
      for (int k = 0; k < r->FieldSize(m, f); ++k) PrintValue(m, f, k, indent, out);
    } else if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE || f->containing_oneof() != nullptr ||
               f->has_presence()) {
      // Presence matters: printing an unset message would set it.
      if (r->HasField(m, f)) PrintValue(m, f, -1, indent, out);
    } else {
      PrintValue(m, f, -1, indent, out);  // proto3 scalar: print its value even when it is the default
    }
  }
}

}  // namespace

std::string ToTextProtoWithDefaults(const pb::Message& message) {
  std::string out;
  PrintWithDefaults(message, 0, &out);
  return out;
}

absl::Status WriteTextProto(const pb::Message& message, const std::string& path, bool with_defaults) {
  return WriteFileAtomically(path, absl::StrCat("# proto-message: ", message.GetDescriptor()->full_name(), "\n",
                                                with_defaults ? ToTextProtoWithDefaults(message) : ToTextProto(message)));
}

}  // namespace chexworld
