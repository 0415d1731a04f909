#include "chexworld/train/distributed.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <glog/logging.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef CHEXWORLD_HAVE_NCCL
// CUDA builds only (libtorch 2.x API; this branch has not been compiled or run
// on the development machines, which have no GPU).
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/core/failpoints.h"

namespace chexworld {
namespace {

using std::chrono::milliseconds;

milliseconds Millis(double seconds) { return milliseconds(static_cast<int64_t>(seconds * 1000)); }

class Local : public Communicator {
 public:
  explicit Local(torch::Device device) : device_(device) {}
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  std::string backend() const override { return "none"; }
  absl::Status AllReduceMean(const std::vector<torch::Tensor>& tensors, const std::string& what,
                             const std::vector<std::string>& names) override {
    return CheckCollectiveTensors(tensors, device_, what, names);
  }
  absl::Status Barrier() override { return absl::OkStatus(); }

 private:
  torch::Device device_;
};

constexpr char kHeartbeatPrefix[] = "chexworld/heartbeat/";
constexpr auto kHeartbeatPeriod = std::chrono::seconds(1);
// A rank whose counter has not moved for this long is reported lost.
constexpr auto kLostAfter = std::chrono::seconds(4);

// One rank's membership: the store connection and its heartbeat.
class Membership {
 public:
  Membership(const DistributedEnv& env, c10::intrusive_ptr<::c10d::Store> store) : env_(env), store_(std::move(store)) {
    thread_ = std::thread([this] { Beat(); });
  }
  ~Membership() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  // Which ranks are gone, in words ("" when every heartbeat still advances).
  std::string DescribeLost() {
    std::vector<int64_t> before(env_.world_size, -1), after(env_.world_size, -1);
    try {
      for (int r = 0; r < env_.world_size; ++r) before[r] = store_->add(Key(r), 0);
      std::this_thread::sleep_for(kLostAfter);
      for (int r = 0; r < env_.world_size; ++r) after[r] = store_->add(Key(r), 0);
    } catch (const std::exception& e) {
      if (env_.rank == 0) return "the rendezvous store this rank hosts failed";
      return absl::StrCat("rank 0 (it hosts the rendezvous store at ", env_.store_address(),
                          ", which no longer answers)");
    }
    std::vector<std::string> lost;
    for (int r = 0; r < env_.world_size; ++r) {
      if (r != env_.rank && after[r] == before[r]) lost.push_back(absl::StrCat("rank ", r));
    }
    return absl::StrJoin(lost, ", ");
  }

 private:
  std::string Key(int rank) const { return absl::StrCat(kHeartbeatPrefix, rank); }
  void Beat() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      lock.unlock();
      try {
        store_->add(Key(env_.rank), 1);
      } catch (const std::exception&) {
        return;  // the store is gone; DescribeLost says so
      }
      lock.lock();
      cv_.wait_for(lock, kHeartbeatPeriod, [&] { return stop_; });
    }
  }

  DistributedEnv env_;
  c10::intrusive_ptr<::c10d::Store> store_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

template <typename Group>
class GroupCommunicator : public Communicator {
 public:
  GroupCommunicator(const DistributedEnv& env, const CommunicatorOptions& options, std::string backend,
                    c10::intrusive_ptr<::c10d::Store> store, c10::intrusive_ptr<Group> group)
      : env_(env),
        options_(options),
        backend_(std::move(backend)),
        membership_(std::make_unique<Membership>(env, store)),
        group_(std::move(group)) {}
  ~GroupCommunicator() override {
    group_.reset();
    membership_.reset();
  }

  int rank() const override { return env_.rank; }
  int world_size() const override { return env_.world_size; }
  std::string backend() const override { return backend_; }

