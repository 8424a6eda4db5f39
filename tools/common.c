/* What the commands of the `tasd` tool share: messages and progress, the
 * option parser, tensor selection and views, JSON output. */
#include "tool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *tool_argv0 = "tasd";
bool tool_quiet = false;
static bool progress_shown = false;
static pthread_mutex_t progress_lock = PTHREAD_MUTEX_INITIALIZER;

void tool_error(const char *fmt, ...)
{
    tool_progress_clear();
    va_list ap;
    va_start(ap, fmt);
    fputs("tasd: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

const char *tool_status(tasd_status st)
{
    static _Thread_local char buf[700];
    const char *d = tasd_last_error_message();
    snprintf(buf, sizeof buf, "%s%s%s", d && *d ? d : "", d && *d ? " (" : "",
             tasd_status_string(st));
    if (d && *d)
        strncat(buf, ")", sizeof buf - strlen(buf) - 1);
    return buf;
}

void tool_error_status(const char *where, tasd_status st)
{
    const char *d = tasd_last_error_message();
    if (d && !strncmp(d, where, strlen(where)))
        tool_error("%s", tool_status(st));
    else
        tool_error("%s: %s", where, tool_status(st));
}

void tool_progress(const char *fmt, ...)
{
    if (tool_quiet || !isatty(2))
        return;
    pthread_mutex_lock(&progress_lock);
    va_list ap;
    va_start(ap, fmt);
    fputs("\r\033[K", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
    progress_shown = true;
    pthread_mutex_unlock(&progress_lock);
}

void tool_progress_clear(void)
{
    pthread_mutex_lock(&progress_lock);
    if (progress_shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        progress_shown = false;
    }
    pthread_mutex_unlock(&progress_lock);
}

bool tool_name_matches(const char *name, const char *patterns)
{
    if (!patterns || !*patterns)
        return true;
    const char *p = patterns;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char pat[512];
        if (n < sizeof pat) {
            memcpy(pat, p, n);
            pat[n] = 0;
            if (n && fnmatch(pat, name, 0) == 0)
                return true;
        }
        if (!e)
            break;
        p = e + 1;
    }
    return false;
}

bool tool_select_regex(const char *cmd, const char *option, const char *text, regex_t *re,
                       bool *has)
{
    if (*has) {
        tool_error("%s: %s given twice (combine the expressions with '|')", cmd, option);
        return false;
    }
    int e = regcomp(re, text, REG_EXTENDED | REG_NOSUB);
    if (e) {
        char msg[200];
        regerror(e, re, msg, sizeof msg);
        tool_error("%s: %s \"%s\": bad regular expression: %s", cmd, option, text, msg);
        return false;
    }
    *has = true;
    return true;
}

void tool_select_free(tool_select *s)
{
    if (s->has_only)
        regfree(&s->only);
    if (s->has_skip)
        regfree(&s->skip);
    s->has_only = s->has_skip = false;
}

/* The library knows the layout of this consumer (docs/format.md), so an
 * unknown axis means that the tensor's consumers disagree. */
static bool has_known_layout(const char *op, int32_t input, int32_t ndim)
{
    return (!strcmp(op, "MatMul") && input <= 1 && ndim == 2) ||
           (!strcmp(op, "Gemm") && input <= 1) || (!strcmp(op, "Conv") && input == 1);
}

void tool_plan_tensor(const tasd_tensorfile *m, int64_t i, const tasd_tensor_info *info,
                      const tool_select *s, tool_plan *p)
{
    memset(p, 0, sizeof *p);
    p->op = "";
    p->out_axis = -1;
    if (!tool_name_matches(info->name, s->patterns)) {
        p->skip = "not selected by --tensors";
        return;
    }
    if (s->has_only && regexec(&s->only, info->name, 0, NULL, 0) != 0) {
        p->skip = "not matched by --only";
        return;
    }
    if (s->has_skip && regexec(&s->skip, info->name, 0, NULL, 0) == 0) {
        p->skip = "matched by --skip";
        return;
    }
    if (info->dtype < 0) {
        p->skip = "dtype not f32/f16/bf16";
        return;
    }
    if (info->ndim < 2 || info->ndim > 4) {
        p->skip = info->ndim < 2 ? "rank < 2 (not a matrix)" : "rank > 4";
        return;
    }
    int64_t n = 1;
    for (int d = 0; d < info->ndim; d++)
        n = info->shape[d] && n > INT64_MAX / info->shape[d] ? INT64_MAX : n * info->shape[d];
    if (n == 0) {
        p->skip = "empty";
        return;
    }
    if (n < s->min_elements) {
        p->skip = "fewer elements than --min-elements";
        return;
    }
    if (tasd_tensorfile_format(m) != TASD_FORMAT_ONNX) {
        /* rank 3 could be a conv [out, in, k] or a stack of matrices: only
         * an ONNX consumer says which */
        if (info->ndim == 3)
            p->skip = "rank 3 outside ONNX (layout unknown)";
        p->out_axis = 0;
        return;
    }
    /* ONNX: the consumer says which axis holds the output features. */
    const char *op = "";
    int32_t input = -1, axis = -1;
    tasd_tensorfile_consumer(m, i, &op, &input, &axis);
    p->op = op ? op : "";
    p->out_axis = axis;
    if (axis == 0)
        return;
    if (axis == 1 && info->ndim == 2) {
        p->transposed = true;
        return;
    }
    if (!*p->op)
        snprintf(p->why, sizeof p->why, "no consumer in the graph (reduction axis unknown)");
    else if (axis < 0 && has_known_layout(p->op, input, info->ndim))
        snprintf(p->why, sizeof p->why,
                 "its consumers disagree on the reduction axis (the first: %s input %d)", p->op,
                 (int)input);
    else if (axis < 0)
        snprintf(p->why, sizeof p->why, "consumer %s: reduction axis unknown", p->op);
    else
        snprintf(p->why, sizeof p->why, "consumer %s: output axis %d of a rank-%d tensor",
                 p->op, (int)axis, (int)info->ndim);
    p->skip = p->why;
}

void tool_plan_matrix(const tool_plan *p, const tasd_tensor_info *info, int64_t *rows,
                      int64_t *cols)
{
    int64_t out = info->shape[p->transposed ? 1 : 0], n = 1;
    for (int d = 0; d < info->ndim; d++)
        n *= info->shape[d];
    *rows = out;
    *cols = out ? n / out : 0;
}

const char *tool_layer_name(const char *file, const char *name, char *buf, size_t size)
{
    if (*name)
        return name;
    const char *b = strrchr(file, '/');
    b = b ? b + 1 : file;
    size_t bl = strlen(b);
    if (bl > 4 && !strcmp(b + bl - 4, ".npy"))
        bl -= 4;
    snprintf(buf, size, "%.*s", (int)(bl < size - 1 ? bl : size - 1), b);
    return buf;
}

tasd_status tool_tensor_view(const tasd_tensorfile *m, int64_t i, bool want_f32,
                             bool transposed, tasd_view *v, float **owned)
{
    *owned = NULL;
    tasd_status st = tasd_tensorfile_view(m, i, v);
    if (st != TASD_ERR_UNSUPPORTED && (st || !want_f32 || v->dtype == TASD_F32)) {
        if (!st && transposed)
            *v = tasd_view_transpose(*v);
        return st;
    }
    /* Misaligned data, or f32 wanted: the library converts a copy. */
    tasd_tensor_info info = {.size = sizeof info};
    st = tasd_tensorfile_info(m, i, &info);
    if (st)
        return st;
    int64_t n = 1;
    for (int d = 0; d < info.ndim; d++)
        n *= info.shape[d];
    float *buf = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!buf)
        return TASD_ERR_OUT_OF_MEMORY;
    st = tasd_tensorfile_read_f32(m, i, buf, n);
    if (st) {
        free(buf);
        return st;
    }
    memset(v, 0, sizeof *v);
    v->data = buf;
    v->dtype = TASD_F32;
    v->ndim = info.ndim ? info.ndim : 1;
    v->shape[0] = 1;
    v->strides[0] = 1;
    int64_t stride = 1;
    for (int d = info.ndim - 1; d >= 0; d--) {
        v->shape[d] = info.shape[d];
        v->strides[d] = stride;
        stride *= info.shape[d] ? info.shape[d] : 1;
    }
    if (transposed)
        *v = tasd_view_transpose(*v);
    *owned = buf;
    return TASD_OK;
}


int tool_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
                const struct option *longopts)
{
    /* A leading ':' makes getopt tell a missing argument (':') from an
     * unknown option ('?'); its own messages are off. */
    char spec[64];
    snprintf(spec, sizeof spec, ":%s", shortopts);
    opterr = 0;
    int prev = optind;
    int c = getopt_long(argc, argv, spec, longopts, NULL);
    if (c != '?' && c != ':')
        return c;
    /* The offending word: the option itself for a long one, else its letter. */
    const char *word = optind > prev && optind <= argc ? argv[optind - 1] : "";
    bool is_long = word[0] == '-' && word[1] == '-';
    char text[128];
    if (is_long)
        snprintf(text, sizeof text, "%.*s", (int)strcspn(word, "="), word);
    else
        snprintf(text, sizeof text, "-%c", optopt);
    if (c == ':')
        tool_error("%s: option %s needs an argument (see `tasd %s --help`)", cmd, text, cmd);
    else
        tool_error("%s: unknown option %s (see `tasd %s --help`)", cmd, text, cmd);
    return '?';
}

