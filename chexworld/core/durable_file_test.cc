#include "chexworld/core/durable_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "chexworld/core/failpoints.h"
#include "chexworld/core/paths.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chexworld {
namespace {

using ::testing::HasSubstr;

// Read once, on the first Failpoint() call: the second write through the
// "checkpoint_write" point fails as a full disk.
const bool kFailpoints = (setenv("CHEXWORLD_FAILPOINTS", "checkpoint_write:2=enospc", 1), true);

std::string Temp(const std::string& name) {
  const char* t = std::getenv("TEST_TMPDIR");
  return std::string(t ? t : "/tmp") + "/" + name;
}

bool Exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

absl::Status WriteDurable(const std::string& path, const std::string& a, const std::string& b,
                          const char* point = nullptr) {
  DurableFileOptions o;
  o.write_point = point;
  auto f = DurableFile::Create(path, o);
  if (!f.ok()) return f.status();
  // Write accepts everything (a sink that never fails its caller); the
  // error shows in status() and Commit().
  EXPECT_EQ((*f)->Write(a.data(), a.size()), a.size());
  EXPECT_EQ((*f)->Write(b.data(), b.size()), b.size());
  return (*f)->Commit();
}

TEST(DurableFile, CommitsWithARecordThatVerifies) {
  const std::string path = Temp("ok.bin");
  ASSERT_TRUE(WriteDurable(path, "hello ", "world").ok());
  bool sidecar = false;
  EXPECT_TRUE(VerifyDurableFile(path, &sidecar).ok());
  EXPECT_TRUE(sidecar);
  EXPECT_FALSE(Exists(path + ".tmp"));
  EXPECT_EQ(*ReadFile(path), "hello world");
}

TEST(DurableFile, TruncationAndBitRotAreCaught) {
  const std::string path = Temp("bad.bin");
  ASSERT_TRUE(WriteDurable(path, std::string(5000, 'x'), std::string(5000, 'y')).ok());
  ASSERT_EQ(truncate(path.c_str(), 7000), 0);
  absl::Status s = VerifyDurableFile(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("truncated"));
  EXPECT_THAT(s.message(), HasSubstr(path));

  ASSERT_TRUE(WriteDurable(path, std::string(5000, 'x'), std::string(5000, 'y')).ok());
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4321);
    f.put('z');
  }
  s = VerifyDurableFile(path);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("corrupt"));
}

TEST(DurableFile, AFullDiskLeavesThePreviousFileIntact) {
  const std::string path = Temp("full.bin");
  // The first file through the point is written; the second fails (ENOSPC).
  ASSERT_TRUE(WriteDurable(path, "old ", "contents", "checkpoint_write").ok());
  absl::Status s = WriteDurable(path, "new ", "contents that do not fit", "checkpoint_write");
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr(path));
  EXPECT_THAT(s.message(), HasSubstr("No space left on device"));
  EXPECT_FALSE(Exists(path + ".tmp"));
  EXPECT_TRUE(VerifyDurableFile(path).ok());
  EXPECT_EQ(*ReadFile(path), "old contents");
}

TEST(DurableFile, ErrorsNameThePath) {
  auto f = DurableFile::Create("/nonexistent-dir/x.bin");
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.status().message(), HasSubstr("/nonexistent-dir/x.bin.tmp"));
  EXPECT_THAT(VerifyDurableFile("/nonexistent-dir/x.bin").message(), HasSubstr("No such file"));
}

TEST(Failpoints, SpecErrorsNameTheEntry) {
  EXPECT_TRUE(ValidateFailpointSpec("step:3=kill, checkpoint_tmp:1=hold@1").ok());
  EXPECT_THAT(ValidateFailpointSpec("stpe:3=kill").message(), HasSubstr("unknown point 'stpe'"));
  EXPECT_THAT(ValidateFailpointSpec("step:0=kill").message(), HasSubstr(">= 1"));
  EXPECT_THAT(ValidateFailpointSpec("step:2=explode").message(), HasSubstr("unknown action 'explode'"));
  EXPECT_THAT(ValidateFailpointSpec("step:2=kill@x").message(), HasSubstr("rank"));
  EXPECT_THAT(ValidateFailpointSpec("step:2").message(), HasSubstr("point:N=action"));
}

}  // namespace
}  // namespace chexworld
