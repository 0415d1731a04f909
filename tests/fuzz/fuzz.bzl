"""Fuzz targets that are also regression tests.

chexworld_fuzz_target(name, srcs, deps) defines, from one LLVMFuzzerTestOneInput:
  :<name>            with --config=fuzz, a libFuzzer binary (clang, ASan + UBSan):
                       bazel build --config=fuzz //tests/fuzz:<name>
                       bazel-bin/tests/fuzz/<name> -max_total_time=600 corpus/ seeds/<name>
                     otherwise a driver that runs the function on each file or folder named
  :<name>_regression a test running :<name> over seeds/<name>/ and regressions/<name>/
                     (every input a fuzzer ever crashed on stays there), in every build
"""

def chexworld_fuzz_target(name, srcs, deps = [], linkopts = []):
    native.cc_binary(
        name = name,
        srcs = srcs,
        testonly = True,
        linkopts = linkopts + select({
            "//tests/fuzz:fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        deps = deps + select({
            "//tests/fuzz:fuzzing": [],
            "//conditions:default": ["//tests/fuzz:replay_main"],
        }),
    )
    native.sh_test(
        name = name + "_regression",
        size = "small",
        srcs = ["//tests/fuzz:regression_test.sh"],
        args = ["$(location :%s)" % name, "tests/fuzz/seeds/" + name, "tests/fuzz/regressions/" + name],
        data = [":" + name] + native.glob(["seeds/%s/**" % name, "regressions/%s/**" % name]),
    )