bool tool_parse_i64(const char *cmd, const char *option, const char *text, int64_t min,
                    int64_t max, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max) {
        tool_error("%s: %s wants an integer in %lld..%lld, got \"%s\"", cmd, option,
                   (long long)min, (long long)max, text);
        return false;
    }
    *out = v;
    return true;
}

bool tool_parse_double(const char *cmd, const char *option, const char *text, double min,
                       double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= min && v <= max)) {
        tool_error("%s: %s wants a number in %g..%g, got \"%s\"", cmd, option, min, max, text);
        return false;
    }
    *out = v;
    return true;
}

bool tool_parse_threads(const char *cmd, const char *text, int *out)
{
    int64_t v;
    if (!tool_parse_i64(cmd, "--threads", text, 0, 1024, &v))
        return false;
    *out = (int)v;
    return true;
}

bool tool_common_option(const char *cmd, int c, const char *arg, tool_common_opts *o, bool *ok)
{
    tool_select *sel = &o->sel;
    switch (c) {
    case 'q':
        tool_quiet = true;
        return true;
    case TOOL_OPT_JSON:
        o->json = true;
        return true;
    case TOOL_OPT_THREADS:
        *ok = tool_parse_threads(cmd, arg, &o->threads);
        return true;
    case TOOL_OPT_TENSORS:
        sel->patterns = arg;
        return true;
    case TOOL_OPT_MIN_ELEMENTS:
        *ok = tool_parse_i64(cmd, "--min-elements", arg, 0, INT64_MAX, &sel->min_elements);
        return true;
    case TOOL_OPT_ONLY:
        *ok = tool_select_regex(cmd, "--only", arg, &sel->only, &sel->has_only);
        return true;
    case TOOL_OPT_SKIP:
        *ok = tool_select_regex(cmd, "--skip", arg, &sel->skip, &sel->has_skip);
        return true;
    default:
        return false;
    }
}

