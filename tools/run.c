/* `tasd bench` and `tasd demo`: run the benchmark or demo program built
 * beside the tool. Their arguments (but --help) are passed through. */
#include "tool.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Directory of this executable, or "" if unknown. */
static void self_dir(char *buf, size_t size)
{
    buf[0] = 0;
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    if (n <= 0) {
        const char *s = strrchr(tool_argv0, '/');
        if (s && (size_t)(s - tool_argv0) < size) {
            memcpy(buf, tool_argv0, (size_t)(s - tool_argv0));
            buf[s - tool_argv0] = 0;
        }
        return;
    }
    buf[n] = 0;
    char *s = strrchr(buf, '/');
    if (s)
        *s = 0;
}

static int run_program(const char *what, const char *env, const char *const *rel, char **args,
                       int nargs)
{
    char dir[PATH_MAX], path[PATH_MAX + 64];
    const char *found = getenv(env);
    if (found && access(found, X_OK) != 0) {
        tool_error("%s: %s=%s is not an executable file", what, env, found);
        return 1;
    }
    if (!found) {
        self_dir(dir, sizeof dir);
        for (int k = 0; rel[k] && !found; k++) {
            snprintf(path, sizeof path, "%s/%s", dir, rel[k]);
            if (access(path, X_OK) == 0)
                found = path;
        }
    }
    if (!found) {
        tool_error("%s: the %s program is not built. Build it with `make %s` in the libtasd "
                   "source tree (it is looked for beside this tool as",
                   what, what, strcmp(what, "bench") == 0 ? "bench-build" : "examples");
        for (int k = 0; rel[k]; k++)
            fprintf(stderr, "      %s/%s\n", dir, rel[k]);
        fprintf(stderr, "      ), or point %s at it.\n", env);
        return 1;
    }
    char **av = calloc((size_t)nargs + 2, sizeof *av);
    if (!av)
        return 1;
    av[0] = (char *)found;
    for (int i = 0; i < nargs; i++)
        av[i + 1] = args[i];
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        tool_error("%s: fork failed: %s", what, strerror(errno));
        free(av);
        return 1;
    }
    if (pid == 0) {
        execv(found, av);
        fprintf(stderr, "tasd: %s: cannot run %s: %s\n", what, found, strerror(errno));
        _exit(127);
    }
    free(av);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return 1;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    tool_error("%s: %s was killed by signal %d", what, found, WTERMSIG(status));
    return 1;
}

/* A command that runs a program built beside the tool, passing its
 * arguments through: only -h/--help, anywhere, is the command's own. */
typedef struct passthrough {
    const char *cmd;            /* the command, also the program's name */
    const char *env;            /* the variable that may name the program */
    const char *usage;          /* --help text */
    const char *const rel[3];   /* where to look, relative to the tool */
} passthrough;

static int run_passthrough(const passthrough *p, int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(p->usage, stdout);
            return 0;
        }
    return run_program(p->cmd, p->env, p->rel, argv + 1, argc - 1);
}

int cmd_bench(int argc, char **argv)
{
    static const passthrough bench = {
        "bench", "TASD_BENCH",
        "usage: tasd bench [--quick] [BENCH OPTIONS...]\n"
        "\n"
        "Run the libtasd benchmark (libtasd against OpenBLAS and oneDNN on the same\n"
        "machine). --quick runs a subset in under a minute; other options (--shape\n"
        "MxKxN, --config CFG, --threads T, --backend B) are passed through.\n"
        "The program is found beside this tool (../bench/bench in the build tree),\n"
        "or at $TASD_BENCH. It is built by `make bench-build`.\n",
        {"../bench/bench", "../libexec/tasd/bench", NULL}};
    return run_passthrough(&bench, argc, argv);
}

int cmd_demo(int argc, char **argv)
{
    static const passthrough demo = {
        "demo", "TASD_DEMO",
        "usage: tasd demo [DEMO OPTIONS...]\n"
        "\n"
        "Run the built-in libtasd demo on synthetic data. The program is found\n"
        "beside this tool (../examples/demo in the build tree), or at $TASD_DEMO.\n"
        "It is built by `make` (examples).\n",
        {"../examples/demo", "../libexec/tasd/demo", NULL}};
    return run_passthrough(&demo, argc, argv);
}
