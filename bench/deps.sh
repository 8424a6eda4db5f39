#!/bin/sh
# Checks that the dense baselines the benchmark links are installed:
# OpenBLAS (cblas.h, libopenblas) and oneDNN (dnnl.h, libdnnl). As root on a
# Debian-like system the missing packages are installed with apt-get;
# otherwise the check fails loudly, naming them.
# usage: deps.sh CC STAMP CFLAGS... -- LIBS...
cc=$1; stamp=$2; shift 2
cflags=""; libs=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do cflags="$cflags $1"; shift; done
[ "$1" = "--" ] && shift
libs="$*"

probe() {
    tmp=$(mktemp -d) || return 1
    cat > "$tmp/probe.c" <<'SRC'
#include <cblas.h>
#include <dnnl.h>
char *openblas_get_corename(void);
int main(void)
{
    float a = 1, b = 2, c = 0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &c, 1);
    dnnl_sgemm('N', 'N', 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &c, 1);
    return openblas_get_corename() == 0;
}
SRC
    # shellcheck disable=SC2086
    $cc $cflags "$tmp/probe.c" -o "$tmp/probe" $libs >"$tmp/log" 2>&1
    rc=$?
    [ $rc -ne 0 ] && sed 's/^/    /' "$tmp/log" | head -n 8 >&2
    rm -rf "$tmp"
    return $rc
}

if probe; then
    mkdir -p "$(dirname "$stamp")" && touch "$stamp"
    exit 0
fi
pkgs="libopenblas-dev libdnnl-dev"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bench: OpenBLAS/oneDNN development files missing; installing: apt-get install -y $pkgs" >&2
    if apt-get install -y $pkgs >&2 || { apt-get update >&2 && apt-get install -y $pkgs >&2; }; then
        if probe; then
            mkdir -p "$(dirname "$stamp")" && touch "$stamp"
            exit 0
        fi
    fi
fi
cat >&2 <<MSG

*****************************************************************************
  make bench: CANNOT BUILD THE BENCHMARK: the dense baselines are missing.
  It needs OpenBLAS (cblas.h, -lopenblas) and oneDNN (dnnl.h, -ldnnl).
  On Debian/Ubuntu:   sudo apt-get install $pkgs
*****************************************************************************

MSG
exit 1
