// Typed component registries with self-registration.
//
// Every component kind (encoder, predictor, masker, objective, dataset,
// transform, optimizer, schedule, evaluator) has one registry. A component
// registers itself at the bottom of its .cc file:
//
//   CHEXWORLD_REGISTER_COMPONENT("encoder", "vit", ViTOptions, Encoder,
//                                "Vision Transformer (no CLS token)",
//                                &CreateViT, &ValidateViTOptions);
//
// where CreateViT is `absl::StatusOr<std::shared_ptr<Encoder>>(const
// ViTOptions&, Args...)` and the (optional) last argument is a validator,
// `absl::Status(const ViTOptions&)`, or a resolver, `absl::Status(ViTOptions*)`:
// a resolver writes the defaults the component uses into unset fields (and
// validates), so the resolved config a run records holds the values it ran
// with, and the factory sees them filled in. The library must be `alwayslink = True` so the registration
// survives linking. Duplicate names abort at start-up.
//
// Builders call CreateComponent<Interface>(kind, spec, args...). Errors teach:
// an unknown name lists every registered name with its description, suggests
// the closest one and reminds about deps/alwayslink; a wrong options type
// names both types.
#ifndef CHEXWORLD_CORE_REGISTRY_H_
#define CHEXWORLD_CORE_REGISTRY_H_

#include <any>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include <google/protobuf/message.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/proto/component.pb.h"

namespace chexworld {

// The component kinds, in the order `--list_components` prints them.
const std::vector<std::string>& ComponentKinds();

// Type-erased description of one registered component.
struct ComponentInfo {
  std::string kind;
  std::string name;
  std::string description;
  std::string options_type;  // full proto name, e.g. "chexworld.ViTOptions"
  std::function<std::unique_ptr<google::protobuf::Message>()> default_options;
  std::function<absl::Status(const google::protobuf::Message&)> validate;
  // Fills defaults in and validates (components registered with a resolver).
  std::function<absl::Status(google::protobuf::Message*)> resolve;
  std::any factory;             // std::function<StatusOr<shared_ptr<I>>(const Message&, Args...)>
  std::string factory_signature;  // demangled-ish typeid name, for errors
};

// A named configuration of a component ("vit_tiny" = "vit" with
// `preset: "tiny"`). Variants are not components: a config names the
// component and sets the options; an unknown name that is a variant gets
// that spelling in its error, and --list_components shows them.
struct ComponentVariant {
  std::string kind;
  std::string component;  // the registered component
  std::string name;       // the variant's name
  std::string options;    // text-format fields of the component's options
  std::string description;
};

class ComponentCatalog {
 public:
  // The process-wide catalog that the registration macro fills.
  static ComponentCatalog& Global();

  // AlreadyExists for a duplicate (kind, name); InvalidArgument for an unknown
  // kind or a name that is not lower_snake_case.
  absl::Status Register(ComponentInfo info);
  absl::Status RegisterVariant(ComponentVariant variant);
  std::vector<const ComponentVariant*> Variants(absl::string_view kind, absl::string_view component) const;

  // NotFound with the teaching message described above.
  absl::StatusOr<const ComponentInfo*> Find(absl::string_view kind,
                                            absl::string_view name) const;

  // Registered components of one kind, sorted by name.
  std::vector<const ComponentInfo*> List(absl::string_view kind) const;
  std::vector<std::string> Names(absl::string_view kind) const;

  // Human-readable listing of every registry (for --list_components).
  std::string Describe() const;

