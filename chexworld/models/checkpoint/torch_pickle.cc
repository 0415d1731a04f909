#include "chexworld/models/checkpoint/torch_pickle.h"

#include <caffe2/serialize/inline_container.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace chexworld {
namespace {

using Value = std::shared_ptr<PickleValue>;

Value Make(PickleValue::Kind kind) {
  auto v = std::make_shared<PickleValue>();
  v->kind = kind;
  return v;
}

absl::StatusOr<torch::ScalarType> StorageDtype(const std::string& name) {
  static const std::map<std::string, torch::ScalarType> kTypes = {
      {"FloatStorage", torch::kFloat32}, {"DoubleStorage", torch::kFloat64},
      {"HalfStorage", torch::kFloat16},  {"BFloat16Storage", torch::kBFloat16},
      {"LongStorage", torch::kInt64},    {"IntStorage", torch::kInt32},
      {"ShortStorage", torch::kInt16},   {"CharStorage", torch::kInt8},
      {"ByteStorage", torch::kUInt8},    {"BoolStorage", torch::kBool}};
  size_t dot = name.rfind('.');
  auto it = kTypes.find(dot == std::string::npos ? name : name.substr(dot + 1));
  if (it == kTypes.end()) return absl::UnimplementedError(absl::StrCat("unsupported storage type ", name));
  return it->second;
}

class Unpickler {
 public:
  Unpickler(const std::string& data, caffe2::serialize::PyTorchStreamReader* reader, std::string path)
      : data_(data), reader_(reader), path_(std::move(path)) {}

  absl::StatusOr<Value> Run() {
    while (pos_ < data_.size()) {
      const uint8_t op = Byte();
      absl::Status s = Step(op);
      if (!s.ok()) return absl::Status(s.code(), absl::StrCat(path_, ": pickle offset ", pos_ - 1, ": ", s.message()));
      if (done_) {
        if (stack_.empty()) return absl::DataLossError(absl::StrCat(path_, ": empty pickle stack at STOP"));
        return stack_.back();
      }
    }
    return absl::DataLossError(absl::StrCat(path_, ": pickle stream ends without STOP"));
  }

