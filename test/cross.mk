# make cross-test: cross-compile the library and every test program for
# aarch64 (into build-aarch64/, its own build tree) and run the suite under
# qemu-aarch64 with TASD_BACKEND=neon and =scalar. Debian packages:
# gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user. Missing tools print
# SKIPPED (CROSS_REQUIRED=1 turns that into a failure). UBSan works under
# qemu-user (ASan does not):
#   make cross-test CROSS_BUILD=build-aarch64-ubsan \
#       CROSS_CFLAGS='-fsanitize=undefined -fno-sanitize-recover=all' \
#       CROSS_LDFLAGS=-fsanitize=undefined
CROSS_CC      ?= aarch64-linux-gnu-gcc
QEMU_AARCH64  ?= qemu-aarch64
CROSS_SYSROOT ?= /usr/aarch64-linux-gnu
CROSS_BUILD   ?= build-aarch64
CROSS_CFLAGS  ?=
CROSS_LDFLAGS ?=
CROSS_TEST_BIN := $(patsubst test/%.c,$(CROSS_BUILD)/test/%,$(TEST_SRC))

.PHONY: cross-test cross-build

cross-build:
	@if command -v $(CROSS_CC) >/dev/null 2>&1; then \
	    $(MAKE) --no-print-directory BUILD=$(CROSS_BUILD) CC=$(CROSS_CC) \
	        CFLAGS="$(CROSS_CFLAGS)" LDFLAGS="$(CROSS_LDFLAGS)" lib $(CROSS_TEST_BIN); \
	fi

cross-test: cross-build
	@sh test/cross.sh $(CROSS_CC) $(QEMU_AARCH64) $(CROSS_SYSROOT) $(CROSS_BUILD) $(CROSS_TEST_BIN)

.PHONY: cross-clean
cross-clean:
	rm -rf $(CROSS_BUILD)
clean: cross-clean
