"""Where libtorch comes from: PyTorch's wheel, pinned and installed by tools/install_deps.sh.

local_libtorch(name = "libtorch") creates

  @libtorch//:libtorch  headers and libraries of the wheel's libtorch (libtorch,
                        libtorch_cpu, libc10, and libtorch_cuda + libc10_cuda
                        when the wheel has them), linked by absolute path with
                        an rpath, so the wheel's own RPATHs find the CUDA
                        libraries of the nvidia-* wheels beside it.
  @libtorch//:cuda      the CUDA runtime's headers and library, and the define
                        CHEXWORLD_HAVE_CUDA: what the CUDA-only code (side
                        stream, events, allocator statistics, cudaMemGetInfo)
                        compiles with. Empty for a libtorch without CUDA.
  @libtorch//:nccl      NCCL's headers and library, and the defines
                        CHEXWORLD_HAVE_NCCL and USE_C10D_NCCL, for
                        ProcessGroupNCCL. Empty without CUDA or nccl.h.
  @libtorch//:python.sh CHEXWORLD_PYTHON=<the virtual environment's python>,
                        for the shell tests that check exports in PyTorch;
                        @libtorch//:project_python the same for C++ tests
                        ("chexworld/core/project_python.h").

Which libtorch, in order:
  * $CHEXWORLD_LIBTORCH: a torch package folder (site-packages/torch) or an
    unpacked libtorch distribution; both have include/, lib/ and share/.
  * The project's virtual environment, <chexworld>/.venv (made by
    tools/install_deps.sh from tools/python-requirements.lock).

Two things are adapted to how PyTorch builds its wheels:
  * The wheel's include/ carries headers of its own private protobuf copy
    (include/google/protobuf). They would shadow Debian's, whose library we
    link, so include/ is re-created here from symlinks without google/.
  * The wheel's c10 is built without glog, so its Logging.h defines LOG, CHECK
    and VLOG itself, replacing glog's in every file that includes torch after
    glog: LOG(INFO) would then go to c10's logger, below its default threshold,
    and vanish. C10_USE_GLOG makes c10's headers take glog's macros instead;
    both variants log through the same c10::MessageLogger class, so this
    changes no type or symbol the library was built with.

libtorch 2.13 and later need C++20 (.bazelrc sets it). Changing
CHEXWORLD_LIBTORCH, CUDA_HOME or NCCL_HOME re-runs this rule; nothing is
downloaded.
"""

def _chexworld_root(rctx):
    # The checkout itself, not the output base's link to it: binaries keep
    # this path in their rpath.
    p = rctx.path(Label("@chexworld//:WORKSPACE")).dirname
    r = rctx.execute(["realpath", str(p)])
    return rctx.path(r.stdout.strip()) if r.return_code == 0 else p

def _venv_torch(root):
    lib = root.get_child(".venv").get_child("lib")
    if not lib.exists:
        return None
    for py in lib.readdir():
        torch = py.get_child("site-packages").get_child("torch")
        if torch.get_child("include").exists:
            return torch
    return None

def _find_torch(rctx):
    env = rctx.os.environ.get("CHEXWORLD_LIBTORCH", "")
    if env:
        p = rctx.path(env)
        if not p.get_child("include").exists or not p.get_child("lib").exists:
            fail("CHEXWORLD_LIBTORCH=%s has no include/ and lib/ folders (give a torch package folder " % env +
                 "such as .venv/lib/python3.11/site-packages/torch, or an unpacked libtorch)")
        return p
    root = _chexworld_root(rctx)
    torch = _venv_torch(root)
    if not torch:
        fail("no libtorch: %s/.venv has no PyTorch wheel. Run tools/install_deps.sh (it installs the " % root +
             "pinned wheel from tools/python-requirements.lock), or set CHEXWORLD_LIBTORCH")
    return torch

def _cxx11_abi(rctx, torch):
    cfg = torch.get_child("share").get_child("cmake").get_child("Torch").get_child("TorchConfig.cmake")
    if cfg.exists and "_GLIBCXX_USE_CXX11_ABI=0" in rctx.read(cfg):
        return "0"
    return "1"

def _find_file(dirs, prefix):
    """The first file in dirs whose name starts with prefix (libcudart.so, libcudart.so.13, ...)."""
    for d in dirs:
        if not d or not d.exists:
            continue
        names = sorted([f.basename for f in d.readdir()])
        for n in names:
            if n == prefix or n.startswith(prefix + "."):
                return d.get_child(n)
    return None

def _header_dir(rctx, candidates, header):
    for c in candidates:
        if c and c.get_child(header).exists:
            return c
    return None

def _nvidia_dirs(torch):
    """The nvidia-* wheels beside torch: site-packages/nvidia/<name>/{include,lib}."""
    nv = torch.dirname.get_child("nvidia")
    if not nv.exists:
        return []
    by_name = {d.basename: d for d in nv.readdir()}
    return [by_name[n] for n in sorted(by_name.keys())]