  absl::Status AllReduceMean(const std::vector<torch::Tensor>& tensors, const std::string& what,
                             const std::vector<std::string>& names) override {
    if (tensors.empty()) return absl::OkStatus();
    if (!failed_.ok()) return failed_;
    // Every rank runs the same check on tensors of the same kind, so a refusal
    // stops all of them here, before any rank enters the collective.
    RETURN_IF_ERROR(CheckCollectiveTensors(tensors, options_.device, what, names));
    Failpoint("collective").IgnoreError();
    const std::string op = absl::StrCat("all-reduce of ", what);
    try {
      torch::NoGradGuard g;
      // NCCL reduces on the device; Gloo on host copies.
      const torch::Device where = backend_ == "nccl" ? options_.device : torch::Device(torch::kCPU);
      std::vector<torch::Tensor> parts;
      for (const auto& t : tensors) parts.push_back(t.detach().reshape({-1}).to(where, torch::kFloat32));
      std::vector<torch::Tensor> buffer = {parts.size() == 1 ? parts[0].clone() : torch::cat(parts)};
      group_->allreduce(buffer)->wait();
      buffer[0].div_(env_.world_size);
      int64_t offset = 0;
      for (const auto& t : tensors) {
        const int64_t n = t.numel();
        t.copy_(buffer[0].slice(0, offset, offset + n).view(t.sizes()).to(t.device(), t.scalar_type()));
        offset += n;
      }
    } catch (const c10::ValueError& e) {
      return Failed(op, e.what(), /*invalid_type=*/true);
    } catch (const c10::TypeError& e) {
      return Failed(op, e.what(), /*invalid_type=*/true);
    } catch (const std::invalid_argument& e) {
      return Failed(op, e.what(), /*invalid_type=*/true);
    } catch (const std::exception& e) {
      return Failed(op, e.what(), /*invalid_type=*/false);
    }
    return absl::OkStatus();
  }

  absl::Status Barrier() override {
    if (!failed_.ok()) return failed_;
    try {
      group_->barrier()->wait();
    } catch (const std::exception& e) {
      return Failed("barrier", e.what(), /*invalid_type=*/false);
    }
    return absl::OkStatus();
  }

 private:
  // The error a failed collective returns (and every later one repeats).
  absl::Status Failed(const std::string& op, const std::string& what, bool invalid_type) {
    const std::string backend_said = absl::StrCat(backend_, ": ", what.substr(0, 300));
    const std::string who = absl::StrCat("rank ", env_.rank, " of ", env_.world_size, ": the ", op);
    const CollectiveError kind = ClassifyCollectiveError(what, invalid_type);
    if (kind == CollectiveError::kInvalidArgument) {
      failed_ = absl::InvalidArgumentError(absl::StrCat(
          who, " was refused (a defect in what was passed, no rank was lost): ", backend_said));
      return failed_;
    }
    LOG(ERROR) << who << " failed (" << what.substr(0, 200) << "); checking which ranks are alive";
    const std::string lost = membership_->DescribeLost();
    const std::string advice =
        ". Stopping without writing a checkpoint; relaunch with --resume to continue from the last one (";
    if (!lost.empty()) {
      failed_ = absl::UnavailableError(absl::StrCat(who, " failed: lost ", lost, advice, backend_said, ")"));
    } else if (kind == CollectiveError::kTimeout) {
      failed_ = absl::DeadlineExceededError(absl::StrCat(
          who, " timed out after ", options_.collective_timeout_s,
          " s (run.collective_timeout_s) while every rank's heartbeat still advances: a rank is slow or stuck, "
          "none is lost",
          advice, backend_said, ")"));
    } else {
      failed_ = absl::InternalError(absl::StrCat(who, " failed while every rank's heartbeat still advances (no rank "
                                                      "is lost)",
                                                 advice, backend_said, ")"));
    }
    return failed_;
  }

  DistributedEnv env_;
  CommunicatorOptions options_;
  std::string backend_;
  std::unique_ptr<Membership> membership_;
  c10::intrusive_ptr<Group> group_;
  absl::Status failed_;
};

bool IsLoopback(const std::string& host) {
  return host == "localhost" || absl::StartsWith(host, "127.") || host == "::1";
}

std::shared_ptr<::gloo::transport::Device> GlooDevice(const DistributedEnv& env) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname != nullptr && *ifname != '\0') {
    return ::c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  }
  if (IsLoopback(env.master_addr)) return ::c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return ::c10d::ProcessGroupGloo::createDefaultDevice();
}

}  // namespace

CollectiveError ClassifyCollectiveError(const std::string& message, bool invalid_type) {
  if (invalid_type) return CollectiveError::kInvalidArgument;
  const std::string m = absl::AsciiStrToLower(message);
  for (const char* t : {"timed out", "timeout", "deadline"}) {
    if (absl::StrContains(m, t)) return CollectiveError::kTimeout;
  }
  for (const char* t : {"must be", "invalid", "expected", "unsupported", "not supported"}) {
    if (absl::StrContains(m, t)) return CollectiveError::kInvalidArgument;
  }
  return CollectiveError::kPeerFailure;
}