 private:
  std::vector<std::unique_ptr<ComponentInfo>> entries_;
  std::vector<std::unique_ptr<ComponentVariant>> variants_;
};

// Closest string to `query` among `candidates` by edit distance ("" if none).
std::string ClosestMatch(absl::string_view query,
                         const std::vector<std::string>& candidates);

// The options message of `spec`, unpacked into `info`'s options type; the
// defaults when `spec` carries no options. InvalidArgument naming both types
// on a mismatch.
absl::StatusOr<std::unique_ptr<google::protobuf::Message>> UnpackOptions(
    const ComponentInfo& info, const ComponentSpec& spec);

// Full message name inside an Any's type URL ("" for an empty Any).
std::string AnyTypeName(const google::protobuf::Any& any);

template <typename Interface, typename... Args>
using ComponentFactory = std::function<absl::StatusOr<std::shared_ptr<Interface>>(
    const google::protobuf::Message&, Args...)>;

// Builds the component that `spec` names from the `kind` registry.
template <typename Interface, typename... Args>
absl::StatusOr<std::shared_ptr<Interface>> CreateComponent(absl::string_view kind,
                                                           const ComponentSpec& spec,
                                                           Args... args) {
  ASSIGN_OR_RETURN(const ComponentInfo* info,
                   ComponentCatalog::Global().Find(kind, spec.name()));
  ASSIGN_OR_RETURN(std::unique_ptr<google::protobuf::Message> options,
                   UnpackOptions(*info, spec));
  if (info->resolve) {
    RETURN_IF_ERROR_CTX(info->resolve(options.get()), kind, " '", spec.name(), "' options");
  } else if (info->validate) {
    RETURN_IF_ERROR_CTX(info->validate(*options), kind, " '", spec.name(), "' options");
  }
  using Fn = ComponentFactory<Interface, Args...>;
  const Fn* fn = std::any_cast<Fn>(&info->factory);
  if (fn == nullptr) {
    return absl::InternalError(absl::StrCat(
        kind, " '", spec.name(), "' was registered with factory ", info->factory_signature,
        " but is being built as ", typeid(Fn).name()));
  }
  auto built = (*fn)(*options, std::forward<Args>(args)...);
  if (!built.ok()) {
    return AddContext(built.status(), absl::StrCat("building ", kind, " '", spec.name(), "'"));
  }
  return built;
}

namespace internal {

// `check`: nullptr, a validator (const Options&) or a resolver (Options*).
template <typename Options, typename Interface, typename Check, typename... Args>
bool RegisterOrDie(const char* kind, const char* name, const char* description,
                   absl::StatusOr<std::shared_ptr<Interface>> (*factory)(const Options&, Args...), Check check) {
  ComponentInfo info;
  info.kind = kind;
  info.name = name;
  info.description = description;
  info.options_type = Options::descriptor()->full_name();
  info.default_options = [] { return std::make_unique<Options>(); };
  if constexpr (std::is_invocable_r_v<absl::Status, Check, Options*>) {
    info.resolve = [check](google::protobuf::Message* m) { return check(static_cast<Options*>(m)); };
    info.validate = [check](const google::protobuf::Message& m) {
      Options copy = static_cast<const Options&>(m);
      return check(&copy);
    };
  } else if constexpr (std::is_invocable_r_v<absl::Status, Check, const Options&>) {
    if (check != nullptr) {
      info.validate = [check](const google::protobuf::Message& m) { return check(static_cast<const Options&>(m)); };
    }
  } else {
    static_assert(std::is_same_v<Check, std::nullptr_t>, "the last argument is a validator, a resolver or nullptr");
  }
  ComponentFactory<Interface, Args...> fn = [factory](const google::protobuf::Message& m,
                                                      Args... args) {
    return factory(static_cast<const Options&>(m), std::forward<Args>(args)...);
  };
  info.factory_signature = typeid(ComponentFactory<Interface, Args...>).name();
  info.factory = std::move(fn);
  absl::Status status = ComponentCatalog::Global().Register(std::move(info));
  if (!status.ok()) {
    // Start-up time, before main: a duplicate name is a build mistake.
    fprintf(stderr, "FATAL: component registration failed: %s\n",
            std::string(status.message()).c_str());
    abort();
  }
  return true;
}

}  // namespace internal
}  // namespace chexworld

// Registers a component at static-initialisation time. `validate` may be a
// validator, a resolver (see above) or nullptr.
#define CHEXWORLD_REGISTER_COMPONENT(kind, name, Options, Interface, description, factory, \
                                     validate)                                             \
  static const bool CHEXWORLD_CONCAT(chexworld_registered_, __LINE__) =                   \
      ::chexworld::internal::RegisterOrDie<Options, Interface>(kind, name, description,   \
                                                               factory, validate)

// Registers a variant of a component (at the bottom of the component's .cc):
//   CHEXWORLD_REGISTER_VARIANT("encoder", "vit", "vit_tiny", "preset: \"tiny\"", "ViT-Tiny: 192 wide, 12 deep");
#define CHEXWORLD_REGISTER_VARIANT(kind, component, name, options, description)          \
  static const bool CHEXWORLD_CONCAT(chexworld_variant_, __LINE__) =                      \
      ::chexworld::internal::RegisterVariantOrDie(kind, component, name, options, description)

namespace chexworld::internal {
bool RegisterVariantOrDie(const char* kind, const char* component, const char* name, const char* options,
                          const char* description);
}  // namespace chexworld::internal

#endif  // CHEXWORLD_CORE_REGISTRY_H_