def _cuda(rctx, torch, has_cuda):
    """(cuda_include, cudart, nccl_include, libnccl) paths or None."""
    if not has_cuda:
        return None, None, None, None
    cuda_home = rctx.path(rctx.os.environ.get("CUDA_HOME", "/usr/local/cuda"))
    nccl_home = rctx.os.environ.get("NCCL_HOME", "")
    wheels = _nvidia_dirs(torch)
    inc = [d.get_child("include") for d in wheels] + [cuda_home.get_child("include")]
    cuda_inc = _header_dir(rctx, inc, "cuda_runtime_api.h")
    nccl_inc = _header_dir(rctx, ([rctx.path(nccl_home).get_child("include")] if nccl_home else []) + inc +
                                 [rctx.path("/usr/include")], "nccl.h")
    cudart = None
    if cuda_inc:
        cudart = _find_file([cuda_inc.dirname.get_child("lib"), cuda_inc.dirname.get_child("lib64")], "libcudart.so")
    libnccl = None
    if nccl_inc:
        libnccl = _find_file([nccl_inc.dirname.get_child("lib"), nccl_inc.dirname.get_child("lib64"),
                              rctx.path("/usr/lib/x86_64-linux-gnu")], "libnccl.so")
    return cuda_inc, cudart, nccl_inc, libnccl

def _link(lib):
    """Link flags for one shared library by path, with an rpath to its folder."""
    return ["-Wl,-rpath,%s" % lib.dirname, str(lib)]

def _impl(rctx):
    torch = _find_torch(rctx)
    lib = torch.get_child("lib")

    # include/: every entry of the wheel's include/ except its private protobuf.
    for entry in torch.get_child("include").readdir():
        if entry.basename != "google":
            rctx.symlink(entry, "include/" + entry.basename)

    libs = ["torch", "torch_cpu", "c10"]
    for extra in ["torch_cuda", "c10_cuda"]:
        if lib.get_child("lib%s.so" % extra).exists:
            libs.append(extra)
    has_cuda = "torch_cuda" in libs

    # libtorch_cpu (and torch_cuda) register operators and backends from static
    # initialisers, so they stay DT_NEEDED although no symbol of them is used.
    linkopts = ["-Wl,-rpath,%s" % lib, "-Wl,--push-state,--no-as-needed"]
    linkopts += [str(lib.get_child("lib%s.so" % l)) for l in libs]
    linkopts += ["-Wl,--pop-state"]

    cuda_inc, cudart, nccl_inc, libnccl = _cuda(rctx, torch, has_cuda)
    cuda_target = 'cc_library(name = "cuda", visibility = ["//visibility:public"])\n'
    nccl_target = 'cc_library(name = "nccl", visibility = ["//visibility:public"])\n'
    if has_cuda and cuda_inc and cudart:
        rctx.symlink(cuda_inc, "cuda_include")
        cuda_target = """cc_library(
    name = "cuda",
    hdrs = glob(["cuda_include/*.h", "cuda_include/*.hpp", "cuda_include/crt/**", "cuda_include/nv/**"]),
    includes = ["cuda_include"],
    defines = ["CHEXWORLD_HAVE_CUDA"],
    linkopts = {linkopts},
    deps = [":libtorch"],
    visibility = ["//visibility:public"],
)
""".format(linkopts = _link(cudart))
        if nccl_inc and libnccl:
            rctx.symlink(nccl_inc, "nccl_include")
            nccl_target = """cc_library(
    name = "nccl",
    hdrs = glob(["nccl_include/**/*.h"]),
    includes = ["nccl_include"],
    defines = ["CHEXWORLD_HAVE_NCCL", "USE_C10D_NCCL"],
    linkopts = {linkopts},
    deps = [":cuda"],
    visibility = ["//visibility:public"],
)
""".format(linkopts = _link(libnccl))
        else:
            print("chexworld: libtorch has CUDA but nccl.h / libnccl were not found (%s, %s): building without NCCL (set NCCL_HOME)" % (nccl_inc, libnccl))
    elif has_cuda:
        print("chexworld: libtorch has CUDA but the CUDA runtime's headers / library were not found (%s, %s): CUDA-only code is left out (set CUDA_HOME)" % (cuda_inc, cudart))

    venv_python = torch.dirname.dirname.dirname.dirname.get_child("bin").get_child("python")
    python = str(venv_python) if venv_python.exists else ""
    rctx.file("python.sh", "# Generated by //third_party/torch:libtorch.bzl\nCHEXWORLD_PYTHON=\"%s\"\n" % python)
    rctx.file("project_python.h", "// Generated by //third_party/torch:libtorch.bzl\n" +
                                  "#define CHEXWORLD_PROJECT_PYTHON \"%s\"\n" % python)

    rctx.file("BUILD", """# Generated by //third_party/torch:libtorch.bzl from {torch}
exports_files(["python.sh"])

# CHEXWORLD_PROJECT_PYTHON: the same interpreter, for C++ tests.
cc_library(
    name = "project_python",
    hdrs = ["project_python.h"],
    include_prefix = "chexworld/core",
    visibility = ["//visibility:public"],
)

cc_library(
    name = "libtorch",
    hdrs = glob(["include/**/*.h", "include/**/*.hpp", "include/**/*.cuh", "include/**/*.inc"]),
    includes = ["include", "include/torch/csrc/api/include"],
    defines = ["_GLIBCXX_USE_CXX11_ABI={abi}", "C10_USE_GLOG"],
    linkopts = {linkopts},
    visibility = ["//visibility:public"],
)

""".format(torch = torch, abi = _cxx11_abi(rctx, torch), linkopts = linkopts) + cuda_target + "\n" + nccl_target)

local_libtorch = repository_rule(
    implementation = _impl,
    environ = ["CHEXWORLD_LIBTORCH", "CUDA_HOME", "NCCL_HOME"],
    local = True,
)
