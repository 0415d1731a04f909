#include "chexworld/models/checkpoint/torch_pickle.h"

#include <cstring>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "chexworld/models/checkpoint/zip_reader.h"

namespace chexworld {

const char* const kAllowedPickleGlobals[] = {
    // Tensors and their storages.
    "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor", "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state", "torch.FloatStorage", "torch.DoubleStorage", "torch.HalfStorage",
    "torch.BFloat16Storage", "torch.LongStorage", "torch.IntStorage", "torch.ShortStorage", "torch.CharStorage",
    "torch.ByteStorage", "torch.BoolStorage",
    // Containers.
    "collections.OrderedDict", "torch.jit._pickle.restore_type_tag", "torch.jit._pickle.build_intlist",
    "torch.jit._pickle.build_tensorlist", "torch.jit._pickle.build_doublelist", "torch.jit._pickle.build_boollist",
    // Inert values that training checkpoints carry (kept, never called).
    "argparse.Namespace", "_codecs.encode", "builtins.set", "builtins.frozenset", "pathlib.PosixPath",
    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.dtype",
    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct", "numpy.ndarray",
    "torch.torch_version.TorchVersion", nullptr};

namespace {

using Value = PickleValue*;

// Bounds for one tensor: dimensions, and how far its bytes may exceed the
// file's (a stride-0 view of a small storage may legitimately expand).
constexpr size_t kMaxDims = 16;
constexpr int64_t kMaxExtent = int64_t{1} << 48;

// Owns every value of one stream.
struct Document {
  std::vector<std::unique_ptr<PickleValue>> values;
  const PickleValue* root = nullptr;
  Value Make(PickleValue::Kind kind) {
    values.push_back(std::make_unique<PickleValue>());
    values.back()->kind = kind;
    return values.back().get();
  }
};

bool Allowed(const std::string& name) {
  static const std::set<std::string> kAllowed = [] {
    std::set<std::string> s;
    for (const char* const* g = kAllowedPickleGlobals; *g != nullptr; ++g) s.insert(*g);
    return s;
  }();
  return kAllowed.count(name) > 0;
}

absl::StatusOr<torch::ScalarType> StorageDtype(const std::string& name) {
  static const std::map<std::string, torch::ScalarType> kTypes = {
      {"torch.FloatStorage", torch::kFloat32}, {"torch.DoubleStorage", torch::kFloat64},
      {"torch.HalfStorage", torch::kFloat16},  {"torch.BFloat16Storage", torch::kBFloat16},
      {"torch.LongStorage", torch::kInt64},    {"torch.IntStorage", torch::kInt32},
      {"torch.ShortStorage", torch::kInt16},   {"torch.CharStorage", torch::kInt8},
      {"torch.ByteStorage", torch::kUInt8},    {"torch.BoolStorage", torch::kBool}};
  auto it = kTypes.find(name);
  if (it == kTypes.end()) return absl::UnimplementedError(absl::StrCat("unsupported storage type '", name, "'"));
  return it->second;
}

class Unpickler {
 public:
  Unpickler(absl::string_view data, const ZipArchive* archive, std::string prefix, Document* doc)
      : data_(data), archive_(archive), prefix_(std::move(prefix)), doc_(doc) {}

  absl::StatusOr<const PickleValue*> Run() {
    while (pos_ < data_.size()) {
      const uint8_t op = Byte();
      absl::Status s = Step(op);
      if (!s.ok()) {
        return absl::Status(s.code(), absl::StrCat(archive_->path(), ": pickle offset ", op_start_, ": ", s.message()));
      }
      if (done_) {
        if (stack_.empty()) return absl::DataLossError(absl::StrCat(archive_->path(), ": empty pickle stack at STOP"));
        return stack_.back();
      }
    }
    return absl::DataLossError(absl::StrCat(archive_->path(), ": pickle stream ends without STOP"));
  }

