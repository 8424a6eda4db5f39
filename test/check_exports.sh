#!/bin/sh
# The exported names must agree three ways: the TASD_API declarations of
# include/tasd.h, the explicit list of lib/tasd.map, and the dynamic symbols
# of the built library. Usage: test/check_exports.sh path/to/libtasd.so
set -eu
so=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The name of every declaration that starts with TASD_API (one per line).
grep '^TASD_API' include/tasd.h | sed 's/(.*//; s/.*[ *]//' | sort > "$tmp/header"
# Names listed in the map's global sections; a wildcard there is an error.
sed 's|/\*.*\*/||; /\/\*/,/\*\//d' lib/tasd.map |
    awk '/global:/ {g = 1; next} /local:|}/ {g = 0} g' | tr -d ' \t;' | grep -v '^$' | sort > "$tmp/map"
nm -D --defined-only "$so" | awk '$2 != "A" {print $3}' | sed 's/@.*//' | sort > "$tmp/so"

fail=0
if grep -q '[*?]' "$tmp/map"; then
    echo "check-exports: lib/tasd.map lists a wildcard; list every name"
    fail=1
fi
report() { # $1 $2: file names; lines only in the first
    only=$(comm -23 "$tmp/$1" "$tmp/$2")
    [ -z "$only" ] || { echo "check-exports: in $3 but not in $4:"; echo "$only" | sed 's/^/  /'; fail=1; }
}
report header map "include/tasd.h (TASD_API)" "lib/tasd.map"
report map header "lib/tasd.map" "include/tasd.h (TASD_API)"
report header so "include/tasd.h (TASD_API)" "$so"
report so header "$so" "include/tasd.h (TASD_API)"
# Every symbol carries a version node of the map.
unversioned=$(objdump -T "$so" | awk '$2 != "l" && / DF \.text/ && $(NF-1) !~ /^TASD_/ {print $NF}')
[ -z "$unversioned" ] || { echo "check-exports: symbols without a TASD_ version: $unversioned"; fail=1; }
[ $fail = 0 ] && echo "check-exports: $(wc -l < "$tmp/header") names agree (header, map, $so)"
exit $fail
