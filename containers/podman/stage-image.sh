#!/usr/bin/env bash
# Stages a FROM-scratch image root for `nodus up` as PID 1: the nodus executable, its plugins,
# every shared library they need (from ldd), busybox for sh/sleep, and a profile.
#   containers/podman/stage-image.sh BUILD_DIR OUT_DIR PROFILE
set -euo pipefail
build=$1
out=$2
profile=$3
rm -rf "$out"
mkdir -p "$out"/usr/bin "$out"/usr/lib/nodus/plugins "$out"/etc/nodus "$out"/bin "$out"/tmp \
  "$out"/run "$out"/var/lib "$out"/proc "$out"/sys "$out"/dev
cp "$build/bin/nodus" "$out/usr/bin/nodus"
cp -P "$build"/lib/libnodus_sdk.so* "$out/usr/lib/"
cp "$build"/lib/nodus/plugins/*.so "$out/usr/lib/nodus/plugins/"
cp "$profile" "$out/etc/nodus/profile.yaml"
cp /usr/bin/busybox "$out/bin/busybox"
for tool in sh sleep ps cat kill; do ln -sf busybox "$out/bin/$tool"; done
# Every library the executable and the plugins load, at the same paths as on the host.
libs=$( { ldd "$build/bin/nodus"; for p in "$build"/lib/nodus/plugins/*.so; do ldd "$p"; done; } |
  awk '/=> \// {print $3} /^[ \t]*\/lib/ {print $1}' | sort -u)
for lib in $libs; do
  mkdir -p "$out$(dirname "$lib")"
  cp -L "$lib" "$out$lib"
done
# The executable looks for libnodus_sdk.so and the plugins relative to itself (bin/../lib).
mkdir -p "$out/usr/lib"
cat > "$out/Containerfile" <<'CF'
FROM scratch
COPY . /
ENTRYPOINT ["/usr/bin/nodus", "up", "--profile", "/etc/nodus/profile.yaml"]
CF
