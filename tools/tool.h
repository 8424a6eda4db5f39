/* Shared declarations of the `tasd` command-line tool: one file per command
 * (inspect.c, decompose.c, search.c, run.c for bench and demo), main.c to
 * dispatch, common.c for what they share. */
#ifndef TASD_TOOL_H
#define TASD_TOOL_H

#include "tasd.h"

#include <getopt.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>

#if defined(__GNUC__)
#define TOOL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TOOL_PRINTF(a, b)
#endif

/* Exit status of a usage error (1 is any other error). */
#define TOOL_USAGE 2

extern const char *tool_argv0;
extern bool tool_quiet;

/* "tasd: " + message on stderr. */
void tool_error(const char *fmt, ...) TOOL_PRINTF(1, 2);
/* The library's status string and detail message, for error lines. */
const char *tool_status(tasd_status st);

/* "tasd: WHERE: " + tool_status(st), WHERE left out when the library's
 * message already starts with it (it often names the file and tensor). */
void tool_error_status(const char *where, tasd_status st);

/* Progress on stderr, only when it is a terminal and --quiet is off. */
void tool_progress(const char *fmt, ...) TOOL_PRINTF(1, 2);
void tool_progress_clear(void);

/* ---- options: every command parses with getopt_long through this ---- */

/* The options every working command shares, and the tensor selection of
 * decompose and search (values above any short option's character). */
enum {
    TOOL_OPT_JSON = 256,
    TOOL_OPT_THREADS,
    TOOL_OPT_TENSORS,
    TOOL_OPT_MIN_ELEMENTS,
    TOOL_OPT_ONLY,
    TOOL_OPT_SKIP,
    TOOL_OPT_FIRST_FREE
};
#define TOOL_OPTIONS_COMMON                                   \
    {"help", no_argument, NULL, 'h'},                         \
    {"quiet", no_argument, NULL, 'q'},                        \
    {"threads", required_argument, NULL, TOOL_OPT_THREADS}
#define TOOL_OPTIONS_SELECT                                            \
    {"tensors", required_argument, NULL, TOOL_OPT_TENSORS},            \
    {"min-elements", required_argument, NULL, TOOL_OPT_MIN_ELEMENTS},  \
    {"only", required_argument, NULL, TOOL_OPT_ONLY},                  \
    {"skip", required_argument, NULL, TOOL_OPT_SKIP}

/* The next option of `argv` (argv[0] is the command's name), as
 * getopt_long, for command `cmd`. An unknown option and a missing argument
 * are reported here, each with its own message, and come back as '?' (the
 * caller then exits TOOL_USAGE). "--" ends the options. Returns -1 after the
 * last option; the operands start at optind. */
int tool_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
                const struct option *longopts);
/* An integer option value in [min, max]; false (reported) if not. */
bool tool_parse_i64(const char *cmd, const char *option, const char *text, int64_t min,
                    int64_t max, int64_t *out);
/* A number option value in [min, max]; false (reported) if not. */
bool tool_parse_double(const char *cmd, const char *option, const char *text, double min,
                       double max, double *out);
/* --threads T: 0..1024, 0 meaning every core. */
bool tool_parse_threads(const char *cmd, const char *text, int *out);
/* Open FILE, a model for decompose or search (a .tasd archive is refused
 * with a pointer to `tasd inspect`); false (reported) on error. */
bool tool_open_model(const char *cmd, const char *path, tasd_tensorfile **out);
/* The number of cores (at most 64). */
int tool_default_threads(void);

/* ---- tensors ---- */

/* Which tensors a command works on: --tensors (comma-separated fnmatch(3)
 * patterns), --only / --skip (POSIX extended regular expressions, matched
 * anywhere in the name unless anchored) and --min-elements. */
typedef struct tool_select {
    const char *patterns;
    bool has_only, has_skip;
    regex_t only, skip;
    int64_t min_elements;
} tool_select;

/* Compile --only/--skip TEXT into *re; false (reported) on a bad regex. */
bool tool_select_regex(const char *cmd, const char *option, const char *text, regex_t *re,
                       bool *has);
void tool_select_free(tool_select *s);

/* What the shared options (TOOL_OPTIONS_COMMON, --json, TOOL_OPTIONS_SELECT)
 * set. Zero-initialize; free with tool_select_free(&o.sel). */
typedef struct tool_common_opts {
    bool json;
    int threads; /* 0: every core */
    tool_select sel;
} tool_common_opts;

/* Handle option c (from tool_getopt, with optarg `arg`) when it is one of
 * the shared options but --help: -q/--quiet, --json, --threads and the
 * selection options, so each command parses them alike. Returns false for
 * any other option, which the caller handles; true when c was shared, with
 * *ok set false when its value is bad (reported). A command takes only the
 * shared options its own table lists: the others never reach here. */
bool tool_common_option(const char *cmd, int c, const char *arg, tool_common_opts *o, bool *ok);
/* A command's main run with zeroed shared options, its selection freed
 * after it on every path; returns its exit status. */
int tool_run_command(int (*command_main)(int argc, char **argv, tool_common_opts *o), int argc,
                     char **argv);

/* How a command sees tensor i: skipped (with the reason), or a matrix
 * [out, in] that is the tensor as stored (rank 2, or rank 4 conv seen as
 * [out, in*kh*kw]) or, when `transposed`, its transpose. The N:M groups run
 * along `in`, the axis the consuming operator reduces over: in an ONNX
 * graph that comes from tasd_tensorfile_consumer (a MatMul weight [K, N] is
 * transposed; a tensor whose consumer is unknown is skipped, never guessed);
 * other formats store [out, in]. */
