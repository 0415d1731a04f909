"""External repositories chexworld needs, for its own WORKSPACE and for
workspaces that depend on it (see examples/reuse/WORKSPACE):

    local_repository(name = "chexworld", path = "path/to/chexworld")
    load("@chexworld//third_party:workspace.bzl", "chexworld_dependencies")
    chexworld_dependencies(path = "path/to/chexworld")

`path` is chexworld's root relative to the calling workspace. Nothing is
downloaded: Bazel's own needs are met by in-tree stand-ins and Debian packages.
"""

load("@chexworld//third_party/torch:libtorch.bzl", "local_libtorch")
load("@chexworld//third_party:shared_dir.bzl", "shared_dir")

def chexworld_dependencies(path = "."):
    native.local_repository(
        name = "rules_cc",
        path = path + "/third_party/rules_cc",
    )
    native.local_repository(
        name = "rules_java",
        path = "/usr/share/bazel/rules/java",
    )
    native.local_repository(
        name = "remote_coverage_tools",
        path = path + "/third_party/remote_coverage_tools",
    )
    local_libtorch(name = "libtorch")
    native.new_local_repository(
        name = "hdf5_serial_headers",
        build_file = "@chexworld//third_party:hdf5_serial_headers.BUILD",
        path = "/usr/include/hdf5/serial",
    )
    native.new_local_repository(
        name = "libxml2_headers",
        build_file = "@chexworld//third_party:libxml2_headers.BUILD",
        path = "/usr/include/libxml2",
    )
    native.new_local_repository(
        name = "com_google_protobuf",
        build_file = "@chexworld//third_party:com_google_protobuf.BUILD",
        path = "/usr/include",
    )
    shared_dir(name = "shared_dir")
