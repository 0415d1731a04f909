#include "chexworld/core/flags.h"

#include <gflags/gflags.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

DEFINE_int32(widgets, 3, "how many widgets");

namespace chexworld {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(FlagsTest, HelpShowsTheBinarysOwnFlagsOnly) {
  const std::string help = OwnFlagsHelp("tool", "--widgets=N", __FILE__);
  EXPECT_THAT(help, HasSubstr("usage: tool --widgets=N\n"));
  EXPECT_THAT(help, HasSubstr("--widgets (how many widgets) type: int32 default: 3"));
  EXPECT_THAT(help, Not(HasSubstr("--flagfile")));     // gflags' own
  EXPECT_THAT(help, Not(HasSubstr("--logtostderr")));  // glog's
  EXPECT_THAT(help, HasSubstr("--helpfull"));
}

TEST(FlagsTest, RepeatedFlagsAreExtractedInOrder) {
  const char* args[] = {"tool", "--set=a=1", "--x", "--set", "b=2", "--", "--set=c"};
  int argc = 7;
  char** argv = const_cast<char**>(args);
  EXPECT_EQ(ExtractRepeatedFlag("set", &argc, &argv), (std::vector<std::string>{"a=1", "b=2"}));
  EXPECT_EQ(argc, 4);
}

}  // namespace
}  // namespace chexworld