int tool_run_command(int (*command_main)(int argc, char **argv, tool_common_opts *o), int argc,
                     char **argv)
{
    tool_common_opts o = {0};
    int rc = command_main(argc, argv, &o);
    tool_select_free(&o.sel);
    return rc;
}

bool tool_open_model(const char *cmd, const char *path, tasd_tensorfile **out)
{
    tasd_file_format format = TASD_FORMAT_UNKNOWN;
    tasd_status st = tasd_file_format_detect(path, &format);
    if (!st && format == TASD_FORMAT_TASD) {
        tool_error("%s: %s is a .tasd archive, an output of `tasd decompose`, not a model: "
                   "read it with `tasd inspect`", cmd, path);
        return false;
    }
    if (!st)
        st = tasd_tensorfile_open(NULL, path, out);
    if (st)
        tool_error("%s", tool_status(st));
    return !st;
}

int tool_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n > 64 ? 64 : n) : 1;
}

double tool_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void tool_shape_text(char *buf, size_t size, int ndim, const int64_t *shape)
{
    size_t n = 0;
    n += (size_t)snprintf(buf + n, size - n, "[");
    for (int d = 0; d < ndim && n < size; d++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (n < size)
        snprintf(buf + n, size - n, "]");
}

void tool_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

void tool_json_shape(FILE *f, int ndim, const int64_t *shape)
{
    fputc('[', f);
    for (int d = 0; d < ndim; d++)
        fprintf(f, "%s%lld", d ? "," : "", (long long)shape[d]);
    fputc(']', f);
}

void tool_json_number(FILE *f, double x)
{
    if (isfinite(x))
        fprintf(f, "%.9g", x);
    else
        fputs("null", f);
}

void tool_json_skipped(const char *name, const tasd_tensor_info *info, const char *reason)
{
    fputs("{\"skipped\":true,\"name\":", stdout);
    tool_json_string(stdout, name);
    fputs(",\"shape\":", stdout);
    tool_json_shape(stdout, info->ndim, info->shape);
    fputs(",\"dtype\":", stdout);
    tool_json_string(stdout, info->dtype_name);
    fputs(",\"reason\":", stdout);
    tool_json_string(stdout, reason);
    fputs("}\n", stdout);
}

/* ---- output files ---- */

tasd_file_format tool_format_of_name(const char *path)
{
    static const struct { const char *ext; tasd_file_format format; } known[] = {
        {".npy", TASD_FORMAT_NPY}, {".safetensors", TASD_FORMAT_SAFETENSORS},
        {".tasd", TASD_FORMAT_TASD}, {".onnx", TASD_FORMAT_ONNX}};
    size_t len = strlen(path);
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
        size_t el = strlen(known[k].ext);
        if (len > el && !strcasecmp(path + len - el, known[k].ext))
            return known[k].format;
    }
    return TASD_FORMAT_UNKNOWN;
}

