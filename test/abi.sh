#!/bin/sh
# The ABI baseline (docs/api.md, "ABI policy"). Both modes need abigail-tools.
#   test/abi.sh dump  LIB   write abi/libtasd.abi from the built library
#   test/abi.sh check LIB   compare the built library with abi/libtasd.abi
# Only public types count: both sides are dumped with the same abidw options,
# with the types of include/ only (a private struct behind an opaque handle
# may change freely). check passes when nothing changed, or when the only
# changes are
#  - new functions, each in a version node the baseline does not have
#    (TASD_1.1 ...: lib/tasd.map), and
#  - members appended to the end of a sized struct (tasd.h: the structs with
#    a leading size member; every old member keeps its offset, name, type).
# Anything else -- a removed or changed function, a renumbered enum, a struct
# member moved, resized or inserted, a new name in an old version node --
# fails.
set -u
export LC_ALL=C
mode=$1
so=$2
baseline=abi/libtasd.abi
sized="tasd_stats tasd_tensor_info tasd_archive_entry tasd_allocator tasd_search_options
       tasd_search_point tasd_model_search_result"
for tool in abidw abidiff; do
    command -v $tool >/dev/null 2>&1 ||
        { echo "abi-$mode: $tool is not installed (apt-get install abigail-tools)"; exit 1; }
done
dump() { # library, output file
    abidw --headers-dir include --drop-private-types --no-corpus-path \
        --no-comp-dir-path --no-show-locs --out-file "$2" "$1"
}
if [ "$mode" = dump ]; then
    dump "$so" "$baseline" || exit 1
    echo "abi-dump: wrote $baseline from $so"
    exit 0
fi
[ -f "$baseline" ] || { echo "abi-check: no $baseline (make abi-dump writes it)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dump "$so" "$tmp/current.abi" || exit 1

# Sized structs may grow at the end: abidiff leaves them to the member check.
members() { awk -v structs="$sized" -f test/abi_members.awk "$1"; }
members "$baseline" > "$tmp/members.old"
members "$tmp/current.abi" > "$tmp/members.new"
for t in $sized; do
    grep "^$t " "$tmp/members.old" > "$tmp/a"
    grep "^$t " "$tmp/members.new" | head -n "$(wc -l < "$tmp/a")" > "$tmp/b"
    if [ ! -s "$tmp/a" ] || ! cmp -s "$tmp/a" "$tmp/b"; then
        echo "abi-check: FAILED: $t: the members of the baseline changed (only appending is allowed):"
        diff "$tmp/a" "$tmp/b" | sed 's/^/  /'
        exit 1
    fi
done
suppr=$tmp/sized.suppr
for t in $sized; do printf '[suppress_type]\n  name = %s\n' "$t"; done > "$suppr"

# abidiff's exit status is a bit mask: 1 error, 2 usage error, 4 ABI
# change, 8 incompatible ABI change.
abidiff --suppressions "$suppr" "$baseline" "$tmp/current.abi" > "$tmp/report" 2>&1
rc=$?
if [ $((rc & 3)) -ne 0 ]; then
    cat "$tmp/report"
    echo "abi-check: abidiff failed (status $rc)"
    exit 1
fi
# A change is acceptable only if nothing is left once additions are ignored.
if [ $rc -ne 0 ] &&
    ! abidiff --suppressions "$suppr" --no-added-syms "$baseline" "$tmp/current.abi" >/dev/null 2>&1; then
    cat "$tmp/report"
    echo "abi-check: FAILED: an incompatible change against $baseline (abidiff status $rc)"
    exit 1
fi

# New names must live in a version node the baseline does not have.
symbols() { sed -n "s/.*<elf-symbol name='\([^']*\)' version='\([^']*\)'.*/\1 \2/p" "$1" | sort -u; }
symbols "$baseline" > "$tmp/old"
symbols "$tmp/current.abi" > "$tmp/new"
cut -d' ' -f2 "$tmp/old" | sort -u > "$tmp/old_nodes"
bad=$(cut -d' ' -f1 "$tmp/old" | sort -u | join -v2 - "$tmp/new" | while read -r name node; do
    grep -qx "$node" "$tmp/old_nodes" && echo "  $name in $node"
done)
if [ -n "$bad" ]; then
    echo "abi-check: FAILED: new names in a released version node (give them a new node"
    echo "in lib/tasd.map, e.g. TASD_1.1 { global: ...; } TASD_1.0;):"
    echo "$bad"
    exit 1
fi
if [ $rc -eq 0 ]; then
    echo "abi-check: ok, no change against $baseline"
else
    sed -n '1,/^$/p' "$tmp/report"
    echo "abi-check: ok, compatible additions only"
fi
