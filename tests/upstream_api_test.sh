#!/usr/bin/env bash
# Guards the module pattern that upstream libtorch allows: its
# torch::nn::Cloneable<T> derives from Module non-virtually, so a class deriving
# from Cloneable<T> and from a Module-derived interface has Module as an
# ambiguous base. The build (upstream libtorch) rejects such a class where it is
# compiled; this scan also covers headers and code a build leaves out. It fails on:
#   - a class with Cloneable<...> among two or more bases;
#   - a virtual Module base (only a patched libtorch makes those combine).
# It reads the source tree this script lives in (through its runfiles link).
set -euo pipefail
source "$(dirname "$0")/test_lib.sh"
root="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
[ -f "$root/WORKSPACE" ] || fail "cannot find the workspace from $0 (resolved to $root)"
python3 - "$root" <<'PY'
import pathlib, re, sys
root = pathlib.Path(sys.argv[1])
dirs = ["chexworld", "experiments", "benchmarks", "datasets", "examples", "tests"]
# A class head: "class|struct NAME [final] : bases {" (bases may span lines).
head = re.compile(r"\b(?:class|struct)\s+(\w+)\s*(?:final\s*)?:\s*([^{;]*?)\{", re.S)
bad, scanned = [], 0
for d in dirs:
    for path in sorted((root / d).rglob("*")):
        if path.suffix not in (".h", ".cc", ".inc") or "bazel-" in str(path):
            continue
        scanned += 1
        text = path.read_text(errors="replace")
        for m in head.finditer(text):
            bases = [b.strip() for b in re.split(r",(?![^<]*>)", m.group(2)) if b.strip()]
            line = text.count("\n", 0, m.start()) + 1
            where = f"{path.relative_to(root)}:{line}: class {m.group(1)}"
            if any("Cloneable<" in b for b in bases) and len(bases) > 1:
                bad.append(f"{where} derives from Cloneable and {len(bases) - 1} other base(s): "
                           "upstream libtorch makes Module an ambiguous base; derive from the "
                           "interface alone and copy with CopyModuleInto (chexworld/models/module_copy.h)")
            if any(re.search(r"\bvirtual\b.*\bModule\b", b) for b in bases):
                bad.append(f"{where} derives virtually from Module: upstream's Cloneable does not, "
                           "so the class cannot combine with upstream modules")
if scanned < 50:
    print(f"FAIL: scanned only {scanned} source files under {root}"); sys.exit(1)
for b in bad:
    print("FAIL:", b)
print(f"scanned {scanned} source files; {len(bad)} violation(s)")
sys.exit(1 if bad else 0)
PY
