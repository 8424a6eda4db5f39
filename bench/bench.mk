# Benchmark against the dense baselines (OpenBLAS, oneDNN). Not part of
# `make all` or `make test`.
#   make bench                     the full table (several minutes)
#   make bench-quick               the --quick subset (under a minute)
#   make bench-smoke               every section once on small odd shapes, and
#                                  --layer: the bench runs and its products are
#                                  right (CI); its times mean nothing
#   make bench BENCH_ARGS='--shape 4096x4096x1 --config 2:4 --threads 1'
BENCH_BIN   := $(BUILD)/bench/bench
BENCH_STAMP := $(BUILD)/bench/deps.ok
BENCH_BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
BENCH_BLAS_LIBS   := $(or $(shell pkg-config --libs openblas 2>/dev/null),-lopenblas)
BENCH_LIBS  := $(BENCH_BLAS_LIBS) -ldnnl -ldl
BENCH_ARGS  ?=

.PHONY: bench bench-quick bench-smoke bench-build

$(BENCH_STAMP):
	@sh bench/deps.sh "$(CC)" $@ $(BENCH_BLAS_CFLAGS) -- $(BENCH_LIBS)

$(BENCH_BIN): bench/bench.c bench/peak.h $(A_FILE) include/tasd.h $(BENCH_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(BENCH_BLAS_CFLAGS) -o $@ bench/bench.c \
	    $(A_FILE) $(BENCH_LIBS) $(OMP_LIBS) $(LDLIBS)

$(BUILD)/bench/peak: bench/peak.c bench/peak.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ bench/peak.c

bench-build: $(BENCH_BIN) $(BUILD)/bench/peak

bench: $(BENCH_BIN)
	$(BENCH_BIN) $(BENCH_ARGS)

bench-quick: $(BENCH_BIN)
	$(BENCH_BIN) --quick $(BENCH_ARGS)

bench-smoke: $(BENCH_BIN)
	$(BENCH_BIN) --reps 1 --threads 1,2 --shape 200x328x72,1000x515x3 \
	    --config dense,2:4,2:4+1:8,3:8
	$(BENCH_BIN) --reps 1 --threads 1 --shape 256x256x20 --no-decompose \
	    --config 2:4 --values bf16 --dtype bf16
	$(BENCH_BIN) --reps 1 --threads 1,2 --shape 200x328x72,1000x515x3 --no-decompose \
	    --layer --config dense,2:4+1:8
