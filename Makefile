# libtasd — the only build entry. `make help` lists the targets.

# The version has one source: the TASD_VERSION_* macros of include/tasd.h.
tasd_version_part = $(shell sed -n 's/^\#define TASD_VERSION_$(1) \([0-9][0-9]*\)$$/\1/p' include/tasd.h)
VERSION_MAJOR := $(call tasd_version_part,MAJOR)
VERSION_MINOR := $(call tasd_version_part,MINOR)
VERSION_PATCH := $(call tasd_version_part,PATCH)
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)
ifneq ($(words $(VERSION_MAJOR) $(VERSION_MINOR) $(VERSION_PATCH)),3)
  $(error cannot read TASD_VERSION_MAJOR/MINOR/PATCH from include/tasd.h)
endif

CC      ?= cc
AR      ?= ar
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR  ?= $(PREFIX)/bin
DESTDIR ?=
OPENMP  ?= 1
BUILD   ?= build

ARCH := $(shell $(CC) -dumpmachine 2>/dev/null)

WARN     := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CSTD     := -std=c11
OPT      ?= -O2
CFLAGS   ?=
BASE_CFLAGS := $(CSTD) $(OPT) -g $(WARN) -fPIC -fvisibility=hidden -D_POSIX_C_SOURCE=200809L -Iinclude -Ilib
# The library's own objects define the exported names (dllexport on Windows).
LIB_CFLAGS := -DTASD_BUILDING
LDLIBS   := -lm -lpthread

# OpenMP when asked for and the compiler has it.
ifeq ($(OPENMP),1)
  OMP_OK := $(shell printf 'int main(void){return 0;}' | $(CC) -fopenmp -x c - -o /dev/null 2>/dev/null && echo yes)
  ifeq ($(OMP_OK),yes)
    BASE_CFLAGS += -fopenmp
    OMP_LIBS := -fopenmp
  endif
endif

# Each kernel folder is compiled with its own ISA flags only; the framework
# stays at the baseline ISA, so nothing runs an instruction the CPU lacks.
KERNEL_DIRS := kernels/scalar
ifneq (,$(findstring x86_64,$(ARCH)))
  KERNEL_DIRS += kernels/avx2 kernels/avx512
endif
ifneq (,$(findstring aarch64,$(ARCH)))
  KERNEL_DIRS += kernels/neon
endif
ISA_FLAGS_kernels/scalar :=
ISA_FLAGS_kernels/avx2   := -mavx2 -mfma -mf16c
ISA_FLAGS_kernels/avx512 := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma
ISA_FLAGS_kernels/neon   :=

