# libFuzzer targets for the parsers: config strings, .npy headers, safetensors
# headers, the .tasd loader, ONNX models. Built with clang -fsanitize=fuzzer,address,undefined
# into $(BUILD)/fuzz/. Seeds: test/fuzz/corpus/<target>/ (read-only); new inputs
# go to $(BUILD)/fuzz/corpus/<target>/.
#   make fuzz FUZZ_SECONDS=60      build and run every target for N seconds each
#                                  (make -j2 fuzz: two targets at a time)
#   make fuzz-build                only build them
FUZZ_SECONDS ?= 30
FUZZ_CC      ?= clang
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_TARGETS := config npy safetensors tasd onnx
FUZZ_BINS    := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_TARGETS))
FUZZ_CFLAGS  := -std=c11 -g -O1 -fno-omit-frame-pointer -D_POSIX_C_SOURCE=200809L \
                -Iinclude -Ilib -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_LIB_OBJ := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(LIB_SRC) $(KERNEL_SRC))
# The headers the targets include besides tasd.h.
FUZZ_HEADERS := test/fuzz/fuzz_util.h test/support/bytes.h

.PHONY: fuzz fuzz-build fuzz-check

# Loud, failing check that clang and its libFuzzer runtime are there.
fuzz-check:
	@printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n){(void)d;(void)n;return 0;}\n' \
	  | $(FUZZ_CC) -fsanitize=fuzzer,address,undefined -x c - -o /dev/null 2>/dev/null || { \
	  echo "************************************************************************"; \
	  echo "make fuzz: '$(FUZZ_CC) -fsanitize=fuzzer' does not work: clang or its"; \
	  echo "libFuzzer runtime is MISSING. On Debian 12: apt-get install clang-14"; \
	  echo "libclang-rt-14-dev (and FUZZ_CC=clang-14 if 'clang' is not on PATH)."; \
	  echo "NO FUZZING WAS DONE."; \
	  echo "************************************************************************"; \
	  exit 1; }

# The kernels are built without ASan/UBSan here: the targets fuzz the
# parsers, clang takes many minutes to instrument the unrolled kernel
# templates, and `make test-sanitize` checks the kernels under ASan+UBSan.
$(FUZZ_DIR)/obj/kernels/%.o: FUZZ_NOSAN := -fno-sanitize=address,undefined
$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_NOSAN) -fsanitize=fuzzer-no-link $(ISA_FLAGS_$(patsubst %/,%,$(dir $<))) -MMD -MP -c $< -o $@

$(FUZZ_DIR)/fuzz_%: test/fuzz/fuzz_%.c $(FUZZ_HEADERS) $(FUZZ_LIB_OBJ) | fuzz-check
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJ) -lm -lpthread

fuzz-build: fuzz-check $(FUZZ_BINS)

fuzz: fuzz-build
	@$(MAKE) --no-print-directory $(patsubst %,fuzz-run-%,$(FUZZ_TARGETS))
	@echo "fuzz: all targets ran $(FUZZ_SECONDS) s without a crash"

# One target for FUZZ_SECONDS. Each fuzzer is a single process, so under
# make -jN, N of them run side by side, each with a CPU of its own; each
# one's summary is printed in one piece when it ends. A crash leaves an
# artifact and fails the run.
fuzz-run-%: $(FUZZ_DIR)/fuzz_%
	@mkdir -p $(FUZZ_DIR)/corpus/$* $(FUZZ_DIR)/artifacts/$*
	@$< -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 \
	    -timeout=20 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/artifacts/$*/ \
	    $(FUZZ_DIR)/corpus/$* test/fuzz/corpus/$* >$(FUZZ_DIR)/fuzz_$*.log 2>&1; \
	{ echo "== fuzz_$* for $(FUZZ_SECONDS) s"; \
	  grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::new_units_added|==[0-9]+==|SUMMARY|.*ERROR|.*crash|.*deadly)' \
	    $(FUZZ_DIR)/fuzz_$*.log; } >$(FUZZ_DIR)/fuzz_$*.summary; \
	cat $(FUZZ_DIR)/fuzz_$*.summary; \
	test "$$(ls $(FUZZ_DIR)/artifacts/$* | wc -l)" -eq 0 || { \
	    echo "FUZZ FAILURE in fuzz_$*: see $(FUZZ_DIR)/artifacts/$*/ and $(FUZZ_DIR)/fuzz_$*.log"; exit 1; }

# Keep the instrumented library objects between runs.
.SECONDARY: $(FUZZ_LIB_OBJ)
-include $(FUZZ_LIB_OBJ:.o=.d)

# `make test` replays every seed corpus through its harness with a plain
# main() (test/fuzz/replay.c): no libFuzzer needed, any compiler.
REPLAY_BIN := $(patsubst %,$(BUILD)/test/replay_%,$(FUZZ_TARGETS))
$(BUILD)/test/replay_%: test/fuzz/fuzz_%.c test/fuzz/replay.c $(FUZZ_HEADERS) $(A_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -DREPLAY_CORPUS='"test/fuzz/corpus/$*"' -o $@ \
	    test/fuzz/replay.c $< $(A_FILE) $(OMP_LIBS) $(LDLIBS)
test: $(REPLAY_BIN)
