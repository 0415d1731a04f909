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
#include "absl/strings/str_join.h"
#include "chexworld/core/failpoints.h"

namespace chexworld {
namespace {

using std::chrono::milliseconds;

milliseconds Millis(double seconds) { return milliseconds(static_cast<int64_t>(seconds * 1000)); }

class Local : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  std::string backend() const override { return "none"; }
  absl::Status AllReduceMean(const std::vector<torch::Tensor>&) override { return absl::OkStatus(); }
  absl::Status Barrier() override { return absl::OkStatus(); }
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

  // Which ranks are gone, in words, for an error message.
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
    if (lost.empty()) return "no rank (every heartbeat still advances: a collective timed out)";
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

  absl::Status AllReduceMean(const std::vector<torch::Tensor>& tensors) override {
    if (tensors.empty()) return absl::OkStatus();
    if (!failed_.ok()) return failed_;
    Failpoint("collective").IgnoreError();
    try {
      torch::NoGradGuard g;
      // NCCL reduces on the device; Gloo on host copies.
      const torch::Device where = backend_ == "nccl" ? tensors[0].device() : torch::Device(torch::kCPU);
      std::vector<torch::Tensor> parts;
      for (const auto& t : tensors) parts.push_back(t.detach().reshape({-1}).to(where, torch::kFloat32));
      std::vector<torch::Tensor> buffer = {torch::cat(parts)};
      group_->allreduce(buffer)->wait();
      buffer[0].div_(env_.world_size);
      int64_t offset = 0;
      for (const auto& t : tensors) {
        const int64_t n = t.numel();
        t.copy_(buffer[0].slice(0, offset, offset + n).view(t.sizes()).to(t.device(), t.scalar_type()));
        offset += n;
      }
    } catch (const std::exception& e) {
      return Lost("all-reduce", e.what());
    }
    return absl::OkStatus();
  }

  absl::Status Barrier() override {
    if (!failed_.ok()) return failed_;
    try {
      group_->barrier()->wait();
    } catch (const std::exception& e) {
      return Lost("barrier", e.what());
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Lost(const char* op, const std::string& what) {
    LOG(ERROR) << "rank " << env_.rank << ": " << op << " failed (" << what.substr(0, 200)
               << "); checking which ranks are alive";
    failed_ = absl::UnavailableError(absl::StrCat(
        "rank ", env_.rank, " of ", env_.world_size, ": the ", op, " failed: lost ", membership_->DescribeLost(),
        ". Stopping without writing a checkpoint; relaunch with --resume to continue from the last one (",
        backend_, ": ", what.substr(0, 200), ")"));
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
  if (!env.enabled()) return std::unique_ptr<Communicator>(new Local());
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
