"""One test per experiment config: it must parse and resolve every component."""

def experiment_config_tests(name, srcs):
    tests = []
    for src in srcs:
        test_name = name + "/" + src.replace(".textproto", "").replace("/", "_")
        native.sh_test(
            name = test_name,
            size = "small",
            srcs = ["//tools:check_config_test.sh"],
            args = ["$(location :check_config)", "$(location %s)" % src],
            data = [":check_config", src],
        )
        tests.append(":" + test_name)
    native.test_suite(name = name, tests = tests)
