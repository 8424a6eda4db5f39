#!/bin/sh
# Runs every test program given once per backend available on this machine
# (TASD_BACKEND=scalar, avx2, avx512, neon in turn), then prints the totals
# and fails if anything did. Backends this build/CPU cannot run are skipped
# loudly; for each of them test_backends checks that forcing it fails cleanly
# with TASD_ERR_UNSUPPORTED.
passed=0
failed=0

# Milliseconds since the epoch (whole seconds where date has no %N).
now_ms() {
    ms=$(date +%s%N 2>/dev/null)
    case $ms in
    '' | *[!0-9]*) echo $(($(date +%s) * 1000)) ;;
    *) echo $((ms / 1000000)) ;;
    esac
}

run_one() {
    t=$1
    t0=$(now_ms)
    # TASD_TEST_WRAPPER (e.g. valgrind) runs in front of each program.
    out=$(${TASD_TEST_WRAPPER:-} "$t" 2>&1)
    rc=$?
    ms=$(($(now_ms) - t0))
    secs=$((ms / 1000)).$((ms % 1000 / 100))
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -z "$line" ]; then
        printf '%s\n' "$out"
        echo "FAIL $t: exited $rc without a result line (${secs} s)"
        failed=$((failed + 1))
        return
    fi
    p=${line%% passed*}
    f=${line#*passed, }
    f=${f%% failed*}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "FAIL $t: exited $rc"
    fi
    [ "$f" -ne 0 ] && printf '%s\n' "$out"
    # The program's own result line, then its wall time.
    printf '  %-38s %s  (%s s)\n' "$(basename "$t")" "$line" "$secs"
    passed=$((passed + p))
    failed=$((failed + f))
}

probe=""
for t in "$@"; do
    case "$t" in */test_backends) probe=$t ;; esac
done

backends="scalar avx2 avx512 neon"
[ -n "$TASD_TEST_BACKENDS" ] && backends=$TASD_TEST_BACKENDS
for b in $backends; do
    if [ -n "$probe" ] && ! "$probe" --available "$b" >/dev/null 2>&1; then
        echo "==== SKIPPED backend $b: not available in this build or on this CPU ===="
        echo "     (checking that TASD_BACKEND=$b fails cleanly)"
        TASD_BACKEND=$b
        export TASD_BACKEND
        run_one "$probe"
        continue
    fi
    echo "==== test pass with TASD_BACKEND=$b ===="
    TASD_BACKEND=$b
    export TASD_BACKEND
    for t in "$@"; do
        run_one "$t"
    done
done
unset TASD_BACKEND

# The Python module's tests (test/python/), once, against this build's
# libtasd.so (TASD_PY_LIBRARY, set by `make test`), with the first Python
# that has numpy. Skipped loudly without one, or when TASD_PY_SKIP says why.
if [ -n "$TASD_PY_LIBRARY" ]; then
    py=""
    for c in ${PYTHON:-} python3 /usr/bin/python3; do
        if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import numpy' >/dev/null 2>&1; then
            py=$c
            break
        fi
    done
    if [ -n "$TASD_PY_SKIP" ]; then
        echo "==== SKIPPED python tests: $TASD_PY_SKIP ===="
    elif [ -z "$py" ]; then
        echo "************************************************************************"
        echo "SKIPPED python tests: no python3 with numpy (apt-get install python3-numpy)"
        echo "************************************************************************"
    else
        echo "==== python tests ($py, TASD_LIBRARY=$TASD_PY_LIBRARY) ===="
        TASD_LIBRARY=$TASD_PY_LIBRARY
        export TASD_LIBRARY
        TASD_TEST_WRAPPER=$py run_one test/python/run_tests.py
    fi
fi

# ONNX models in onnxruntime before and after `tasd decompose --reconstruct`
# (test/onnx_e2e.py, once, with TASD_E2E_TOOL set by `make test`). It skips
# itself loudly without python3-onnx, node/npm or the npm registry.
if [ -n "$TASD_E2E_TOOL" ]; then
    py=""
    for c in ${PYTHON:-} python3 /usr/bin/python3; do
        if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import numpy, onnx' >/dev/null 2>&1; then
            py=$c
            break
        fi
    done
    if [ -z "$py" ]; then
        echo "************************************************************************"
        echo "SKIPPED onnx end-to-end test: no python3 with numpy and onnx"
        echo "        (apt-get install python3-numpy python3-onnx nodejs npm)"
        echo "************************************************************************"
    else
        echo "==== onnx end-to-end test ($py, onnxruntime-node) ===="
        TASD_TOOL=$TASD_E2E_TOOL
        export TASD_TOOL
        TASD_TEST_WRAPPER=$py run_one test/onnx_e2e.py
    fi
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