/* The directory part of path ("." when it has none) into buf. */
static void dir_of(const char *path, char *buf, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(buf, size, ".");
    else
        snprintf(buf, size, "%.*s", slash == path ? 1 : (int)(slash - path), path);
}

/* a and b name the same file: equal names, the same existing file, or the
 * same name in the same directory (a file not written yet). */
static bool same_file(const char *a, const char *b)
{
    if (!strcmp(a, b))
        return true;
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    const char *ba = strrchr(a, '/'), *bb = strrchr(b, '/');
    if (strcmp(ba ? ba + 1 : a, bb ? bb + 1 : b) != 0)
        return false;
    char da[4096], db[4096];
    dir_of(a, da, sizeof da);
    dir_of(b, db, sizeof db);
    return stat(da, &sa) == 0 && stat(db, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

bool tool_outputs_distinct(const char *cmd, const char *input, const tool_output *outs, int n)
{
    for (int k = 0; k < n; k++) {
        if (!outs[k].path)
            continue;
        if (same_file(outs[k].path, input)) {
            tool_error("%s: %s %s is the input file: it would be overwritten", cmd,
                       outs[k].option, outs[k].path);
            return false;
        }
        for (int j = 0; j < k; j++)
            if (outs[j].path && same_file(outs[k].path, outs[j].path)) {
                tool_error("%s: %s and %s name the same file %s", cmd, outs[j].option,
                           outs[k].option, outs[k].path);
                return false;
            }
    }
    return true;
}

bool tool_outputs_check_model(const char *cmd, const char *input, const tasd_tensorfile *model,
                              const tool_output *outs, int n, const tool_output *recon,
                              const tool_plan *plans)
{
    char in_dir[4096], out_dir[4096], data[8300], moved[8300];
    dir_of(input, in_dir, sizeof in_dir);
    if (recon && recon->path)
        dir_of(recon->path, out_dir, sizeof out_dir);
    for (int64_t i = 0; i < tasd_tensorfile_count(model); i++) {
        const char *loc = "";
        tasd_tensorfile_data_file(model, i, &loc);
        if (!*loc)
            continue;
        snprintf(data, sizeof data, "%s/%s", in_dir, loc);
        for (int k = 0; k < n; k++)
            if (outs[k].path && same_file(outs[k].path, data)) {
                tool_error("%s: %s %s is the external data file of %s: it would be "
                           "overwritten",
                           cmd, outs[k].option, outs[k].path, input);
                return false;
            }
        if (!recon || !recon->path || !plans[i].skip)
            continue;
        /* The copy refers to the kept tensor's data by the same relative
         * location (docs/format.md): found missing there before the work;
         * whether a file there holds the same bytes, the library checks
         * when it writes the copy. */
        snprintf(moved, sizeof moved, "%s/%s", out_dir, loc);
        struct stat sb;
        if (stat(moved, &sb) != 0) {
            tool_error("%s: %s %s: the rewritten model refers to the external data of "
                       "tensors it keeps by a path relative to its own directory (\"%s\"), "
                       "and there is no %s; write it beside %s, or put a link to %s at %s",
                       cmd, recon->option, recon->path, loc, moved, input, data, moved);
            return false;
        }
    }
    return true;
}

/* The outputs staged now (one set per run), for the signal thread below;
 * staging, committing and discarding hold the lock. */
static pthread_mutex_t staged_lock = PTHREAD_MUTEX_INITIALIZER;
static tool_output *staged;
static int nstaged;

static void discard_locked(tool_output *outs, int n)
{
    for (int k = 0; k < n; k++) {
        if (outs[k].tmp && outs[k].tmp[0])
            unlink(outs[k].tmp);
        free(outs[k].tmp);
        outs[k].tmp = NULL;
    }
    if (staged == outs)
        staged = NULL, nstaged = 0;
}

static bool stage_locked(tool_output *outs, int n)
{
    static unsigned counter;
    for (int k = 0; k < n; k++) {
        if (!outs[k].path)
            continue;
        size_t len = strlen(outs[k].path);
        outs[k].tmp = malloc(len + 16);
        if (!outs[k].tmp) {
            tool_error("out of memory");
            discard_locked(outs, n);
            return false;
        }
        /* Not mkstemp (mode 0600): O_EXCL with mode 0666, which the kernel
         * narrows by the umask, as for any new file; a clash tries again. */
        struct stat target;
        bool keep_mode = stat(outs[k].path, &target) == 0 && S_ISREG(target.st_mode);
        int fd = -1, attempt = 0;
        do {
            unsigned r = (unsigned)getpid() * 2654435761u + counter++ * 40503u +
                         (unsigned)(tool_now() * 1e9);
            snprintf(outs[k].tmp, len + 16, "%s.tmp.%06x", outs[k].path, r & 0xffffff);
            fd = open(outs[k].tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
        } while (fd < 0 && errno == EEXIST && ++attempt < 100);
        int err = errno;
        if (fd >= 0 && keep_mode && fchmod(fd, target.st_mode & 07777) != 0)
            err = errno;
        else if (fd >= 0)
            err = 0;
        if (fd >= 0)
            close(fd);
        if (err) {
            tool_error("%s %s: cannot create a file there: %s", outs[k].option, outs[k].path,
                       strerror(err));
            if (fd < 0)
                outs[k].tmp[0] = 0;
            discard_locked(outs, n);
            return false;
        }
    }
    return true;
}

bool tool_outputs_stage(tool_output *outs, int n)
{
    pthread_mutex_lock(&staged_lock);
    staged = outs;
    nstaged = n;
    bool ok = stage_locked(outs, n);
    pthread_mutex_unlock(&staged_lock);
    return ok;
}

bool tool_outputs_commit(tool_output *outs, int n)
{
    bool ok = true;
    pthread_mutex_lock(&staged_lock);
    for (int k = 0; k < n && ok; k++) {
        if (!outs[k].tmp || !outs[k].tmp[0])
            continue;
        if (rename(outs[k].tmp, outs[k].path) != 0) {
            tool_error("%s %s: cannot rename %s into place: %s", outs[k].option, outs[k].path,
                       outs[k].tmp, strerror(errno));
            ok = false;
        } else {
            outs[k].tmp[0] = 0;
        }
    }
    discard_locked(outs, n);
    pthread_mutex_unlock(&staged_lock);
    return ok;
}

void tool_outputs_discard(tool_output *outs, int n)
{
    pthread_mutex_lock(&staged_lock);
    discard_locked(outs, n);
    pthread_mutex_unlock(&staged_lock);
}

/* ---- interrupted runs leave no temporaries ----
 * SIGINT, SIGTERM and SIGHUP (those not ignored) are blocked in every thread,
 * the library's and OpenMP's included (they inherit the mask), and taken by
 * one thread with sigwait: unlike a handler it may scan a directory. It
 * removes each staged temporary and the library's own temporaries beside
 * it (TMP.tmp.XXXXXX: a library writer given TMP writes there first), then
 * dies by the same signal, still holding the lock, so a commit in progress
 * finishes first and none starts after. */
static sigset_t cleanup_signals;

static void remove_temporaries(const char *tmp)
{
    char dir[4096];
    dir_of(tmp, dir, sizeof dir);
    const char *base = strrchr(tmp, '/');
    base = base ? base + 1 : tmp;
    size_t len = strlen(base);
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strncmp(e->d_name, base, len) != 0 || strncmp(e->d_name + len, ".tmp.", 5) != 0)
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    unlink(tmp);
}

static void *cleanup_thread(void *arg)
{
    (void)arg;
    int sig;
    while (sigwait(&cleanup_signals, &sig) != 0)
        ;
    pthread_mutex_lock(&staged_lock);
    for (int k = 0; k < nstaged; k++)
        if (staged[k].tmp && staged[k].tmp[0])
            remove_temporaries(staged[k].tmp);
    signal(sig, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    raise(sig);
    _exit(128 + sig); /* not reached */
}

void tool_cleanup_on_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    sigemptyset(&cleanup_signals);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN) /* nohup's */
            sigaddset(&cleanup_signals, sigs[i]);
    }
    pthread_t t;
    if (pthread_sigmask(SIG_BLOCK, &cleanup_signals, NULL) != 0)
        return;
    if (pthread_create(&t, NULL, cleanup_thread, NULL) != 0) {
        pthread_sigmask(SIG_UNBLOCK, &cleanup_signals, NULL);
        return;
    }
    pthread_detach(t);
}
