/* tasd -- the libtasd command-line tool: inspect model files, decompose their
 * weights into N:M series, search per-layer configs, run the benchmark and
 * the demo. See docs/tool.md. This file dispatches to the commands. */
#include "tool.h"

#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tasd COMMAND [OPTIONS] ...\n"
            "\n"
            "libtasd %s: approximate weights by series of N:M structured-sparse terms.\n"
            "\n"
            "commands:\n"
            "  inspect FILE...        list the tensors of .npy, .safetensors, .onnx, .tasd files\n"
            "  decompose FILE ...     decompose a model's matrices into N:M series\n"
            "  search FILE ...        choose a config per tensor within an error budget\n"
            "  bench [--quick]        run the benchmark against OpenBLAS/oneDNN\n"
            "  demo                   run the built-in demo\n"
            "  help [COMMAND]         this text, or a command's\n"
            "  version                print the library version\n"
            "\n"
            "`tasd COMMAND --help` describes each command. Options may come before or\n"
            "after the operands; `--` ends them. Exit status: 0 on success, 1 on an\n"
            "error, 2 on a usage error (an unknown option, a missing argument).\n",
            tasd_version());
}

int main(int argc, char **argv)
{
    tool_argv0 = argv[0];
    if (argc < 2) {
        usage(stderr);
        return TOOL_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "help")) {
        if (argc > 2 && strcmp(argv[2], "help") != 0) {
            char *av[4] = {argv[0], argv[2], (char *)"--help", NULL};
            return main(3, av);
        }
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("tasd %s\n", tasd_version());
        return 0;
    }
    if (!strcmp(cmd, "inspect"))
        return cmd_inspect(argc - 1, argv + 1);
    /* the commands that write files */
    if (!strcmp(cmd, "decompose") || !strcmp(cmd, "search"))
        tool_cleanup_on_signals();
    if (!strcmp(cmd, "decompose"))
        return cmd_decompose(argc - 1, argv + 1);
    if (!strcmp(cmd, "search"))
        return cmd_search(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench"))
        return cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "demo"))
        return cmd_demo(argc - 1, argv + 1);
    tool_error("unknown command \"%s\"", cmd);
    usage(stderr);
    return TOOL_USAGE;
}