typedef struct tool_plan {
    const char *skip;   /* NULL if the tensor is used */
    bool transposed;
    const char *op;     /* consuming ONNX op_type, "" if none/other formats */
    int32_t out_axis;   /* -1 unknown */
    char why[160];      /* storage for skip */
} tool_plan;

void tool_plan_tensor(const tasd_tensorfile *m, int64_t i, const tasd_tensor_info *info,
                      const tool_select *s, tool_plan *p);
/* Rows/cols of the matrix the plan decomposes. */
void tool_plan_matrix(const tool_plan *p, const tasd_tensor_info *info, int64_t *rows,
                      int64_t *cols);
/* Comma-separated fnmatch(3) patterns; NULL or "" matches everything. */
bool tool_name_matches(const char *name, const char *patterns);
/* The name a tensor goes by in layer configs and reports: its own, or for a
 * .npy file (whose array has none) the file's base name without ".npy". */
const char *tool_layer_name(const char *file, const char *name, char *buf, size_t size);

/* A view of tensor i: zero-copy when its dtype allows, else an f32 copy
 * converted by the library into *owned (free with free()). With want_f32
 * the view is always f32 (a copy for f16/bf16 data). With `transposed`
 * (rank 2) the view is the tensor's transpose (strided, no copy). */
tasd_status tool_tensor_view(const tasd_tensorfile *m, int64_t i, bool want_f32,
                             bool transposed, tasd_view *v, float **owned);

/* ---- output ---- */

/* "[8, 16]" into buf. */
void tool_shape_text(char *buf, size_t size, int ndim, const int64_t *shape);
/* A JSON string literal of s; a JSON array of the shape. */
void tool_json_string(FILE *f, const char *s);
void tool_json_shape(FILE *f, int ndim, const int64_t *shape);
/* A JSON number, or null for NaN/Inf (which JSON cannot hold). */
void tool_json_number(FILE *f, double x);
/* The --json line of a tensor a command skipped, on stdout:
 * {"skipped":true,"name","shape","dtype","reason"}. */
void tool_json_skipped(const char *name, const tasd_tensor_info *info, const char *reason);
/* Seconds on a monotonic clock. */
double tool_now(void);

/* ---- output files: all or nothing ---- */

/* The format a file name's extension names (.npy, .safetensors, .tasd,
 * .onnx, any case), else TASD_FORMAT_UNKNOWN. */
tasd_file_format tool_format_of_name(const char *path);

/* A file a command writes: `path` (NULL when not asked for), named in
 * messages by its `option`. Each is written under a temporary name beside
 * it (`tmp`, made by tool_outputs_stage) and renamed into place only when
 * every output is complete, so an error leaves no output behind and the
 * files already at the targets untouched. */
typedef struct tool_output {
    const char *option;
    const char *path;
    char *tmp;
} tool_output;

/* Usage checks, before any work: no output is the input or another output
 * (equal names, or the same file by device and inode). False (reported). */
bool tool_outputs_distinct(const char *cmd, const char *input, const tool_output *outs, int n);
/* With `model` open: no output is one of its ONNX external data files, and
 * an ONNX --reconstruct copy (`recon`, or NULL) whose kept initializers
 * (those plans[i] skips) hold external data lands where their relative
 * locations name the same files. False (reported). */
bool tool_outputs_check_model(const char *cmd, const char *input, const tasd_tensorfile *model,
                              const tool_output *outs, int n, const tool_output *recon,
                              const tool_plan *plans);
/* Create each output's temporary file beside it, so that a directory that
 * cannot take a new file fails here, before the work. It gets the mode
 * open(path, O_CREAT, 0666) would give (or the existing target's). False
 * (reported, with the system's reason; nothing left behind). */
bool tool_outputs_stage(tool_output *outs, int n);
/* Rename every temporary into place; false (reported) if one fails. */
bool tool_outputs_commit(tool_output *outs, int n);
/* Remove the temporaries (after a failure; harmless after a commit). */
void tool_outputs_discard(tool_output *outs, int n);
/* From here on, SIGINT, SIGTERM or SIGHUP removes the staged temporaries
 * (and the library's beside them) before the tool dies by that signal. Call
 * before any thread starts. */
void tool_cleanup_on_signals(void);

/* ---- pictures (plot.c): hand-written SVG into a staged output's file ---- */

/* One bar: a tensor's name, a short label (its config) and its value. */
typedef struct tool_bar {
    const char *name, *label;
    double value;
} tool_bar;
/* A horizontal bar chart of relative errors; false (reported) on error. */
bool tool_plot_bars(const char *path, const char *title, const tool_bar *bars, int64_t n);

/* One layer's search for the Pareto picture: every candidate, the front,
 * the chosen point and the budget. */
typedef struct tool_pareto_layer {
    const char *name;
    const tasd_layer_search *search;
    int choice;       /* index into the front, or -1 for the layer's own choice */
} tool_pareto_layer;
/* One panel per layer (error against predicted cost) and a summary panel
 * of the model (each layer's chosen point, FLOP-weighted totals). */
bool tool_plot_pareto(const char *path, const char *title, const tool_pareto_layer *layers,
                      int64_t n, double budget);

/* ---- the commands ---- */

int cmd_inspect(int argc, char **argv);
int cmd_decompose(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_demo(int argc, char **argv);

#endif
