#!/bin/sh
# Runs every test program given once per backend available on this machine
# (TASD_BACKEND=scalar, avx2, avx512, neon in turn), then prints the totals
# and fails if anything did. Backends this build/CPU cannot run are skipped
# loudly; for each of them test_backends checks that forcing it fails cleanly
# with TASD_ERR_UNSUPPORTED. A program that checks several backends itself
# checks only the pass's one (test/support/util.h, util_backend_tested), so
# each backend's checks run once, not once per pass.
#
# The runs are independent processes and go TASD_TEST_JOBS at a time
# (default: the number of CPUs; 1 runs them one after another). Each one's
# output is kept and printed in the order above, as a serial run prints it:
# a result line with the program's wall seconds, and a failing program's
# whole output.
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

jobs=${TASD_TEST_JOBS:-$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}
case $jobs in '' | *[!0-9]* | 0) jobs=1 ;; esac

# OpenMP threads that wait sleep instead of spinning (unless the caller
# chose): with programs side by side, and in test_backends' and
# test_threads' more-threads-than-CPUs cases, spinning threads take the CPUs
# from the ones with work (on a loaded 2-CPU machine some programs ran over
# 10 times slower). Only libgomp's idle wait changes; the same library code
# runs.
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
export OMP_WAIT_POLICY

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tasd_run.XXXXXX") || exit 1
workers=""
cleanup() {
    # shellcheck disable=SC2086
    [ -n "$workers" ] && kill $workers 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The job list: job N runs program job_t_N (kind job_k_N: "prog" with
# TASD_BACKEND=job_b_N and TASD_TEST_WRAPPER, "py" or "e2e"); job_h_N is
# printed before its result (a pass's header).
njobs=0
add_job() { # kind backend program header
    njobs=$((njobs + 1))
    eval "job_k_$njobs=\$1 job_b_$njobs=\$2 job_t_$njobs=\$3 job_h_$njobs=\$4"
}

probe=""
for t in "$@"; do
    case "$t" in */test_backends) probe=$t ;; esac
done

backends="scalar avx2 avx512 neon"
[ -n "$TASD_TEST_BACKENDS" ] && backends=$TASD_TEST_BACKENDS
for b in $backends; do
    # asked through the wrapper too: valgrind's CPU has no AVX-512
    if [ -n "$probe" ] && ! ${TASD_TEST_WRAPPER:-} "$probe" --available "$b" >/dev/null 2>&1; then
        add_job prog "$b" "$probe" "==== SKIPPED backend $b: not available in this build or on this CPU ====
     (checking that TASD_BACKEND=$b fails cleanly)"
        continue
    fi
    h="==== test pass with TASD_BACKEND=$b ===="
    for t in "$@"; do
        add_job prog "$b" "$t" "$h"
        h=""
    done
done

# The Python module's tests (test/python/), once, against this build's
# libtasd.so (TASD_PY_LIBRARY, set by `make test`), with the first Python
# that has numpy. Skipped loudly without one, or when TASD_PY_SKIP says why.
py_lib=""
if [ -n "$TASD_PY_LIBRARY" ]; then
    py=""
    for c in ${PYTHON:-} python3 /usr/bin/python3; do
        if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import numpy' >/dev/null 2>&1; then
            py=$c
            break
        fi
    done
    if [ -n "$TASD_PY_SKIP" ]; then
        py_skip="==== SKIPPED python tests: $TASD_PY_SKIP ===="
    elif [ -z "$py" ]; then
        py_skip="************************************************************************
SKIPPED python tests: no python3 with numpy (apt-get install python3-numpy)
************************************************************************"
    else
        py_lib=$TASD_PY_LIBRARY
        add_job py "$py" test/python/run_tests.py \
            "==== python tests ($py, TASD_LIBRARY=$TASD_PY_LIBRARY) ===="
    fi
fi
py_skip_job=$njobs # the skip message is printed after this job

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
        e2e_skip="************************************************************************
SKIPPED onnx end-to-end test: no python3 with numpy and onnx
        (apt-get install python3-numpy python3-onnx nodejs npm)
************************************************************************"
    else
        add_job e2e "$py" test/onnx_e2e.py "==== onnx end-to-end test ($py, onnxruntime-node) ===="
    fi
fi

# Runs job $1 in a subshell of its own: output, exit status and wall
# milliseconds into $tmp/N.out, N.rc, N.ms, then N.done.
run_job() {
    n=$1
    eval "k=\$job_k_$n b=\$job_b_$n t=\$job_t_$n"
    t0=$(now_ms)
    # The outer subshell waits for the program (it is not the last command,
    # so not exec'd), which puts the shell's note on a crash ("Segmentation
    # fault") into the program's output too.
    ( (
        # shellcheck disable=SC2154 # k is set by the eval above
        case $k in
        prog)
            TASD_BACKEND=$b
            export TASD_BACKEND
            # TASD_TEST_WRAPPER (e.g. valgrind) runs in front of each program.
            exec ${TASD_TEST_WRAPPER:-} "$t"
            ;;
        py)
            unset TASD_BACKEND
            TASD_LIBRARY=$py_lib
            export TASD_LIBRARY
            exec $b "$t"
            ;;
        e2e)
            unset TASD_BACKEND
            if [ -n "$py_lib" ]; then
                TASD_LIBRARY=$py_lib
                export TASD_LIBRARY
            fi
            TASD_TOOL=$TASD_E2E_TOOL
            export TASD_TOOL
            exec $b "$t"
            ;;
        esac
    ) </dev/null; exit $?) >"$tmp/$n.out" 2>&1
    echo $? >"$tmp/$n.rc"
    echo $(($(now_ms) - t0)) >"$tmp/$n.ms"
    : >"$tmp/$n.done"
}

# A worker takes the next job nobody has claimed (mkdir is atomic), until
# none is left.
worker() {
    n=1
    while [ "$n" -le "$njobs" ]; do
        if mkdir "$tmp/$n.claim" 2>/dev/null; then
            run_job "$n"
        fi
        n=$((n + 1))
    done
}

w=0
while [ "$w" -lt "$jobs" ] && [ "$w" -lt "$njobs" ]; do
    worker &
    workers="$workers $!"
    w=$((w + 1))
done

# Job $1's result, in the format of a serial run: its whole output if it
# failed, then its result line and wall seconds; added to the totals.
report() {
    n=$1
    eval "t=\$job_t_$n"
    out=$(cat "$tmp/$n.out")
    rc=$(cat "$tmp/$n.rc")
    ms=$(cat "$tmp/$n.ms")
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

[ "$py_skip_job" -eq 0 ] && [ -n "$py_skip" ] && printf '%s\n' "$py_skip"
n=1
while [ "$n" -le "$njobs" ]; do
    eval "h=\$job_h_$n"
    [ -n "$h" ] && printf '%s\n' "$h"
    while [ ! -e "$tmp/$n.done" ]; do
        alive=""
        for p in $workers; do
            kill -0 "$p" 2>/dev/null && alive=1
        done
        [ -z "$alive" ] && [ ! -e "$tmp/$n.done" ] && break
        sleep 0.2 2>/dev/null || sleep 1
    done
    if [ -e "$tmp/$n.done" ]; then
        report "$n"
    else
        eval "echo \"FAIL \$job_t_$n: never finished (its test worker died)\""
        failed=$((failed + 1))
    fi
    [ "$n" -eq "$py_skip_job" ] && [ -n "$py_skip" ] && printf '%s\n' "$py_skip"
    n=$((n + 1))
done
wait
workers=""
[ -n "$e2e_skip" ] && printf '%s\n' "$e2e_skip"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
