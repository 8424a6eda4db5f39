#!/bin/sh
# Stage `make install` into a temporary DESTDIR, then build and run an example
# against the staged copy through pkg-config alone, shared and static.
set -eu
CC=${CC:-cc}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
make -s install DESTDIR="$stage" PREFIX=/usr/local >/dev/null
libdir="$stage/usr/local/lib"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
export PKG_CONFIG_LIBDIR="$libdir/pkgconfig"
for f in include/tasd.h lib/libtasd.so lib/libtasd.so.1 lib/libtasd.a lib/pkgconfig/tasd.pc; do
    [ -e "$stage/usr/local/$f" ] || { echo "install-check: $f was not installed"; exit 1; }
done
soname=$(readelf -d "$libdir/libtasd.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = libtasd.so.1 ] || { echo "install-check: SONAME is '$soname'"; exit 1; }
leaked=$(nm -D --defined-only "$libdir/libtasd.so" | awk '$2 != "A" {print $3}' | grep -v '^tasd_' || true)
[ -z "$leaked" ] || { echo "install-check: non-API symbols exported: $leaked"; exit 1; }
echo "install-check: pkg-config says: $(pkg-config --cflags --libs tasd)"
$CC examples/quickstart.c $(pkg-config --cflags --libs tasd) -o "$stage/quickstart"
LD_LIBRARY_PATH="$libdir" "$stage/quickstart"
# Static: the archive itself, plus the private libraries tasd.pc names.
$CC examples/quickstart.c $(pkg-config --cflags tasd) "$libdir/libtasd.a" \
    $(pkg-config --static --libs tasd | sed 's/-ltasd//') -o "$stage/quickstart-static"
"$stage/quickstart-static"
make -s uninstall DESTDIR="$stage" PREFIX=/usr/local >/dev/null
left=$(find "$stage/usr/local" -type f | head -n 3)
[ -z "$left" ] || { echo "install-check: uninstall left $left"; exit 1; }
echo "install-check: ok"
