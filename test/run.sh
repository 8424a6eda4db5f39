#!/bin/sh
# Runs every test program given, then prints the totals and fails if any did.
passed=0
failed=0
for t in "$@"; do
    # TASD_TEST_WRAPPER (e.g. valgrind) runs in front of each program.
    out=$(${TASD_TEST_WRAPPER:-} "$t" 2>&1)
    rc=$?
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -z "$line" ]; then
        printf '%s\n' "$out"
        echo "FAIL $t: exited $rc without a result line"
        failed=$((failed + 1))
        continue
    fi
    p=${line%% passed*}
    f=${line#*passed, }
    f=${f%% failed*}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "FAIL $t: exited $rc"
    fi
    [ "$f" -ne 0 ] && printf '%s\n' "$out"
    printf '%-40s %s\n' "$(basename "$t")" "$line"
    passed=$((passed + p))
    failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