LIB_SRC    := $(wildcard lib/core/*.c lib/io/*.c lib/tasder/*.c)
KERNEL_SRC := $(foreach d,$(KERNEL_DIRS),$(wildcard $(d)/*.c))
LIB_OBJ    := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC) $(KERNEL_SRC))

SONAME   := libtasd.so.$(VERSION_MAJOR)
SO_FILE  := $(BUILD)/lib/libtasd.so.$(VERSION)
SO_LINKS := $(BUILD)/lib/libtasd.so.$(VERSION_MAJOR) $(BUILD)/lib/libtasd.so
A_FILE   := $(BUILD)/lib/libtasd.a
PC_FILE  := $(BUILD)/lib/pkgconfig/tasd.pc
CMAKE_FILES := $(BUILD)/lib/cmake/tasd/tasdConfig.cmake $(BUILD)/lib/cmake/tasd/tasdConfigVersion.cmake

TEST_SRC  := $(wildcard test/test_*.c)
TEST_BIN  := $(patsubst test/%.c,$(BUILD)/test/%,$(TEST_SRC))
TEST_SUPPORT := $(wildcard test/support/*.c)
TEST_SUPPORT_H := $(wildcard test/support/*.h)
EXAMPLE_SRC := $(wildcard examples/*.c)
EXAMPLE_BIN := $(patsubst examples/%.c,$(BUILD)/examples/%,$(EXAMPLE_SRC))

.PHONY: FORCE all lib examples test check-exports abi-dump abi-check test-sanitize test-tsan test-valgrind demo install install-python uninstall install-check clean help

all: lib examples

lib: $(SO_FILE) $(SO_LINKS) $(A_FILE) $(PC_FILE) $(CMAKE_FILES)

help:
	@echo "make [all]            build libtasd.so/.a, tasd.pc and the examples into $(BUILD)/"
	@echo "make demo             build and run the demo on built-in data"
	@echo "make test             build and run the test suite"
	@echo "make test-sanitize    the test suite under ASan+UBSan (in build-san/)"
	@echo "make check-exports    tasd.h's TASD_API names, lib/tasd.map and the library agree"
	@echo "make test-tsan        the multi-threaded tests under ThreadSanitizer (clang)"
	@echo "make test-valgrind    the test suite under valgrind memcheck"
	@echo "make install          PREFIX=$(PREFIX) DESTDIR= LIBDIR=$(LIBDIR)"
	@echo "make install-python   the Python module (python/tasd) for PYTHON=$(PYTHON) into PYTHONDIR=$(PYTHONDIR)"
	@echo "make uninstall        remove what install (and install-python) put there"
	@echo "make install-check    stage an install; build consumers via pkg-config and CMake"
	@echo "make abi-check        compare the library's ABI with abi/libtasd.abi (abigail-tools)"
	@echo "make abi-dump         rewrite abi/libtasd.abi (only with a new major version)"
	@echo "make bench-build      the benchmark (bench/); make bench / bench-quick run it"
	@echo "                      (BENCH_ARGS=...; installs OpenBLAS and oneDNN as root on Debian)"
	@echo "make cross-test       aarch64 build, test suite under qemu-aarch64"
	@echo "make fuzz             libFuzzer on the parsers (clang), FUZZ_SECONDS=$(FUZZ_SECONDS) each"
	@echo "options: OPENMP=0 (build without OpenMP), CC=clang, OPT=-O3"

# -MMD -MP: each object depends on exactly the headers it includes.
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(LIB_CFLAGS) $(ISA_FLAGS_$(patsubst %/,%,$(dir $<))) $(CFLAGS) -MMD -MP -c $< -o $@

$(SO_FILE): $(LIB_OBJ) lib/tasd.map
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=lib/tasd.map \
	    -Wl,--no-undefined -Wl,-z,noexecstack \
	    $(BASE_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(LIB_OBJ) $(OMP_LIBS) $(LDLIBS)

$(BUILD)/lib/libtasd.so.$(VERSION_MAJOR) $(BUILD)/lib/libtasd.so: $(SO_FILE)
	ln -sf $(notdir $(SO_FILE)) $@

$(A_FILE): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJ)

# tasd.pc is relocatable: prefix is found from the .pc file's own place.
PC_LIBDIR_REL := $(patsubst $(PREFIX)/%,%,$(LIBDIR))
PC_PREFIX_REL := $(shell echo "$(PC_LIBDIR_REL)/pkgconfig" | sed 's|[^/][^/]*|..|g')
INCLUDEDIR_REL := $(patsubst $(PREFIX)/%,%,$(INCLUDEDIR))

# The package files hold LIBDIR and INCLUDEDIR (relative to PREFIX), which may
# differ between `make` and `make install LIBDIR=...`: this stamp changes when
# they do, so the files are written again rather than installed stale.
INSTALL_DIRS := $(BUILD)/lib/install-dirs
$(INSTALL_DIRS): FORCE
	@case "$(PC_LIBDIR_REL) $(INCLUDEDIR_REL)" in /*|*" /"*) \
	    echo "LIBDIR ($(LIBDIR)) and INCLUDEDIR ($(INCLUDEDIR)) must be under PREFIX ($(PREFIX))" >&2; exit 1;; esac
	@mkdir -p $(dir $@)
	@echo "$(PC_LIBDIR_REL) $(INCLUDEDIR_REL)" | cmp -s - $@ || echo "$(PC_LIBDIR_REL) $(INCLUDEDIR_REL)" > $@
FORCE:

$(PC_FILE): pkgconfig/tasd.pc.in Makefile include/tasd.h $(INSTALL_DIRS)
	@mkdir -p $(dir $@)
	sed -e 's|@VERSION@|$(VERSION)|' -e 's|@PC_PREFIX_REL@|$(PC_PREFIX_REL)|' \
	    -e 's|@PC_LIBDIR_REL@|$(PC_LIBDIR_REL)|' -e 's|@INCLUDEDIR_REL@|$(INCLUDEDIR_REL)|' \
	    -e 's|@LIBS_PRIVATE@|-lm -lpthread $(OMP_LIBS)|' $< > $@

# The CMake package files (cmake/*.in, written by hand) are relocatable the
# same way: the prefix is found from the installed file's own place.
CMAKE_PREFIX_REL := $(shell echo "$(PC_LIBDIR_REL)/cmake/tasd" | sed 's|[^/][^/]*|..|g')
SIZEOF_VOID_P := $(shell echo __SIZEOF_POINTER__ | $(CC) -E -P -x c - 2>/dev/null | tr -d ' ')
$(BUILD)/lib/cmake/tasd/%.cmake: cmake/%.cmake.in Makefile include/tasd.h $(INSTALL_DIRS)
	@mkdir -p $(dir $@)
	sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@VERSION_MAJOR@|$(VERSION_MAJOR)|g' \
	    -e 's|@PREFIX_REL@|$(CMAKE_PREFIX_REL)|' -e 's|@LIBDIR_REL@|$(PC_LIBDIR_REL)|' \
	    -e 's|@INCLUDEDIR_REL@|$(INCLUDEDIR_REL)|' -e 's|@SIZEOF_VOID_P@|$(SIZEOF_VOID_P)|g' \
	    -e 's|@LIBS_PRIVATE@|$(subst $() ,;,$(strip -lm -lpthread $(OMP_LIBS)))|' $< > $@

# Tests and examples link the static library so they run from the tree.
$(BUILD)/test/%: test/%.c $(A_FILE) test/harness.h $(TEST_SUPPORT) $(TEST_SUPPORT_H)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -Itest -o $@ $< $(TEST_SUPPORT) $(A_FILE) $(OMP_LIBS) $(LDLIBS)

$(BUILD)/examples/%: examples/%.c $(A_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $< $(A_FILE) $(OMP_LIBS) $(LDLIBS)

examples: $(EXAMPLE_BIN)

demo: $(BUILD)/examples/demo
	$(BUILD)/examples/demo

# test/run.sh also runs the Python module's tests against this build's
# libtasd.so (skipped loudly without numpy), and the ONNX end-to-end test
# in onnxruntime with this build's tool (skipped loudly without python3-onnx,
# node/npm or the npm registry).
test: lib $(TEST_BIN) check-exports
	@TASD_PY_LIBRARY="$(abspath $(SO_FILE))" TASD_PY_SKIP="$(PY_TEST_SKIP)" \
	    TASD_E2E_TOOL="$(abspath $(TOOL_BIN))" sh test/run.sh $(TEST_BIN) $(REPLAY_BIN)

# The header's TASD_API names, lib/tasd.map and the built library agree.
check-exports: $(SO_FILE)
	@sh test/check_exports.sh $(SO_FILE)

# The ABI baseline (docs/api.md, "ABI policy"): abi-dump rewrites it from the
# built library, public types only; abi-check fails on anything but
# compatible additions. Both need abigail-tools.
abi-dump: $(SO_FILE)
	@sh test/abi.sh dump $(SO_FILE)

abi-check: $(SO_FILE)
	@sh test/abi.sh check $(SO_FILE)

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer (not
# the Python tests: an ASan library cannot be loaded into a plain python3).
test-sanitize:
	$(MAKE) BUILD=build-san OPT=-O1 PY_TEST_SKIP="the sanitizer build cannot be loaded by python3" \
	    CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    LDFLAGS="-fsanitize=address,undefined" test

# The multi-threaded tests under ThreadSanitizer: clang, OpenMP off (libgomp
# is not TSan-instrumented); the tests' own pthreads and an injected
# pthread parallel-for supply the concurrency. Static library only: clang
# links no sanitizer runtime into a shared object.
TSAN_TESTS := test_backends test_threads test_gemm test_layer test_bpack test_workspace test_dense
test-tsan:
	$(MAKE) -s BUILD=build-tsan CC=clang OPENMP=0 OPT=-O1 \
	    CFLAGS="-fsanitize=thread -fno-omit-frame-pointer" LDFLAGS="-fsanitize=thread" \
	    build-tsan/lib/libtasd.a $(patsubst %,build-tsan/test/%,$(TSAN_TESTS))
	TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1" \
	    sh test/run.sh $(patsubst %,build-tsan/test/%,$(TSAN_TESTS))

# The suite under valgrind memcheck (without OpenMP, whose runtime valgrind
# cannot follow cleanly). build-valgrind/ is the plain OPENMP=0 build, the
# one `make BUILD=build-valgrind OPENMP=0 test` makes: .ci/run's OPENMP=0
# step runs the suite natively from these objects. Flags of its own for
# test-valgrind need a build directory of its own.
test-valgrind:
	@if command -v valgrind >/dev/null 2>&1; then \
	    $(MAKE) -s BUILD=build-valgrind OPENMP=0 lib && \
	    $(MAKE) -s BUILD=build-valgrind OPENMP=0 $(patsubst $(BUILD)/%,build-valgrind/%,$(TEST_BIN)) && \
	    TASD_TEST_WRAPPER="valgrind -q --error-exitcode=9 --leak-check=full" \
	    sh test/run.sh $(patsubst $(BUILD)/%,build-valgrind/%,$(TEST_BIN)); \
	else echo "SKIPPED: test-valgrind: valgrind is not installed (apt-get install valgrind)"; fi

install: lib
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(LIBDIR)/cmake/tasd
	install -m 644 include/tasd.h $(DESTDIR)$(INCLUDEDIR)/tasd.h
	install -m 755 $(SO_FILE) $(DESTDIR)$(LIBDIR)/
	ln -sf libtasd.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libtasd.so.$(VERSION_MAJOR)
	ln -sf libtasd.so.$(VERSION_MAJOR) $(DESTDIR)$(LIBDIR)/libtasd.so
	install -m 644 $(A_FILE) $(DESTDIR)$(LIBDIR)/
	install -m 644 $(PC_FILE) $(DESTDIR)$(LIBDIR)/pkgconfig/tasd.pc
	install -m 644 $(CMAKE_FILES) $(DESTDIR)$(LIBDIR)/cmake/tasd/

# The pure-Python module (no build step): copied into PYTHONDIR (the module
# directory of the interpreter PYTHON under PREFIX, see python/install_dir.py),
# with the library's install directory recorded so it finds this libtasd.so.
# Refused when PYTHON lacks numpy, loudly warned about when PYTHON does not
# import from PYTHONDIR. pip works too (docs/python.md).
PYTHON    ?= python3
PYTHONDIR ?= $(shell $(PYTHON) python/install_dir.py "$(PREFIX)" 2>/dev/null)
install-python:
	@test -n "$(PYTHONDIR)" || { echo "install-python: cannot ask $(PYTHON) for its module directory; set PYTHONDIR="; exit 1; }
	@$(PYTHON) python/install_dir.py --check "$(PYTHONDIR)" $(if $(DESTDIR),--staged)
	install -d $(DESTDIR)$(PYTHONDIR)/tasd
	install -m 644 python/tasd/__init__.py python/tasd/_lib.py $(DESTDIR)$(PYTHONDIR)/tasd/
	printf '# Written by make install-python.\nLIBDIR = %s\n' "'$(LIBDIR)'" > $(DESTDIR)$(PYTHONDIR)/tasd/_install.py

uninstall:
	rm -rf $(DESTDIR)$(PYTHONDIR)/tasd
	rm -f $(DESTDIR)$(INCLUDEDIR)/tasd.h $(DESTDIR)$(LIBDIR)/libtasd.so.$(VERSION) \
	      $(DESTDIR)$(LIBDIR)/libtasd.so.$(VERSION_MAJOR) $(DESTDIR)$(LIBDIR)/libtasd.so \
	      $(DESTDIR)$(LIBDIR)/libtasd.a $(DESTDIR)$(LIBDIR)/pkgconfig/tasd.pc \
	      $(DESTDIR)$(LIBDIR)/cmake/tasd/tasdConfig.cmake \
	      $(DESTDIR)$(LIBDIR)/cmake/tasd/tasdConfigVersion.cmake
	# The package's own directory; the shared ones (bin, pkgconfig...) stay.
	rmdir $(DESTDIR)$(LIBDIR)/cmake/tasd 2>/dev/null || true

install-check: lib
	@CC="$(CC)" sh test/install_check.sh

clean:
	rm -rf build build-*

# Each optional part keeps its rules beside its sources (tools/, bench/,
# test/): one fragment per folder, e.g. tools/tools.mk, bench/bench.mk.
include $(sort $(wildcard */*.mk))

-include $(LIB_OBJ:.o=.d)