absl::Status CheckCollectiveTensors(const std::vector<torch::Tensor>& tensors, const torch::Device& device,
                                    const std::string& what, const std::vector<std::string>& names) {
  for (size_t i = 0; i < tensors.size(); ++i) {
    const torch::Tensor& t = tensors[i];
    const std::string name = i < names.size() ? absl::StrCat("'", names[i], "' (", i, " of ", tensors.size(), ")")
                                              : absl::StrCat(i, " of ", tensors.size());
    const std::string where = absl::StrCat("all-reduce of ", what, ": tensor ", name);
    if (!t.defined()) return absl::InvalidArgumentError(absl::StrCat(where, " is undefined"));
    if (t.layout() != torch::kStrided) {
      return absl::InvalidArgumentError(absl::StrCat(where, " is not dense (layout ", c10::str(t.layout()),
                                                     "); collectives take dense tensors"));
    }
    if (t.device() != device) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, " is on ", t.device().str(), " but the process group works on ", device.str(),
          ": every tensor of a collective must live on the group's device (NCCL refuses others)"));
    }
  }
  return absl::OkStatus();
}

bool BuiltWithNccl() {
#ifdef CHEXWORLD_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

absl::StatusOr<std::string> ResolveBackend(const std::string& requested, const torch::Device& device) {
  const std::string r = requested.empty() ? "auto" : requested;
  if (r == "gloo") return r;
  if (r == "auto") return device.is_cuda() && BuiltWithNccl() ? "nccl" : "gloo";
  if (r == "nccl") {
    if (!BuiltWithNccl()) {
      return absl::InvalidArgumentError(
          "run.distributed_backend = \"nccl\" but this build has no NCCL (it needs a CUDA libtorch with the CUDA and "
          "NCCL headers, see README, Building against another libtorch); use \"gloo\" or \"auto\"");
    }
    if (!device.is_cuda()) {
      return absl::InvalidArgumentError(absl::StrCat("run.distributed_backend = \"nccl\" needs a CUDA run.device, not \"",
                                                     device.str(), "\""));
    }
    return r;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("run.distributed_backend = \"", r, "\" is not \"auto\", \"gloo\" or \"nccl\""));
}

absl::StatusOr<std::unique_ptr<Communicator>> CreateCommunicator(const DistributedEnv& env,
                                                                 const CommunicatorOptions& options) {
  if (!env.enabled()) return std::unique_ptr<Communicator>(new Local(options.device));
  SetFailpointRank(env.rank);
  auto backend = ResolveBackend(options.backend, options.device);
  if (!backend.ok()) return backend.status();
  Failpoint("rendezvous").IgnoreError();
  c10::intrusive_ptr<::c10d::Store> store;
  try {
    ::c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(env.master_port);
    so.isServer = env.rank == 0 && !env.use_agent_store;
    so.numWorkers = env.world_size;
    so.waitWorkers = false;  // the group's own rendezvous waits, within the same timeout
    so.timeout = Millis(options.rendezvous_timeout_s);
    store = c10::make_intrusive<::c10d::TCPStore>(env.master_addr, so);
    if (env.use_agent_store) {
      // As torch.distributed's env:// under torchrun: the agent's store, one
      // namespace per restart.
      store = c10::make_intrusive<::c10d::PrefixStore>(absl::StrCat("/worker/attempt_", env.restart_count), store);
    }
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(
        "rank ", env.rank, ": cannot ", env.rank == 0 && !env.use_agent_store ? "host" : "reach",
        " the rendezvous store at ",
        env.store_address(), " within ", options.rendezvous_timeout_s,
        " s (run.rendezvous_timeout_s); check MASTER_ADDR / MASTER_PORT (or --master_addr / --master_port) and that "
        "rank 0 is running: ",
        std::string(e.what()).substr(0, 300)));
  }
  try {
    if (*backend == "nccl") {
#ifdef CHEXWORLD_HAVE_NCCL
      auto o = ::c10d::ProcessGroupNCCL::Options::create();
      o->timeout = Millis(options.collective_timeout_s);
      auto group = c10::make_intrusive<::c10d::ProcessGroupNCCL>(store, env.rank, env.world_size, o);
      return std::unique_ptr<Communicator>(
          new GroupCommunicator<::c10d::ProcessGroupNCCL>(env, options, "nccl", store, group));
#endif
    }
    auto o = ::c10d::ProcessGroupGloo::Options::create(Millis(options.collective_timeout_s));
    o->devices.push_back(GlooDevice(env));
    auto group = c10::make_intrusive<::c10d::ProcessGroupGloo>(store, env.rank, env.world_size, o);
    return std::unique_ptr<Communicator>(new GroupCommunicator<::c10d::ProcessGroupGloo>(env, options, "gloo", store, group));
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("rank ", env.rank, ": cannot join the ", *backend, " process group of ",
                                               env.world_size, " ranks through ", env.store_address(), " within ",
                                               options.rendezvous_timeout_s, " s: ",
                                               std::string(e.what()).substr(0, 300)));
  }
}

}  // namespace chexworld
