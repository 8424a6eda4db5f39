#!/bin/sh
# Stage `make install` into a temporary DESTDIR, then build and run an example
# against the staged copy, shared and static, through pkg-config alone and
# through CMake's find_package(tasd 1.0 CONFIG REQUIRED).
set -eu
CC=${CC:-cc}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
make -s install DESTDIR="$stage" PREFIX=/usr/local >/dev/null
libdir="$stage/usr/local/lib"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
export PKG_CONFIG_LIBDIR="$libdir/pkgconfig"
for f in include/tasd.h lib/libtasd.so lib/libtasd.so.1 lib/libtasd.a lib/pkgconfig/tasd.pc \
    lib/cmake/tasd/tasdConfig.cmake lib/cmake/tasd/tasdConfigVersion.cmake; do
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
# CMake: the package is found from the staged prefix, so its paths must be
# computed from the config file's own place (relocatable).
if ! command -v cmake >/dev/null 2>&1; then
    echo "install-check: FAILED: cmake is not installed (apt-get install cmake)"
    exit 1
fi
cmake -S test/install_consumer -B "$stage/cmake-build" -DCMAKE_C_COMPILER="$CC" \
    -DCMAKE_PREFIX_PATH="$stage/usr/local" -DQUICKSTART="$PWD/examples/quickstart.c" \
    >"$stage/cmake.log" 2>&1 &&
    cmake --build "$stage/cmake-build" >>"$stage/cmake.log" 2>&1 ||
    { cat "$stage/cmake.log"; echo "install-check: the CMake consumer failed"; exit 1; }
grep 'libtasd .* from' "$stage/cmake.log" | sed 's/^-- /install-check: cmake found /'
LD_LIBRARY_PATH="$libdir" "$stage/cmake-build/quickstart"
"$stage/cmake-build/quickstart_static"
# the installed tool runs the installed demo (../libexec/tasd/demo)
"$stage/usr/local/bin/tasd" demo >"$stage/demo.log" 2>&1 && grep -q "2:4" "$stage/demo.log" ||
    { cat "$stage/demo.log"; echo "install-check: the installed tasd demo failed"; exit 1; }
make -s uninstall DESTDIR="$stage" PREFIX=/usr/local >/dev/null
left=$(find "$stage/usr/local" -type f -o -name tasd | head -n 3)
[ -z "$left" ] || { echo "install-check: uninstall left $left"; exit 1; }
# Other LIBDIR and INCLUDEDIR than the build's (`make` ran with the defaults
# above): tasd.pc and the CMake files must name where the files now are.
make -s install DESTDIR="$stage" PREFIX=/opt/t LIBDIR=/opt/t/lib64 INCLUDEDIR=/opt/t/include/tasd >/dev/null
pc=$(PKG_CONFIG_PATH="$stage/opt/t/lib64/pkgconfig" PKG_CONFIG_LIBDIR="$stage/opt/t/lib64/pkgconfig" \
     pkg-config --cflags --libs tasd)
$CC examples/quickstart.c $pc -o "$stage/quickstart-lib64" ||
    { echo "install-check: pkg-config gave '$pc' for LIBDIR=lib64, INCLUDEDIR=include/tasd"; exit 1; }
LD_LIBRARY_PATH="$stage/opt/t/lib64" "$stage/quickstart-lib64"
grep -q '_tasd_prefix}/lib64"' "$stage/opt/t/lib64/cmake/tasd/tasdConfig.cmake" &&
    grep -q '_tasd_prefix}/include/tasd"' "$stage/opt/t/lib64/cmake/tasd/tasdConfig.cmake" ||
    { echo "install-check: tasdConfig.cmake does not name lib64 and include/tasd"; exit 1; }
# ... and CMake builds against them, found through tasd_DIR as the README says
# (Debian's CMake does not search lib64 by itself).
cmake -S test/install_consumer -B "$stage/cmake-build64" -DCMAKE_C_COMPILER="$CC" \
    -Dtasd_DIR="$stage/opt/t/lib64/cmake/tasd" -DQUICKSTART="$PWD/examples/quickstart.c" \
    >"$stage/cmake64.log" 2>&1 &&
    cmake --build "$stage/cmake-build64" >>"$stage/cmake64.log" 2>&1 ||
    { cat "$stage/cmake64.log"; echo "install-check: the CMake consumer failed on the lib64 install"; exit 1; }
LD_LIBRARY_PATH="$stage/opt/t/lib64" "$stage/cmake-build64/quickstart"
"$stage/cmake-build64/quickstart_static"
make -s uninstall DESTDIR="$stage" PREFIX=/opt/t LIBDIR=/opt/t/lib64 INCLUDEDIR=/opt/t/include/tasd >/dev/null
left=$(find "$stage/opt/t" -type f | head -n 3)
[ -z "$left" ] || { echo "install-check: uninstall left $left"; exit 1; }
echo "install-check: ok"
