#!/bin/sh
# make cross-test: run every test program, cross-compiled for aarch64, under
# qemu-aarch64, once with TASD_BACKEND=neon and once with TASD_BACKEND=scalar
# (through run.sh and TASD_TEST_BACKENDS).
# The last line is the summed "N passed, N failed"; exit status non-zero on
# any failure. Missing tools give a loud SKIPPED line (and a failure when
# CROSS_REQUIRED=1), never a silent pass.
# usage: cross.sh CROSS_CC QEMU SYSROOT BUILD_DIR TEST_BIN...
cross_cc=$1; qemu=$2; sysroot=$3; build=$4; shift 4

missing=""
command -v "$cross_cc" >/dev/null 2>&1 || missing="$missing gcc-aarch64-linux-gnu($cross_cc)"
[ -f "$sysroot/include/stdio.h" ] && [ -e "$sysroot/lib/libc.so.6" ] ||
    missing="$missing libc6-dev-arm64-cross($sysroot)"
command -v "$qemu" >/dev/null 2>&1 || missing="$missing qemu-user($qemu)"
if [ -n "$missing" ]; then
    echo "*****************************************************************"
    echo "SKIPPED: make cross-test: missing:$missing"
    echo "SKIPPED: install with: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"
    echo "*****************************************************************"
    [ "${CROSS_REQUIRED:-0}" = 1 ] && exit 1
    exit 0
fi
if [ $# -eq 0 ]; then
    echo "cross-test: no test programs (test/test_*.c) to run"
    echo "0 passed, 1 failed"
    exit 1
fi

# run.sh executes each program directly: give it one small wrapper per
# test that starts the aarch64 binary under qemu.
wrap="$build/qemu"
rm -rf "$wrap" && mkdir -p "$wrap" || exit 1
wrappers=""
for t in "$@"; do
    w="$wrap/$(basename "$t")"
    printf '#!/bin/sh\nexec "%s" -L "%s" "%s" "$@"\n' "$qemu" "$sysroot" "$(cd "$(dirname "$t")" && pwd)/$(basename "$t")" > "$w"
    chmod +x "$w"
    wrappers="$wrappers $w"
done

here=$(dirname "$0")
# test_tool starts the aarch64 `tasd` binary itself: through qemu too.
export TASD_TOOL_RUNNER="$qemu -L $sysroot"
# run.sh runs the suite once per backend named in TASD_TEST_BACKENDS
# (setting TASD_BACKEND for each pass) and sums the result lines.
echo "== aarch64 under $qemu -L $sysroot: TASD_BACKEND=neon, then scalar =="
# shellcheck disable=SC2086
out=$(TASD_TEST_BACKENDS="neon scalar" sh "$here/run.sh" $wrappers 2>&1)
rc=$?
printf '%s\n' "$out"
line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
echo "cross-test summary (aarch64 under qemu, neon + scalar passes):"
if [ -z "$line" ]; then
    echo "0 passed, 1 failed"
    exit 1
fi
echo "$line"
[ "$rc" -eq 0 ] && [ "${line#*passed, }" = "0 failed" ]
