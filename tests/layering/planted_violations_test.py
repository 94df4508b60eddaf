#!/usr/bin/env python3
"""Goal: scripts/check-layering.py catches each kind of violation it claims to.

Copies the sources of the tree into a temporary directory, checks that the copy is clean,
then plants one violation of each rule in turn and expects the checker to fail naming the
planted file and the rule. A checker that found nothing in a tree it should have rejected
would let every later violation through, so this test guards the guard.

  planted_violations_test.py SOURCE_DIR
"""
import os
import shutil
import subprocess
import sys
import tempfile

TOPS = ("kernel", "plugins", "sdk", "examples", "tests", "bench")
SUFFIXES = (".h", ".cc", ".cpp", ".inc", ".txt", ".cmake", ".in", ".proto")

# (rule, file to write, text to add at its end)
PLANTS = [
    ("plugin-includes-kernel", "plugins/consensus/raft/raft_plugin.cc",
     '#include "kernel/runtime/logger.h"\n'),
    ("plugin-includes-kernel", "plugins/consensus/raft/tests/planted_test.cc",
     '#include "config/yaml_loader.h"\n'),
    ("plugin-links-kernel", "plugins/consensus/raft/CMakeLists.txt",
     "target_link_libraries(nodus_raft_driver PRIVATE nodus_runtime)\n"),
    ("plugin-links-kernel", "plugins/app/ledger/CMakeLists.txt",
     'target_include_directories(nodus_ledger_core PRIVATE "${PROJECT_SOURCE_DIR}/kernel")\n'),
    ("sdk-reaches-outside", "sdk/include/nodus/status.h",
     '#include "../../../plugins/consensus/raft/raft_config.h"\n'),
    ("sdk-reaches-outside", "sdk/include/nodus/config.h", "#include <grpcpp/grpcpp.h>\n"),
    ("sdk-reaches-outside", "sdk/include/nodus/json.h", "#include <google/protobuf/message.h>\n"),
    ("sdk-reaches-outside", "sdk/include/nodus/address.h", '#include "nodus/v1/transport.pb.h"\n'),
    ("sdk-includes-kernel", "sdk/src/planted.cc", '#include "kernel/node/plugin_host.h"\n'),
    ("example-reaches-kernel", "examples/hello-plugin/hello.cc",
     '#include "kernel/config/profile.h"\n'),
    ("example-links-kernel", "examples/hello-plugin/CMakeLists.txt",
     "target_link_libraries(hello PRIVATE nodus_loader)\n"),
    ("kernel-include-form", "kernel/cli/planted.cc", '#include "config/profile.h"\n'),
]


def copy_tree(source, dest):
    for top in TOPS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(source, top)):
            dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "corpus"]
            for name in filenames:
                if name.endswith(SUFFIXES) or name == "CMakeLists.txt":
                    src = os.path.join(dirpath, name)
                    dst = os.path.join(dest, os.path.relpath(src, source))
                    os.makedirs(os.path.dirname(dst), exist_ok=True)
                    shutil.copy2(src, dst)


def run_checker(checker, root):
    return subprocess.run([sys.executable, checker, "--root", root], capture_output=True,
                          text=True, check=False)


def main():
    source = os.path.abspath(sys.argv[1])
    checker = os.path.join(source, "scripts", "check-layering.py")
    failures = []
    with tempfile.TemporaryDirectory(prefix="nodus-layering-") as tmp:
        copy_tree(source, tmp)
        clean = run_checker(checker, tmp)
        if clean.returncode != 0:
            print("the unplanted copy of the tree is not clean:\n" + clean.stdout)
            return 1
        for rule, rel, text in PLANTS:
            path = os.path.join(tmp, rel)
            if not os.path.exists(path) and not rel.endswith("planted.cc") and \
                    not rel.endswith("planted_test.cc"):
                failures.append(f"{rel}: the file to plant into is gone; update PLANTS")
                continue
            before = open(path, encoding="utf-8").read() if os.path.exists(path) else None
            with open(path, "a", encoding="utf-8") as f:
                f.write(text)
            result = run_checker(checker, tmp)
            if before is None:
                os.remove(path)
            else:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(before)
            wanted = f"{rel}:"
            lines = [ln for ln in result.stdout.splitlines() if ln.startswith(wanted)]
            if result.returncode == 0 or not any(f": {rule}: " in ln for ln in lines):
                failures.append(f"{rule} planted in {rel} was not reported "
                                f"(exit {result.returncode}): {result.stdout.strip()}")
            else:
                print(f"caught {rule}: {lines[0]}")
    for f in failures:
        print("FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
