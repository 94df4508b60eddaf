#!/usr/bin/env python3
"""Checks the dependency rules of the tree; exits 1 and prints one line per violation.

The rules (docs/layering.md explains why each holds):
  plugin-includes-kernel   nothing under plugins/ (tests included) includes a kernel header
  plugin-links-kernel      no CMakeLists.txt under plugins/ names a kernel target or folder
  sdk-reaches-outside      sdk/include includes only headers of sdk/include (and the
                           standard library and declared third-party packages)
  sdk-includes-kernel      nothing in sdk/ includes a kernel header
  example-reaches-kernel   nothing under examples/ includes or links the kernel
  kernel-include-form      the kernel, the harness, tests/ and bench/ include a kernel header
                           by its path from the repository root ("kernel/config/profile.h")

  scripts/check-layering.py [--root DIR]
"""
import argparse
import os
import re
import sys

SOURCE_SUFFIXES = (".h", ".hh", ".hpp", ".cc", ".cpp", ".c", ".inc")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
# Third-party headers the SDK's public headers may use: the packages the sdk component of its
# CMake config looks for (cmake/nodusConfig.cmake.in). Anything else in angle brackets must be
# a standard header. Protobuf and gRPC are not among them: find_package(nodus) does not look
# for them, so no SDK header may need them.
SDK_THIRD_PARTY = ("boost/dll/", "boost/config")
# Headers the SDK's CMake generates into the build tree (configure_file). Not the protoc
# output (nodus/v1/*.pb.h), which needs protobuf's headers.
SDK_GENERATED = ("nodus/abi_hash.h",)
# The host harness (TestNode, SimCluster) is the one test library that links the kernel, on
# purpose: plugin tests may link it, nothing else of the kernel.
HARNESS_DIRS = ("kernel/harness",)
ALLOWED_KERNEL_TARGETS = {"nodus_harness"}


def tracked_files(root, top):
    base = os.path.join(root, top)
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "build"]
        for name in filenames:
            yield os.path.relpath(os.path.join(dirpath, name), root)


def kernel_targets(root):
    """Names of the libraries the kernel's CMake files define. (Running the `nodus`
    executable from a plugin's test is fine: it is the product, not a linked dependency.)"""
    names = set()
    for rel in tracked_files(root, "kernel"):
        if os.path.basename(rel) != "CMakeLists.txt":
            continue
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            for m in re.finditer(r"add_library\(\s*([A-Za-z0-9_:]+)", f.read()):
                if "::" not in m.group(1):  # an ALIAS such as nodus::harness
                    names.add(m.group(1))
    return names - ALLOWED_KERNEL_TARGETS


def resolve(root, rel, target):
    """Where #include "target" in file rel lands, as a path from root, or None if not in-tree."""
    local = os.path.normpath(os.path.join(os.path.dirname(rel), target))
    if os.path.isfile(os.path.join(root, local)):
        return local
    if os.path.isfile(os.path.join(root, target)):
        return os.path.normpath(target)
    # The kernel's folders used to be include roots of their own ("config/profile.h").
    under_kernel = os.path.normpath(os.path.join("kernel", target))
    if os.path.isfile(os.path.join(root, under_kernel)):
        return under_kernel
    if target.startswith("kernel/"):
        return os.path.normpath(target)
    return None


def includes(root, rel):
    try:
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                m = INCLUDE_RE.match(line)
                if m:
                    yield number, m.group(1), m.group(2)
    except OSError:
        return


def in_kernel(path):
    return path is not None and (path == "kernel" or path.startswith("kernel/"))


def check(root):
    problems = []

    def report(rel, line, rule, detail):
        problems.append(f"{rel}:{line}: {rule}: {detail}")

    targets = kernel_targets(root)
    if not targets:
        report("kernel", 0, "setup", "found no kernel targets; is --root the repository?")
    target_re = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(sorted(targets)) + r")(?![A-Za-z0-9_])"
                           ) if targets else None
    folder_re = re.compile(r"(PROJECT_SOURCE_DIR|CMAKE_SOURCE_DIR)\}?/kernel\b")

    def check_cmake(rel, rule):
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                code = line.split("#", 1)[0]
                m = target_re.search(code) if target_re else None
                if m:
                    report(rel, number, rule, f"names kernel target {m.group(1)}")
                elif folder_re.search(code):
                    report(rel, number, rule, "reaches into the kernel folder")

    def check_sources(top, rule, skip=()):
        for rel in tracked_files(root, top):
            if any(rel == s or rel.startswith(s + "/") for s in skip):
                continue
            if os.path.basename(rel) == "CMakeLists.txt" or rel.endswith(".cmake"):
                if rule != "sdk-includes-kernel":
                    check_cmake(rel, rule.replace("includes", "links").replace(
                        "reaches", "links"))
                continue
            if not rel.endswith(SOURCE_SUFFIXES):
                continue
            for number, kind, target in includes(root, rel):
                if kind == '"' or target.startswith("kernel/"):
                    where = resolve(root, rel, target)
                    if in_kernel(where):
                        report(rel, number, rule, f'includes kernel header "{target}"')

    check_sources("plugins", "plugin-includes-kernel")
    check_sources("examples", "example-reaches-kernel")
    check_sources("sdk", "sdk-includes-kernel")

    sdk_include = os.path.join("sdk", "include")
    for rel in tracked_files(root, sdk_include):
        if not rel.endswith(SOURCE_SUFFIXES):
            continue
        for number, kind, target in includes(root, rel):
            if kind == "<":
                if "/" in target and not target.startswith(SDK_THIRD_PARTY):
                    report(rel, number, "sdk-reaches-outside",
                           f"<{target}> is neither the standard library nor an SDK dependency")
                continue
            local = os.path.normpath(os.path.join(os.path.dirname(rel), target))
            rooted = os.path.normpath(os.path.join(sdk_include, target))
            if os.path.isfile(os.path.join(root, local)) and local.startswith(sdk_include + "/"):
                continue
            if os.path.isfile(os.path.join(root, rooted)) or target.startswith(SDK_GENERATED):
                continue
            report(rel, number, "sdk-reaches-outside", f'"{target}" is not a header of sdk/include')

    for top in ("kernel", "tests", "bench"):
        for rel in tracked_files(root, top):
            if not rel.endswith(SOURCE_SUFFIXES):
                continue
            for number, kind, target in includes(root, rel):
                if kind != '"' or target.startswith("kernel/"):
                    continue
                where = resolve(root, rel, target)
                if in_kernel(where):
                    report(rel, number, "kernel-include-form",
                           f'write "{where}" instead of "{target}"')
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.path.join(os.path.dirname(__file__), ".."))
    args = parser.parse_args()
    root = os.path.abspath(args.root)
    problems = check(root)
    for p in problems:
        print(p)
    if problems:
        print(f"check-layering: {len(problems)} violation(s); docs/layering.md has the rules",
              file=sys.stderr)
        return 1
    print("check-layering: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