 private:
  uint8_t Byte() { return pos_ < data_.size() ? static_cast<uint8_t>(data_[pos_++]) : (truncated_ = true, 0); }
  template <typename T>
  T Read() {
    T v{};
    if (pos_ + sizeof(T) > data_.size()) {
      truncated_ = true;
      pos_ = data_.size();
      return v;
    }
    std::memcpy(&v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string ReadBytes(size_t n) {
    if (pos_ + n > data_.size()) {
      truncated_ = true;
      pos_ = data_.size();
      return "";
    }
    std::string s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::string ReadLine() {
    size_t nl = data_.find('\n', pos_);
    if (nl == std::string::npos) {
      truncated_ = true;
      pos_ = data_.size();
      return "";
    }
    std::string s = data_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    return s;
  }
  absl::StatusOr<Value> Pop() {
    if (stack_.empty()) return absl::DataLossError("pickle stack underflow");
    Value v = stack_.back();
    stack_.pop_back();
    return v;
  }
  absl::StatusOr<std::vector<Value>> PopToMark() {
    if (marks_.empty()) return absl::DataLossError("pickle MARK missing");
    size_t m = marks_.back();
    marks_.pop_back();
    if (m > stack_.size()) return absl::DataLossError("pickle MARK beyond stack");
    std::vector<Value> items(stack_.begin() + m, stack_.end());
    stack_.resize(m);
    return items;
  }
  Value Tuple(std::vector<Value> items) {
    auto t = Make(PickleValue::Kind::kTuple);
    t->items = std::move(items);
    return t;
  }

  absl::StatusOr<Value> LoadStorage(const Value& pid) {
    // ('storage', <global torch.FloatStorage>, key, location, numel)
    if (pid->kind != PickleValue::Kind::kTuple || pid->items.size() < 5 ||
        pid->items[0]->s != "storage") {
      return absl::DataLossError("unsupported persistent id (expected a storage tuple)");
    }
    auto dtype = StorageDtype(pid->items[1]->s);
    if (!dtype.ok()) return dtype.status();
    const std::string key = pid->items[2]->s;
    auto it = storages_.find(key);
    if (it == storages_.end()) {
      const std::string record = "data/" + key;
      if (!reader_->hasRecord(record)) return absl::DataLossError(absl::StrCat("missing record ", record));
      auto rec = reader_->getRecord(record);
      const size_t bytes = std::get<1>(rec);
      const size_t elem = torch::elementSize(*dtype);
      if (bytes % elem != 0) return absl::DataLossError(absl::StrCat("record ", record, " has ", bytes, " bytes"));
      auto t = torch::empty({static_cast<int64_t>(bytes / elem)}, torch::TensorOptions().dtype(*dtype));
      if (bytes > 0) std::memcpy(t.data_ptr(), std::get<0>(rec).get(), bytes);
      it = storages_.emplace(key, t).first;
    }
    auto v = Make(PickleValue::Kind::kTensor);
    v->tensor = it->second;
    return v;
  }

  static absl::StatusOr<std::vector<int64_t>> Ints(const Value& v) {
    std::vector<int64_t> out;
    if (v->kind != PickleValue::Kind::kTuple && v->kind != PickleValue::Kind::kList) {
      return absl::DataLossError("expected a tuple of ints");
    }
    for (const auto& item : v->items) {
      if (item->kind != PickleValue::Kind::kInt) return absl::DataLossError("expected an int in tuple");
      out.push_back(item->i);
    }
    return out;
  }

  absl::StatusOr<Value> Reduce(const Value& callable, const Value& args) {
    const std::string& name = callable->s;
    if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
      if (args->items.size() < 4 || args->items[0]->kind != PickleValue::Kind::kTensor) {
        return absl::DataLossError(absl::StrCat("bad arguments to ", name));
      }
      auto size = Ints(args->items[2]);
      auto stride = Ints(args->items[3]);
      if (!size.ok()) return size.status();
      if (!stride.ok()) return stride.status();
      const int64_t offset = args->items[1]->i;
      const auto& storage = args->items[0]->tensor;
      int64_t extent = offset + 1;
      for (size_t d = 0; d < size->size(); ++d) extent += ((*size)[d] - 1) * (*stride)[d];
      if ((*size).empty()) extent = offset + 1;
      bool empty = false;
      for (int64_t s : *size) empty |= (s == 0);
      if (!empty && extent > storage.numel()) {
        return absl::DataLossError(absl::StrCat("tensor view exceeds its storage (", extent, " > ", storage.numel(), ")"));
      }
      auto v = Make(PickleValue::Kind::kTensor);
      v->tensor = storage.as_strided(*size, *stride, offset).clone();
      return v;
    }
    if (name == "torch._utils._rebuild_parameter") {
      if (args->items.empty() || args->items[0]->kind != PickleValue::Kind::kTensor) {
        return absl::DataLossError("bad arguments to _rebuild_parameter");
      }
      return args->items[0];
    }
    if (name == "collections.OrderedDict") {
      auto d = Make(PickleValue::Kind::kDict);
      if (!args->items.empty() && args->items[0]->kind == PickleValue::Kind::kList) {
        for (const auto& pair : args->items[0]->items) {
          if (pair->items.size() == 2) d->dict.emplace_back(pair->items[0], pair->items[1]);
        }
      }
      return d;
    }
    // TorchScript's pickler tags typed containers: restore_type_tag(value, "Dict[str, Tensor]"),
    // build_intlist([..]), ...: the value is the first argument.
    if (name == "torch.jit._pickle.restore_type_tag" ||
        (name.rfind("torch.jit._pickle.build_", 0) == 0 && name.size() > 4 &&
         name.compare(name.size() - 4, 4, "list") == 0)) {
      if (args->items.empty()) return absl::DataLossError(absl::StrCat("no arguments to ", name));
      return args->items[0];
    }
    // Anything else: an opaque object that remembers what built it.
    auto o = Make(PickleValue::Kind::kObject);
    o->s = name;
    o->items = args->items;
    return o;
  }

  absl::Status Step(uint8_t op) {
    using K = PickleValue::Kind;
    switch (op) {
      case 0x80: Byte(); break;                 // PROTO
      case 0x95: Read<uint64_t>(); break;       // FRAME
      case '.': done_ = true; break;            // STOP
      case '(': marks_.push_back(stack_.size()); break;  // MARK
      case '}': stack_.push_back(Make(K::kDict)); break;
      case ']': stack_.push_back(Make(K::kList)); break;
      case ')': stack_.push_back(Tuple({})); break;
      case 0x8f: stack_.push_back(Make(K::kList)); break;  // EMPTY_SET (as a list)
      case 'N': stack_.push_back(Make(K::kNone)); break;
      case 0x88: case 0x89: {  // NEWTRUE / NEWFALSE
        auto v = Make(K::kBool);
        v->b = op == 0x88;
        stack_.push_back(v);
        break;
      }
      case 'K': case 'M': case 'J': {  // BININT1 / BININT2 / BININT
        auto v = Make(K::kInt);
        v->i = op == 'K' ? Byte() : op == 'M' ? Read<uint16_t>() : Read<int32_t>();
        stack_.push_back(v);
        break;
      }
      case 0x8a: {  // LONG1
        uint8_t n = Byte();
        std::string bytes = ReadBytes(n);
        if (n > 8) return absl::UnimplementedError("integer wider than 64 bits");
        int64_t x = 0;
        for (int k = n - 1; k >= 0; --k) x = (x << 8) | static_cast<uint8_t>(bytes[k]);
        if (n > 0 && n < 8 && (static_cast<uint8_t>(bytes[n - 1]) & 0x80)) x -= (int64_t{1} << (8 * n));
        auto v = Make(K::kInt);
        v->i = x;
        stack_.push_back(v);
        break;
      }
      case 'G': {  // BINFLOAT, big-endian double
        uint64_t raw = 0;
        for (int k = 0; k < 8; ++k) raw = (raw << 8) | Byte();
        auto v = Make(K::kFloat);
        std::memcpy(&v->f, &raw, 8);
        stack_.push_back(v);
        break;
      }
      case 'X': case 0x8c: case 0x8d: case 'T': case 'U': case 'B': case 'C': {
        size_t n = (op == 0x8c || op == 'U' || op == 'C') ? Byte()
                   : op == 0x8d                          ? static_cast<size_t>(Read<uint64_t>())
                                                         : Read<uint32_t>();
        auto v = Make((op == 'B' || op == 'C') ? K::kBytes : K::kString);
        v->s = ReadBytes(n);
        stack_.push_back(v);
        break;
      }
      case 'q': memo_[Byte()] = stack_.empty() ? nullptr : stack_.back(); break;          // BINPUT
      case 'r': memo_[Read<uint32_t>()] = stack_.empty() ? nullptr : stack_.back(); break;  // LONG_BINPUT
      case 0x94: memo_[memo_.size()] = stack_.empty() ? nullptr : stack_.back(); break;    // MEMOIZE
      case 'h': case 'j': {  // BINGET / LONG_BINGET
        uint32_t idx = op == 'h' ? Byte() : Read<uint32_t>();
        auto it = memo_.find(idx);
        if (it == memo_.end() || !it->second) return absl::DataLossError(absl::StrCat("memo ", idx, " missing"));
        stack_.push_back(it->second);
        break;
      }
      case 'c': {  // GLOBAL "module\nname\n"
        std::string module = ReadLine();
        std::string name = ReadLine();
        auto v = Make(K::kGlobal);
        v->s = module + "." + name;
        stack_.push_back(v);
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        auto name = Pop();
        if (!name.ok()) return name.status();
        auto module = Pop();
        if (!module.ok()) return module.status();
        auto v = Make(K::kGlobal);
        v->s = (*module)->s + "." + (*name)->s;
        stack_.push_back(v);
        break;
      }
      case 't': {
        auto items = PopToMark();
        if (!items.ok()) return items.status();
        stack_.push_back(Tuple(std::move(*items)));
        break;
      }
      case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
        size_t n = op - 0x84;
        if (stack_.size() < n) return absl::DataLossError("pickle stack underflow in TUPLEn");
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
        if (stack_.empty()) return absl::DataLossError("BUILD on empty stack");
        if (stack_.back()->kind == K::kObject && (*state)->kind == K::kDict) {
          stack_.back()->dict = (*state)->dict;
        }
        break;
      }
      case 's': {  // SETITEM
        auto value = Pop();
        if (!value.ok()) return value.status();
        auto key = Pop();
        if (!key.ok()) return key.status();
        if (stack_.empty() || stack_.back()->kind != K::kDict) return absl::DataLossError("SETITEM on a non-dict");
        stack_.back()->dict.emplace_back(*key, *value);
        break;
      }
      case 'u': {  // SETITEMS
        auto items = PopToMark();
        if (!items.ok()) return items.status();
        if (stack_.empty() || stack_.back()->kind != K::kDict) return absl::DataLossError("SETITEMS on a non-dict");
        if (items->size() % 2 != 0) return absl::DataLossError("SETITEMS with an odd item count");
        for (size_t k = 0; k < items->size(); k += 2) stack_.back()->dict.emplace_back((*items)[k], (*items)[k + 1]);
        break;
      }
      case 'a': {  // APPEND
        auto v = Pop();
        if (!v.ok()) return v.status();
        if (stack_.empty()) return absl::DataLossError("APPEND on empty stack");
        stack_.back()->items.push_back(*v);
        break;
      }
      case 'e': case 0x90: {  // APPENDS / ADDITEMS
        auto items = PopToMark();
        if (!items.ok()) return items.status();
        if (stack_.empty()) return absl::DataLossError("APPENDS on empty stack");
        for (auto& v : *items) stack_.back()->items.push_back(v);
        break;
      }
      case 0x91: {  // FROZENSET
        auto items = PopToMark();
        if (!items.ok()) return items.status();
        auto v = Make(K::kList);
        v->items = std::move(*items);
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
        if (stack_.empty()) return absl::DataLossError("DUP on empty stack");
        stack_.push_back(stack_.back());
        break;
      }
      default:
        return absl::UnimplementedError(absl::StrCat("unsupported pickle opcode 0x", absl::Hex(op)));
    }
    if (truncated_) return absl::DataLossError("pickle data is truncated");
    return absl::OkStatus();
  }

  const std::string& data_;
  caffe2::serialize::PyTorchStreamReader* reader_;
  std::string path_;
  size_t pos_ = 0;
  bool done_ = false;
  bool truncated_ = false;
  std::vector<Value> stack_;
  std::vector<size_t> marks_;
  std::map<uint32_t, Value> memo_;
  std::map<std::string, torch::Tensor> storages_;
};

}  // namespace

const PickleValue* PickleValue::Get(const std::string& key) const {
  for (const auto& kv : dict) {
    if (kv.first->kind == Kind::kString && kv.first->s == key) return kv.second.get();
  }
  return nullptr;
}

absl::StatusOr<std::shared_ptr<PickleValue>> ReadTorchPickle(const std::string& path) {
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat(path, ": not a readable torch zip archive: ",
                                            std::string(e.what()).substr(0, 200)));
  }
  try {
    if (!reader->hasRecord("data.pkl")) {
      return absl::DataLossError(absl::StrCat(path, ": torch archive without data.pkl"));
    }
    auto rec = reader->getRecord("data.pkl");
    std::string data(static_cast<const char*>(std::get<0>(rec).get()), std::get<1>(rec));
    Unpickler u(data, reader.get(), path);
    return u.Run();
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat(path, ": ", std::string(e.what()).substr(0, 300)));
  }
}

absl::StatusOr<NamedTensors> ReadTorchStateDict(const std::string& path, std::map<std::string, double>* scalars) {
  auto top = ReadTorchPickle(path);
  if (!top.ok()) return top.status();
  const PickleValue* dict = top->get();
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

}  // namespace chexworld
