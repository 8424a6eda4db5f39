# Kernel tuning probes (kernels branch): not part of `make all`/`make test`.
#   make probe            build/bench/probe and build/bench/peak
#   OPENBLAS_CORETYPE=Haswell build/bench/probe 4096 4096 64 2:4 [threads] [reps] [copies]
#   build/bench/probe select 2:4      select kernels and tasd_decompose GB/s
#   build/bench/peak                  FMA peak of one core
PROBE_BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
PROBE_BLAS_LIBS   := $(or $(shell pkg-config --libs openblas 2>/dev/null),-lopenblas)

.PHONY: probe
probe: $(BUILD)/bench/probe $(BUILD)/bench/peak

$(BUILD)/bench/probe: bench/probe.c $(A_FILE) include/tasd.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(PROBE_BLAS_CFLAGS) -o $@ bench/probe.c $(A_FILE) \
	    $(PROBE_BLAS_LIBS) $(OMP_LIBS) $(LDLIBS)
