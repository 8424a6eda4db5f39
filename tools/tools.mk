# The `tasd` command-line tool: build/bin/tasd, installed into $(BINDIR).
TOOL_SRC := $(wildcard tools/*.c)
TOOL_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(TOOL_SRC))
TOOL_BIN := $(BUILD)/bin/tasd

.PHONY: tool install-tool uninstall-tool

all: tool
tool: $(TOOL_BIN)

$(BUILD)/obj/tools/%.o: tools/%.c tools/tool.h include/tasd.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -c $< -o $@

# Linked statically against libtasd, so the installed tool needs no rpath.
$(TOOL_BIN): $(TOOL_OBJ) $(A_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(TOOL_OBJ) $(A_FILE) $(OMP_LIBS) $(LDLIBS)

# The tool tests spawn build/bin/tasd: build it before `make test` runs them.
test: $(TOOL_BIN)

# `tasd demo` runs ../libexec/tasd/demo beside the tool (tools/run.c); the
# demo links libtasd statically too. The bench needs OpenBLAS and oneDNN and
# is not installed.
TOOL_LIBEXEC = $(abspath $(BINDIR)/../libexec/tasd)
install: install-tool
install-tool: $(TOOL_BIN) $(BUILD)/examples/demo
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(TOOL_LIBEXEC)
	install -m 755 $(TOOL_BIN) $(DESTDIR)$(BINDIR)/tasd
	install -m 755 $(BUILD)/examples/demo $(DESTDIR)$(TOOL_LIBEXEC)/demo

uninstall: uninstall-tool
uninstall-tool:
	rm -f $(DESTDIR)$(BINDIR)/tasd $(DESTDIR)$(TOOL_LIBEXEC)/demo
	rmdir $(DESTDIR)$(TOOL_LIBEXEC) 2>/dev/null || true

# test_tool runs the tool of its own build tree (also for test-valgrind and
# other BUILD= directories): building the test builds the tool.
$(BUILD)/test/test_tool: $(TOOL_BIN)