 private:
  uint8_t Byte() { return pos_ < data_.size() ? static_cast<uint8_t>(data_[pos_++]) : (truncated_ = true, 0); }
  template <typename T>
  T Read() {
    T v{};
    if (sizeof(T) > data_.size() - pos_) {
      truncated_ = true;
      pos_ = data_.size();
      return v;
    }
    std::memcpy(&v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string ReadBytes(uint64_t n) {
    if (n > data_.size() - pos_) {  // checked before anything is allocated
      truncated_ = true;
      pos_ = data_.size();
      return "";
    }
    std::string s(data_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  std::string ReadLine() {
    const size_t nl = data_.find('\n', pos_);
    if (nl == absl::string_view::npos) {
      truncated_ = true;
      pos_ = data_.size();
      return "";
    }
    std::string s(data_.substr(pos_, nl - pos_));
    pos_ = nl + 1;
    return s;
  }
  absl::StatusOr<Value> Pop() {
    if (stack_.size() <= floor()) return absl::DataLossError("pickle stack underflow");
    Value v = stack_.back();
    stack_.pop_back();
    return v;
  }
  // The stack below the newest mark is out of reach of plain pops.
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  absl::StatusOr<std::vector<Value>> PopToMark() {
    if (marks_.empty()) return absl::DataLossError("pickle MARK missing");
    const size_t m = marks_.back();
    marks_.pop_back();
    if (m > stack_.size()) return absl::DataLossError("pickle MARK beyond stack");
    std::vector<Value> items(stack_.begin() + m, stack_.end());
    stack_.resize(m);
    return items;
  }
  Value Tuple(std::vector<Value> items) {
    Value t = doc_->Make(PickleValue::Kind::kTuple);
    t->items.assign(items.begin(), items.end());
    return t;
  }
  absl::StatusOr<Value> Top(const char* op) {
    if (stack_.size() <= floor()) return absl::DataLossError(absl::StrCat(op, " on an empty stack"));
    return stack_.back();
  }

  absl::StatusOr<Value> LoadStorage(const Value& pid) {
    // ('storage', <global torch.FloatStorage>, key, location, numel)
    if (pid->kind != PickleValue::Kind::kTuple || pid->items.size() < 5 || pid->items[0]->s != "storage" ||
        pid->items[1]->kind != PickleValue::Kind::kGlobal || pid->items[2]->kind != PickleValue::Kind::kString) {
      return absl::DataLossError("unsupported persistent id (expected a storage tuple)");
    }
    auto dtype = StorageDtype(pid->items[1]->s);
    if (!dtype.ok()) return dtype.status();
    const std::string key = pid->items[2]->s;
    auto it = storages_.find(key);
    if (it == storages_.end()) {
      const std::string record = prefix_ + "data/" + key;
      auto bytes = archive_->Read(record);
      if (!bytes.ok()) return bytes.status();
      const size_t elem = torch::elementSize(*dtype);
      if (bytes->size() % elem != 0) {
        return absl::DataLossError(absl::StrCat("record ", record, " has ", bytes->size(), " bytes, not a multiple of ",
                                                elem));
      }
      const int64_t numel = static_cast<int64_t>(bytes->size() / elem);
      if (pid->items[4]->kind == PickleValue::Kind::kInt && pid->items[4]->i != numel) {
        return absl::DataLossError(absl::StrCat("storage ", key, " declares ", pid->items[4]->i, " elements, its record holds ",
                                                numel));
      }
      auto t = torch::empty({numel}, torch::TensorOptions().dtype(*dtype));
      if (numel > 0) std::memcpy(t.data_ptr(), bytes->data(), bytes->size());
      it = storages_.emplace(key, t).first;
    }
    Value v = doc_->Make(PickleValue::Kind::kTensor);
    v->tensor = it->second;
    return v;
  }

  static absl::StatusOr<std::vector<int64_t>> Ints(const PickleValue* v, const char* what) {
    std::vector<int64_t> out;
    if (v->kind != PickleValue::Kind::kTuple && v->kind != PickleValue::Kind::kList) {
      return absl::DataLossError(absl::StrCat("tensor ", what, " is not a tuple"));
    }
    if (v->items.size() > kMaxDims) return absl::DataLossError(absl::StrCat("tensor ", what, " has ", v->items.size(), " dimensions"));
    for (const PickleValue* item : v->items) {
      if (item->kind != PickleValue::Kind::kInt || item->i < 0 || item->i > kMaxExtent) {
        return absl::DataLossError(absl::StrCat("tensor ", what, " holds ", item->kind == PickleValue::Kind::kInt ? absl::StrCat(item->i) : "a non-integer"));
      }
      out.push_back(item->i);
    }
    return out;
  }

  absl::StatusOr<Value> RebuildTensor(const std::string& name, const Value& args) {
    if (args->kind != PickleValue::Kind::kTuple || args->items.size() < 4 ||
        args->items[0]->kind != PickleValue::Kind::kTensor || args->items[1]->kind != PickleValue::Kind::kInt) {
      return absl::DataLossError(absl::StrCat("bad arguments to ", name));
    }
    auto size = Ints(args->items[2], "size");
    if (!size.ok()) return size.status();
    auto stride = Ints(args->items[3], "stride");
    if (!stride.ok()) return stride.status();
    if (size->size() != stride->size()) return absl::DataLossError("tensor size and stride differ in length");
    const int64_t offset = args->items[1]->i;
    const torch::Tensor& storage = args->items[0]->tensor;
    if (offset < 0 || offset > kMaxExtent) return absl::DataLossError(absl::StrCat("tensor storage offset ", offset));
    // The last element's index and the element count, without overflow.
    __int128 last = offset, numel = 1;
    for (size_t d = 0; d < size->size(); ++d) {
      numel *= (*size)[d];
      if ((*size)[d] > 0) last += static_cast<__int128>((*size)[d] - 1) * (*stride)[d];
    }
    if (numel > 0 && last >= storage.numel()) {
      return absl::DataLossError(absl::StrCat("tensor view reaches element ", static_cast<int64_t>(last),
                                              " of a storage of ", storage.numel()));
    }
    // Checked against the file before the copy is allocated.
    const __int128 bytes = numel * static_cast<__int128>(storage.element_size());
    if (bytes > static_cast<__int128>(4 * archive_->size() + (64 << 20))) {
      return absl::DataLossError(absl::StrCat("a tensor of ", static_cast<double>(numel),
                                              " elements from a file of ", archive_->size(), " bytes"));
    }
    Value v = doc_->Make(PickleValue::Kind::kTensor);
    v->tensor = storage.as_strided(*size, *stride, offset).clone();
    return v;
  }

  absl::StatusOr<Value> Reduce(const Value& callable, const Value& args) {
    if (callable->kind != PickleValue::Kind::kGlobal) return absl::DataLossError("REDUCE of something that is not a global");
    const std::string& name = callable->s;
    if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
      return RebuildTensor(name, args);
    }
    if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
      if (args->items.empty() || args->items[0]->kind != PickleValue::Kind::kTensor) {
        return absl::DataLossError(absl::StrCat("bad arguments to ", name));
      }
      return const_cast<Value>(args->items[0]);
    }
    if (name == "collections.OrderedDict") {
      Value d = doc_->Make(PickleValue::Kind::kDict);
      if (!args->items.empty() && args->items[0]->kind == PickleValue::Kind::kList) {
        for (const PickleValue* pair : args->items[0]->items) {
          if (pair->items.size() == 2) d->dict.emplace_back(pair->items[0], pair->items[1]);
        }
      }
      return d;
    }
    // TorchScript's pickler tags typed containers: restore_type_tag(value, "Dict[str, Tensor]"),
    // build_intlist([..]), ...: the value is the first argument.
    if (absl::StartsWith(name, "torch.jit._pickle.")) {
      if (args->items.empty()) return absl::DataLossError(absl::StrCat("no arguments to ", name));
      return const_cast<Value>(args->items[0]);
    }
    // An allowed inert object: remembers what built it, runs nothing.
    Value o = doc_->Make(PickleValue::Kind::kObject);
    o->s = name;
    o->items = args->items;
    return o;
  }

  absl::Status Push(Value v) {
    stack_.push_back(v);
    return absl::OkStatus();
  }

  absl::Status Step(uint8_t op) {
    using K = PickleValue::Kind;
    op_start_ = pos_ - 1;
    switch (op) {
      case 0x80: Byte(); break;                 // PROTO
      case 0x95: Read<uint64_t>(); break;       // FRAME (a hint; framing is not needed to parse)
      case '.': done_ = true; break;            // STOP
      case '(': marks_.push_back(stack_.size()); break;  // MARK
      case '}': stack_.push_back(doc_->Make(K::kDict)); break;
      case ']': stack_.push_back(doc_->Make(K::kList)); break;
      case ')': stack_.push_back(Tuple({})); break;
      case 0x8f: stack_.push_back(doc_->Make(K::kList)); break;  // EMPTY_SET (as a list)
      case 'N': stack_.push_back(doc_->Make(K::kNone)); break;
      case 0x88: case 0x89: {  // NEWTRUE / NEWFALSE
        Value v = doc_->Make(K::kBool);
        v->b = op == 0x88;
        stack_.push_back(v);
        break;
      }
      case 'K': case 'M': case 'J': {  // BININT1 / BININT2 / BININT
        Value v = doc_->Make(K::kInt);
        v->i = op == 'K' ? Byte() : op == 'M' ? Read<uint16_t>() : Read<int32_t>();
        stack_.push_back(v);
        break;
      }
      case 0x8a: {  // LONG1
        const uint8_t n = Byte();
        if (n > 8) return absl::UnimplementedError("integer wider than 64 bits");
        const std::string bytes = ReadBytes(n);
        if (truncated_) break;
        uint64_t x = 0;
        for (int k = n - 1; k >= 0; --k) x = (x << 8) | static_cast<uint8_t>(bytes[k]);
        if (n > 0 && n < 8 && (static_cast<uint8_t>(bytes[n - 1]) & 0x80)) x -= (uint64_t{1} << (8 * n));
        Value v = doc_->Make(K::kInt);
        v->i = static_cast<int64_t>(x);
        stack_.push_back(v);
        break;
      }
      case 'G': {  // BINFLOAT, big-endian double
        uint64_t raw = 0;
        for (int k = 0; k < 8; ++k) raw = (raw << 8) | Byte();
        Value v = doc_->Make(K::kFloat);
        std::memcpy(&v->f, &raw, 8);
        stack_.push_back(v);
        break;
      }
      case 'X': case 0x8c: case 0x8d: case 'T': case 'U': case 'B': case 'C': case 0x8e: {
        const uint64_t n = (op == 0x8c || op == 'U' || op == 'C') ? Byte()
                           : (op == 0x8d || op == 0x8e)          ? Read<uint64_t>()
                                                                 : Read<uint32_t>();
        Value v = doc_->Make((op == 'B' || op == 'C' || op == 0x8e) ? K::kBytes : K::kString);
        v->s = ReadBytes(n);
        stack_.push_back(v);
        break;
      }
      case 'q': {  // BINPUT
        const uint8_t idx = Byte();
        memo_[idx] = stack_.empty() ? nullptr : stack_.back();
        break;
      }
      case 'r': {  // LONG_BINPUT
        const uint32_t idx = Read<uint32_t>();
        memo_[idx] = stack_.empty() ? nullptr : stack_.back();
        break;
      }
      case 0x94: memo_[static_cast<uint32_t>(memo_.size())] = stack_.empty() ? nullptr : stack_.back(); break;  // MEMOIZE
      case 'h': case 'j': {  // BINGET / LONG_BINGET
        const uint32_t idx = op == 'h' ? Byte() : Read<uint32_t>();
        if (truncated_) break;
        auto it = memo_.find(idx);
        if (it == memo_.end() || it->second == nullptr) return absl::DataLossError(absl::StrCat("memo ", idx, " missing"));
        stack_.push_back(it->second);
        break;
      }
      case 'c': {  // GLOBAL "module\nname\n"
        const std::string module = ReadLine();
        const std::string name = ReadLine();
        if (truncated_) break;
        return Global(module + "." + name);
      }
      case 0x93: {  // STACK_GLOBAL
        auto name = Pop();
        if (!name.ok()) return name.status();
        auto module = Pop();
        if (!module.ok()) return module.status();
        if ((*name)->kind != K::kString || (*module)->kind != K::kString) {
          return absl::DataLossError("STACK_GLOBAL of non-strings");
        }
        return Global((*module)->s + "." + (*name)->s);
      }
      case 't': {
        auto items = PopToMark();
        if (!items.ok()) return items.status();
        stack_.push_back(Tuple(std::move(*items)));
        break;
      }
      case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
        const size_t n = op - 0x84;
        if (stack_.size() < floor() + n) return absl::DataLossError("pickle stack underflow in TUPLEn");
        std::vector<Value> items(stack_.end() - n, stack_.end());
        stack_.resize(stack_.size() - n);
        stack_.push_back(Tuple(std::move(items)));
        break;
      }
      case 'Q': {  // BINPERSID
        auto pid = Pop();
        if (!pid.ok()) return pid.status();
        auto storage = LoadStorage(*pid);
        if (!storage.ok()) return storage.status();
        stack_.push_back(*storage);
        break;
      }
      case 'R': case 0x81: {  // REDUCE / NEWOBJ
        auto args = Pop();
        if (!args.ok()) return args.status();
        auto callable = Pop();
        if (!callable.ok()) return callable.status();
        auto v = Reduce(*callable, *args);
        if (!v.ok()) return v.status();
        stack_.push_back(*v);
        break;
      }
      case 'b': {  // BUILD: state for the object below; dict state of an object is kept.
        auto state = Pop();
        if (!state.ok()) return state.status();
        auto top = Top("BUILD");
        if (!top.ok()) return top.status();
        if ((*top)->kind == K::kObject && (*state)->kind == K::kDict) (*top)->dict = (*state)->dict;
        break;
      }
      case 's': {  // SETITEM
        auto value = Pop();
        if (!value.ok()) return value.status();
        auto key = Pop();
        if (!key.ok()) return key.status();
        auto top = Top("SETITEM");
        if (!top.ok()) return top.status();
        if ((*top)->kind != K::kDict) return absl::DataLossError("SETITEM on a non-dict");
        (*top)->dict.emplace_back(*key, *value);
        break;
      }
      case 'u': {  // SETITEMS
        auto items = PopToMark();
        if (!items.ok()) return items.status();
        auto top = Top("SETITEMS");
        if (!top.ok()) return top.status();
        if ((*top)->kind != K::kDict) return absl::DataLossError("SETITEMS on a non-dict");
        if (items->size() % 2 != 0) return absl::DataLossError("SETITEMS with an odd item count");
        for (size_t k = 0; k < items->size(); k += 2) (*top)->dict.emplace_back((*items)[k], (*items)[k + 1]);
        break;
      }
      case 'a': {  // APPEND
        auto v = Pop();
        if (!v.ok()) return v.status();
        auto top = Top("APPEND");
        if (!top.ok()) return top.status();
        (*top)->items.push_back(*v);
        break;
      }
      case 'e': case 0x90: {  // APPENDS / ADDITEMS
        auto items = PopToMark();
        if (!items.ok()) return items.status();
        auto top = Top("APPENDS");
        if (!top.ok()) return top.status();
        for (Value v : *items) (*top)->items.push_back(v);
        break;
      }
      case 0x91: {  // FROZENSET
        auto items = PopToMark();
        if (!items.ok()) return items.status();
        Value v = doc_->Make(K::kList);
        v->items.assign(items->begin(), items->end());
        stack_.push_back(v);
        break;
      }
      case '0': {  // POP
        auto v = Pop();
        if (!v.ok()) return v.status();
        break;
      }
      case '1': {  // POP_MARK
        auto v = PopToMark();
        if (!v.ok()) return v.status();
        break;
      }
      case '2': {  // DUP
        auto top = Top("DUP");
        if (!top.ok()) return top.status();
        stack_.push_back(*top);
        break;
      }
      default:
        return absl::UnimplementedError(absl::StrCat("unsupported pickle opcode 0x", absl::Hex(op)));
    }
    if (truncated_) return absl::DataLossError("pickle data is truncated");
    return absl::OkStatus();
  }

  absl::Status Global(const std::string& name) {
    if (!Allowed(name)) {
      return absl::PermissionDeniedError(absl::StrCat(
          "global '", name, "' is not allowed: this reader rebuilds tensors and plain containers only, and a "
          "checkpoint naming other globals may run code under Python's torch.load; refusing the file"));
    }
    Value v = doc_->Make(PickleValue::Kind::kGlobal);
    v->s = name;
    stack_.push_back(v);
    return absl::OkStatus();
  }

  absl::string_view data_;
  const ZipArchive* archive_;
  std::string prefix_;
  Document* doc_;
  size_t pos_ = 0, op_start_ = 0;
  bool done_ = false;
  bool truncated_ = false;
  std::vector<Value> stack_;
  std::vector<size_t> marks_;
  std::map<uint32_t, Value> memo_;
  std::map<std::string, torch::Tensor> storages_;
};

absl::StatusOr<std::shared_ptr<const PickleValue>> ReadArchive(const ZipArchive& archive) {
  // The pickle is "<archive name>/data.pkl"; storages are "<archive name>/data/<key>".
  std::string pkl;
  for (const auto& n : archive.names()) {
    const size_t slash = n.find('/');
    if (slash != std::string::npos && n.substr(slash) == "/data.pkl") {
      pkl = n;
      break;
    }
  }
  if (pkl.empty()) return absl::DataLossError(absl::StrCat(archive.path(), ": torch archive without data.pkl"));
  auto data = archive.Read(pkl);
  if (!data.ok()) return data.status();
  auto doc = std::make_shared<Document>();
  Unpickler u(*data, &archive, pkl.substr(0, pkl.size() - std::string("data.pkl").size()), doc.get());
  try {
    auto root = u.Run();
    if (!root.ok()) return root.status();
    // The root keeps the whole document alive.
    return std::shared_ptr<const PickleValue>(doc, *root);
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat(archive.path(), ": ", std::string(e.what()).substr(0, 300)));
  }
}

}  // namespace

const PickleValue* PickleValue::Get(const std::string& key) const {
  for (const auto& kv : dict) {
    if (kv.first->kind == Kind::kString && kv.first->s == key) return kv.second;
  }
  return nullptr;
}

absl::StatusOr<std::shared_ptr<const PickleValue>> ReadTorchPickle(const std::string& path) {
  auto archive = ZipArchive::Open(path);
  if (!archive.ok()) return archive.status();
  return ReadArchive(**archive);
}

absl::StatusOr<std::shared_ptr<const PickleValue>> ReadTorchPickleFromBuffer(absl::string_view bytes,
                                                                           const std::string& name) {
  auto archive = ZipArchive::FromBuffer(bytes, name);
  if (!archive.ok()) return archive.status();
  return ReadArchive(**archive);
}

absl::StatusOr<NamedTensors> StateDictOf(const PickleValue& top, const std::string& path,
                                         std::map<std::string, double>* scalars) {
  const PickleValue* dict = &top;
  if (dict->kind != PickleValue::Kind::kDict) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": top level is not a dict"));
  }
  if (scalars != nullptr) {
    for (const auto& kv : dict->dict) {
      if (kv.first->kind != PickleValue::Kind::kString) continue;
      if (kv.second->kind == PickleValue::Kind::kInt) (*scalars)[kv.first->s] = static_cast<double>(kv.second->i);
      if (kv.second->kind == PickleValue::Kind::kFloat) (*scalars)[kv.first->s] = kv.second->f;
    }
  }
  for (const char* nested : {"model", "state_dict"}) {
    const PickleValue* inner = dict->Get(nested);
    if (inner != nullptr && inner->kind == PickleValue::Kind::kDict) {
      dict = inner;
      break;
    }
  }
  NamedTensors out;
  for (const auto& kv : dict->dict) {
    if (kv.first->kind != PickleValue::Kind::kString) continue;
    if (kv.second->kind == PickleValue::Kind::kTensor) out.emplace_back(kv.first->s, kv.second->tensor);
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no tensors found"));
  return out;
}

absl::StatusOr<NamedTensors> ReadTorchStateDict(const std::string& path, std::map<std::string, double>* scalars) {
  auto top = ReadTorchPickle(path);
  if (!top.ok()) return top.status();
  return StateDictOf(**top, path, scalars);
}

}  // namespace chexworld
