// The collective contract, on CPU: the device rule (NCCL's, enforced for every
// backend) and truthful failure classes, with the Gloo backend over a
// loopback TCPStore (two ranks as two threads of this process).
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "chexworld/train/distributed.h"

namespace chexworld {
namespace {

using ::testing::HasSubstr;

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

DistributedEnv Rank(int rank, int world, int port) {
  DistributedEnv env;
  env.rank = rank;
  env.world_size = world;
  env.local_rank = rank;
  env.local_world_size = world;
  env.master_addr = "127.0.0.1";
  env.master_port = port;
  env.source = "test";
  return env;
}

// Runs body(rank, communicator) on two Gloo ranks at once.
void OnTwoRanks(double collective_timeout_s,
                const std::function<void(int, Communicator&)>& body) {
  const int port = FreePort();
  auto run = [&](int rank) {
    CommunicatorOptions o;
    o.backend = "gloo";
    o.rendezvous_timeout_s = 60;
    o.collective_timeout_s = collective_timeout_s;
    auto c = CreateCommunicator(Rank(rank, 2, port), o);
    ASSERT_TRUE(c.ok()) << c.status();
    body(rank, **c);
  };
  auto other = std::async(std::launch::async, run, 1);
  run(0);
  other.get();
}

TEST(Communicator, WorldSizeOneStillEnforcesTheDeviceRule) {
  CommunicatorOptions o;
  o.device = torch::Device(torch::kCUDA, 0);  // a CUDA run: never touched, only compared
  auto c = CreateCommunicator(DistributedEnv{}, o);
  ASSERT_TRUE(c.ok()) << c.status();
  auto cpu = torch::zeros({3}, torch::kFloat64);
  absl::Status s = (*c)->AllReduceMean({cpu}, "loss terms", {"loss"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("all-reduce of loss terms: tensor 'loss' (0 of 1) is on cpu"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("cuda:0"));
}

TEST(Communicator, SparseAndUndefinedTensorsAreRefusedByName) {
  auto sparse = torch::zeros({4}).to_sparse();
  auto s = CheckCollectiveTensors({torch::zeros({2}), sparse}, torch::kCPU, "gradients", {"a", "blocks.0.w"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("'blocks.0.w' (1 of 2) is not dense"));
  s = CheckCollectiveTensors({torch::Tensor()}, torch::kCPU, "gradients", {});
  EXPECT_THAT(std::string(s.message()), HasSubstr("tensor 0 of 1 is undefined"));
  EXPECT_TRUE(CheckCollectiveTensors({torch::zeros({2})}, torch::kCPU, "x", {}).ok());
}

TEST(Communicator, ClassifiesBackendErrors) {
  EXPECT_EQ(ClassifyCollectiveError("Tensors must be CUDA and dense", false), CollectiveError::kInvalidArgument);
  EXPECT_EQ(ClassifyCollectiveError("anything", true), CollectiveError::kInvalidArgument);
  EXPECT_EQ(ClassifyCollectiveError("[gloo/transport/tcp/pair.cc:598] Timed out waiting 1000ms for recv", false),
            CollectiveError::kTimeout);
  EXPECT_EQ(ClassifyCollectiveError("Watchdog caught collective operation timeout: WorkNCCL(...)", false),
            CollectiveError::kTimeout);
  EXPECT_EQ(ClassifyCollectiveError("[gloo/transport/tcp/pair.cc:589] Connection closed by peer [127.0.0.1]:1234",
                                    false),
            CollectiveError::kPeerFailure);
}

TEST(Communicator, GlooAveragesAndRefusesOffDeviceTensorsOnEveryRank) {
  OnTwoRanks(60, [](int rank, Communicator& c) {
    auto a = torch::full({2, 3}, static_cast<float>(rank + 1));
    auto b = torch::full({4}, 10.0 * rank, torch::kFloat64);
    ASSERT_TRUE(c.AllReduceMean({a, b}, "test tensors").ok());
    EXPECT_TRUE(torch::allclose(a, torch::full({2, 3}, 1.5f)));
    EXPECT_TRUE(torch::allclose(b, torch::full({4}, 5.0, torch::kFloat64)));
    // Every rank refuses before entering the collective: nobody hangs.
    absl::Status s = c.AllReduceMean({a, torch::zeros({4}).to_sparse()}, "test tensors", {"a", "sparse"});
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("'sparse'"));
    ASSERT_TRUE(c.Barrier().ok());
  });
}

TEST(Communicator, ATimeoutWithEveryRankAliveIsNotALostRank) {
  std::atomic<bool> classified{false};
  OnTwoRanks(1.0, [&](int rank, Communicator& c) {
    if (rank == 0) {
      // Rank 1 never joins this all-reduce, but it is alive (heartbeating).
      absl::Status s = c.AllReduceMean({torch::ones({2})}, "loss terms");
      classified = true;
      EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
      EXPECT_THAT(std::string(s.message()), HasSubstr("all-reduce of loss terms timed out"));
      EXPECT_THAT(std::string(s.message()), HasSubstr("none is lost"));
      EXPECT_THAT(std::string(s.message()), ::testing::Not(HasSubstr("lost rank")));
    } else {
      // Alive, in no collective, until rank 0 has classified its failure.
      while (!classified) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
}

}  // namespace
}  // namespace chexworld
