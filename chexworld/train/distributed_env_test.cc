#include "chexworld/train/distributed_env.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chexworld {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<DistributedEnv> From(const std::map<std::string, std::string>& vars) {
  return DistributedFromVariables([&](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

TEST(DistributedEnv, NothingSetIsOneProcess) {
  auto env = From({});
  ASSERT_TRUE(env.ok());
  EXPECT_FALSE(env->enabled());
  EXPECT_EQ(env->source, "");
}

TEST(DistributedEnv, TorchrunVariables) {
  auto env = From({{"RANK", "5"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "4"},
                   {"MASTER_ADDR", "node0"}, {"MASTER_PORT", "29500"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->rank, 5);
  EXPECT_EQ(env->world_size, 8);
  EXPECT_EQ(env->local_rank, 1);
  EXPECT_EQ(env->local_world_size, 4);
  EXPECT_EQ(env->store_address(), "node0:29500");
  EXPECT_EQ(env->source, "torchrun");
}

TEST(DistributedEnv, TorchrunAgentStore) {
  auto env = From({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "29500"},
                   {"TORCHELASTIC_USE_AGENT_STORE", "True"}, {"TORCHELASTIC_RESTART_COUNT", "3"}});
  ASSERT_TRUE(env.ok());
  EXPECT_TRUE(env->use_agent_store);
  EXPECT_EQ(env->restart_count, 3);
}

TEST(DistributedEnv, TorchrunWinsOverSlurm) {
  // srun + torchrun: torchrun's variables describe the worker.
  auto env = From({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "1234"},
                   {"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}});
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->source, "torchrun");
  EXPECT_EQ(env->rank, 1);
}

TEST(DistributedEnv, SlurmVariables) {
  auto env = From({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "6"}, {"SLURM_LOCALID", "1"}, {"SLURM_NODEID", "2"},
                   {"SLURM_TASKS_PER_NODE", "2(x3)"}, {"SLURM_JOB_NODELIST", "gpu[07-09]"}, {"SLURM_JOB_ID", "123456"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->rank, 5);
  EXPECT_EQ(env->world_size, 6);
  EXPECT_EQ(env->local_rank, 1);
  EXPECT_EQ(env->local_world_size, 2);
  EXPECT_EQ(env->master_addr, "gpu07");
  EXPECT_EQ(env->master_port, SlurmDefaultPort(123456));
  EXPECT_EQ(env->source, "slurm");
}

TEST(DistributedEnv, SlurmOneTaskIsAPlainRun) {
  auto env = From({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}, {"SLURM_JOB_NODELIST", "n1"}});
  ASSERT_TRUE(env.ok());
  EXPECT_FALSE(env->enabled());
}

TEST(DistributedEnv, SlurmMasterOverrides) {
  auto env = From({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"SLURM_LOCALID", "0"}, {"SLURM_TASKS_PER_NODE", "2"},
                   {"SLURM_JOB_NODELIST", "n[1-2]"}, {"MASTER_ADDR", "10.0.0.5"}, {"MASTER_PORT", "4000"}});
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->store_address(), "10.0.0.5:4000");
}

TEST(DistributedEnv, ErrorsNameTheVariable) {
  EXPECT_THAT(From({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "1"}}).status().message(),
              HasSubstr("RANK=2 is outside [0, 2)"));
  EXPECT_THAT(From({{"RANK", "0"}, {"WORLD_SIZE", "2"}}).status().message(), HasSubstr("needs MASTER_ADDR and MASTER_PORT"));
  EXPECT_THAT(From({{"RANK", "0"}}).status().message(), HasSubstr("RANK and WORLD_SIZE must be set together"));
  EXPECT_THAT(From({{"RANK", "x"}, {"WORLD_SIZE", "2"}}).status().message(), HasSubstr("RANK='x' is not an integer"));
  EXPECT_THAT(From({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "70000"}}).status().message(),
              HasSubstr("MASTER_PORT=70000"));
  EXPECT_THAT(From({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"SLURM_LOCALID", "0"},
                    {"SLURM_JOB_NODELIST", "n[1-"}}).status().message(),
              HasSubstr("SLURM_JOB_NODELIST='n[1-'"));
}

TEST(SlurmHostList, FirstHost) {
  EXPECT_EQ(*FirstSlurmHost("node01"), "node01");
  EXPECT_EQ(*FirstSlurmHost("gpu[03-05,9],cpu1"), "gpu03");
  EXPECT_EQ(*FirstSlurmHost("a[7,9]"), "a7");
  EXPECT_EQ(*FirstSlurmHost("rack[2-3]-n[010-012]"), "rack2-n010");
  EXPECT_EQ(*FirstSlurmHost("x1,x2"), "x1");
  EXPECT_FALSE(FirstSlurmHost("").ok());
  EXPECT_FALSE(FirstSlurmHost("a[1-2").ok());
}

TEST(SlurmHostList, TasksPerNode) {
  EXPECT_EQ(*SlurmTasksOnNode("4", 0), 4);
  EXPECT_EQ(*SlurmTasksOnNode("2(x3),1", 2), 2);
  EXPECT_EQ(*SlurmTasksOnNode("2(x3),1", 3), 1);
  EXPECT_FALSE(SlurmTasksOnNode("2(x3),1", 4).ok());
  EXPECT_FALSE(SlurmTasksOnNode("2(x", 0).ok());
}

}  // namespace
}  // namespace chexworld
