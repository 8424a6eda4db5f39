/* End-to-end tests of the `tasd` command-line tool: runs build/bin/tasd (found
 * beside this test program: ../bin/tasd) and checks its output, its exit
 * status and the files it writes. Run from the source tree (test/data/). */
#include "harness.h"
#include "tasd.h"
#include "support/util.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char tool[PATH_MAX];
static char start_dir[PATH_MAX]; /* the source tree: test/data/ is relative to it */
static char tmpdir[256];
static char out_text[1 << 16], err_text[1 << 16];

static const char *tp(const char *name)
{
    static char buf[32][512];
    static int k;
    k = (k + 1) % 32;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void slurp(const char *path, char *dst, size_t cap)
{
    dst[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    size_t n = fread(dst, 1, cap - 1, f);
    dst[n] = 0;
    fclose(f);
}

/* Where a spawned tool's stdout and stderr go (600 bytes each). */
static void output_files(char *so, char *se)
{
    snprintf(so, 600, "%s/stdout.txt", tmpdir);
    snprintf(se, 600, "%s/stderr.txt", tmpdir);
}

/* Start the tool with args, its stdout and stderr into files of tmpdir. */
static pid_t spawn(const char *const *args)
{
    const char *const *a = args;
    int n = 0;
    while (a[n])
        n++;
    /* TASD_TOOL_RUNNER (e.g. "qemu-aarch64 -L /usr/aarch64-linux-gnu") runs a
     * cross-built tool. */
    char *runner[8];
    int nr = 0;
    static char runner_buf[512];
    const char *env = getenv("TASD_TOOL_RUNNER");
    if (env && *env) {
        snprintf(runner_buf, sizeof runner_buf, "%s", env);
        for (char *tok = strtok(runner_buf, " "); tok && nr < 8; tok = strtok(NULL, " "))
            runner[nr++] = tok;
    }
    char **av = calloc((size_t)(n + nr) + 2, sizeof *av);
    for (int i = 0; i < nr; i++)
        av[i] = runner[i];
    av[nr] = tool;
    for (int i = 0; i < n; i++)
        av[nr + i + 1] = (char *)args[i];
    char so[600], se[600];
    output_files(so, se);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int fo = open(so, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(se, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fo, 1);
        dup2(fe, 2);
        /* the signals test_interrupted sends: a background job's SIGINT, or
         * nohup's SIGHUP, would be ignored (and stay so in the tool) */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        /* execvp would run a file it cannot execute through /bin/sh: use it
         * only to find the runner. */
        if (nr)
            execvp(av[0], av);
        else
            execv(av[0], av);
        _exit(126);
    }
    free(av);
    return pid;
}

/* Wait for a spawned tool; its output into out_text and err_text. Its exit
 * status, or 128 + the signal that ended it. */
static int finish(pid_t pid)
{
    char so[600], se[600];
    output_files(so, se);
    int status = 0;
    waitpid(pid, &status, 0);
    slurp(so, out_text, sizeof out_text);
    slurp(se, err_text, sizeof err_text);
    unlink(so);
    unlink(se);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Run the tool with args (NULL-terminated); returns the exit status (or
 * 128+signal). stdout/stderr land in out_text/err_text. */
static int run(const char *const *args) { return finish(spawn(args)); }

#define RUN_TOOL(...) run((const char *const[]){__VA_ARGS__, NULL})

static int leftovers(void) /* temp files in tmpdir */
{
    DIR *d = opendir(tmpdir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp."))
            n++;
    if (d)
        closedir(d);
    return n;
}

static bool exists(const char *p) { return access(p, F_OK) == 0; }

static int count_lines(const char *s, const char *prefix)
{
    int n = 0;
    size_t pl = strlen(prefix);
    for (const char *p = s; *p;) {
        if (!strncmp(p, prefix, pl))
            n++;
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return n;
}

static void test_help(void)
{
    static const char *cmds[] = {"inspect", "decompose", "search", "bench", "demo"};
    CHECK(RUN_TOOL("--help") == 0 && strstr(out_text, "usage: tasd"));
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++) {
        int rc = RUN_TOOL(cmds[k], "--help");
        CHECKF(rc == 0 && strstr(out_text, "usage: tasd ") && strstr(out_text, cmds[k]),
               "%s --help: rc %d", cmds[k], rc);
        rc = RUN_TOOL("help", cmds[k]);
        CHECK(rc == 0 && strstr(out_text, cmds[k]));
    }
    CHECK(RUN_TOOL("version") == 0 && strstr(out_text, tasd_version()));
    CHECK(run((const char *const[]){NULL}) == 2);
    CHECK(RUN_TOOL("frobnicate") == 2 && strstr(err_text, "unknown command"));
    CHECK(RUN_TOOL("inspect") == 2);
    CHECK(RUN_TOOL("inspect", "--bogus", "x") == 2);
    CHECK(RUN_TOOL("decompose", "test/data/tiny.safetensors") == 2 && strstr(err_text, "--config"));
    CHECK(RUN_TOOL("decompose", "test/data/tiny.safetensors", "--config", "3:5") == 2 &&
          strstr(err_text, "3:5"));
    CHECK(RUN_TOOL("decompose", "test/data/tiny.safetensors", "--config", "2:4", "--method",
                   "best") == 2);
    CHECK(RUN_TOOL("decompose", "test/data/tiny.safetensors", "--config") == 2);
    CHECK(RUN_TOOL("decompose", "test/data/tiny.safetensors", "--config", "2:4", "--values",
                   "f64") == 2 && strstr(err_text, "--values"));
    CHECK(RUN_TOOL("search", "test/data/tiny.safetensors", "--target", "gpu", "--budget", "0.1",
                   "-o", tp("x.cfg")) == 2);
    CHECK(RUN_TOOL("search", "test/data/tiny.safetensors", "--target", "cpu", "--budget", "-1",
                   "-o", tp("x.cfg")) == 2);
    CHECK(!exists(tp("x.cfg")));
}

static void test_inspect(void)
{
    int rc = RUN_TOOL("inspect", "test/data/tiny.safetensors", "test/data/tiny_f32.npy",
                      "test/data/tiny_f16_v2.npy", "test/data/tiny_conv_v3.npy");
    CHECKF(rc == 0, "rc %d: %s", rc, err_text);
    CHECK(strstr(out_text, "tiny.safetensors: safetensors, 5 tensors"));
    CHECK(strstr(out_text, "layer.0.weight") && strstr(out_text, "[8, 16]"));
    CHECK(strstr(out_text, "conv.weight") && strstr(out_text, "[4, 2, 2, 2]"));
    CHECK(strstr(out_text, "BF16") && strstr(out_text, "I64"));
    CHECK(strstr(out_text, "<f2") && strstr(out_text, "[2, 3, 2, 2]"));
    /* tiny_f32.npy: 2 zeros of 48 (every 17th value), rms of the golden values */
    CHECK(strstr(out_text, "0.0417"));
    /* One bad file among good ones: exit 1, message names it, the rest still listed. */
    FILE *f = fopen(tp("trunc.safetensors"), "wb");
    fwrite("\x40\0\0\0\0\0\0\0{\"a\":", 1, 13, f);
    fclose(f);
    rc = RUN_TOOL("inspect", tp("trunc.safetensors"), "test/data/tiny_f32.npy");
    CHECK(rc == 1 && strstr(err_text, "trunc.safetensors") && strstr(out_text, "tiny_f32.npy"));
    /* a series' value type is listed */
    rc = RUN_TOOL("decompose", "test/data/tiny_f32.npy", "--config", "2:4", "--values", "bf16",
                  "-o", tp("v.tasd"), "--quiet");
    CHECK(rc == 0 && strstr(out_text, "values bf16"));
    rc = RUN_TOOL("inspect", tp("v.tasd"), "test/data/tiny_f32_2x4.tasd");
    CHECK(rc == 0 && strstr(out_text, " bf16 ") && strstr(out_text, " f32 "));
    CHECK(RUN_TOOL("inspect", tp("missing.npy")) == 1 && strstr(err_text, "missing.npy"));
}

static void test_decompose(void)
{
    const char *otasd = tp("out.tasd"), *orec = tp("rec.safetensors");
    int rc = RUN_TOOL("decompose", "test/data/tiny.safetensors", "--config", "2:4+1:8", "-o",
                      otasd, "--reconstruct", orec, "--quiet", "--threads", "3");
    CHECKF(rc == 0, "rc %d: %s", rc, err_text);
    CHECK(strstr(out_text, "layer.0.weight") && strstr(out_text, "conv.weight") &&
          strstr(out_text, "emb.weight"));
    CHECK(strstr(out_text, "total: 3 decomposed, 2 skipped"));
    CHECK(strstr(out_text, "pos_ids") && strstr(out_text, "dtype not f32/f16/bf16"));
    CHECK(strstr(out_text, "layer.0.bias") && strstr(out_text, "rank < 2"));
    /* Output order is the file's order, whatever the thread count. */
    char *a = strstr(out_text, "  layer.0.weight"), *b = strstr(out_text, "  conv.weight"),
         *c = strstr(out_text, "  emb.weight");
    CHECK(a && b && c && a < b && b < c);
    CHECK(leftovers() == 0);

    /* The archive holds the same series as an in-process decomposition. */
    tasd_archive *ar = NULL;
    tasd_tensorfile *m = NULL, *r = NULL;
    CHECK_OK(tasd_archive_open(NULL, otasd, &ar));
    CHECK_OK(tasd_tensorfile_open(NULL, "test/data/tiny.safetensors", &m));
    CHECK_OK(tasd_tensorfile_open(NULL, orec, &r));
    if (!ar || !m || !r)
        goto out;
    CHECK(tasd_archive_count(ar) == 3);
    tasd_config *cfg = NULL;
    tasd_config_parse(NULL, "2:4+1:8", &cfg);
    const char *names[] = {"layer.0.weight", "conv.weight", "emb.weight"};
    for (int k = 0; k < 3; k++) {
        int64_t ai, mi, ri;
        CHECK_OK(tasd_archive_find(ar, names[k], &ai));
        CHECK(ai == k);
        CHECK_OK(tasd_tensorfile_find(m, names[k], &mi));
        tasd_series *s1 = NULL, *s2 = NULL;
        CHECK_OK(tasd_archive_load(ar, ai, &s1));
        tasd_view v;
        CHECK_OK(tasd_tensorfile_view(m, mi, &v));
        CHECK_OK(tasd_decompose(NULL, &v, cfg, TASD_GREEDY, &s2));
        if (!s1 || !s2)
            continue;
        int64_t rows, cols;
        tasd_series_shape(s1, &rows, &cols);
        float *d1 = malloc((size_t)(rows * cols) * 4), *d2 = malloc((size_t)(rows * cols) * 4),
              *d3 = malloc((size_t)(rows * cols) * 4);
        tasd_view v1 = tasd_view_2d(d1, TASD_F32, rows, cols, cols);
        tasd_view v2 = tasd_view_2d(d2, TASD_F32, rows, cols, cols);
        CHECK_OK(tasd_series_reconstruct(s1, &v1));
        CHECK_OK(tasd_series_reconstruct(s2, &v2));
        CHECK(memcmp(d1, d2, (size_t)(rows * cols) * 4) == 0);
        tasd_stats st1 = {.size = sizeof st1};
        tasd_stats st2 = {.size = sizeof st2};
        tasd_series_stats(s1, &st1);
        tasd_series_stats(s2, &st2);
        CHECK(st1.rel_error == st2.rel_error);
        /* --reconstruct wrote the same approximation, in the tensor's dtype. */
        tasd_tensor_info in = {.size = sizeof in};
        tasd_tensor_info rn = {.size = sizeof rn};
        CHECK_OK(tasd_tensorfile_find(r, names[k], &ri));
        tasd_tensorfile_info(m, mi, &in);
        tasd_tensorfile_info(r, ri, &rn);
        CHECK(!strcmp(in.dtype_name, rn.dtype_name) && in.ndim == rn.ndim &&
              !memcmp(in.shape, rn.shape, sizeof in.shape));
        CHECK_OK(tasd_tensorfile_read_f32(r, ri, d3, rows * cols));
        /* the golden values are exact in every dtype, and so are their sums here */
        CHECK(memcmp(d1, d3, (size_t)(rows * cols) * 4) == 0);
        free(d1);
        free(d2);
        free(d3);
        tasd_series_destroy(s1);
        tasd_series_destroy(s2);
    }
    tasd_config_destroy(cfg);
    /* Tensors not decomposed are copied byte for byte. */
    const char *copied[] = {"layer.0.bias", "pos_ids"};
    for (int k = 0; k < 2; k++) {
        int64_t mi, ri;
        const void *p1, *p2;
        uint64_t n1, n2;
        CHECK_OK(tasd_tensorfile_find(m, copied[k], &mi));
        CHECK_OK(tasd_tensorfile_find(r, copied[k], &ri));
        CHECK_OK(tasd_tensorfile_raw(m, mi, &p1, &n1));
        CHECK_OK(tasd_tensorfile_raw(r, ri, &p2, &n2));
        CHECK(n1 == n2 && memcmp(p1, p2, (size_t)n1) == 0);
    }
out:
    tasd_archive_close(ar);
    tasd_tensorfile_close(m);
    tasd_tensorfile_close(r);

    /* inspect reads the .tasd back */
    rc = RUN_TOOL("inspect", otasd);
    CHECK(rc == 0 && strstr(out_text, "3 series") && strstr(out_text, "2:4+1:8"));
    /* Decomposing the reconstruction again loses nothing. */
    rc = RUN_TOOL("decompose", orec, "--config", "2:4+1:8", "--json");
    CHECK(rc == 0 && count_lines(out_text, "{\"name\":") == 3);
    CHECK(strstr(out_text, "\"rel_error\":0,") && !strstr(out_text, "\"rel_error\":0.0"));

    /* --json keys; --tensors and --min-elements select */
    rc = RUN_TOOL("decompose", "test/data/tiny.safetensors", "--config", "2:4", "--json",
                  "--tensors", "*.weight", "--min-elements", "64", "--method", "optimal");
    CHECK(rc == 0 && count_lines(out_text, "{\"name\":") == 1);
    CHECK(count_lines(out_text, "{\"total\":true,\"decomposed\":1,\"skipped\":4,") == 1);
    static const char *keys[] = {"\"name\":\"layer.0.weight\"", "\"shape\":[8,16]",
                                 "\"config\":\"2:4\"", "\"method\":\"optimal\"",
                                 "\"density\":0.5", "\"retained_energy\":", "\"rel_error\":",
                                 "\"coverage\":"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        CHECKF(strstr(out_text, keys[k]), "missing %s in %s", keys[k], out_text);
    CHECK(strstr(err_text, "conv.weight") && strstr(err_text, "--min-elements"));

    /* .npy in, .npy out; conv rank 4 is [out, in*kh*kw] */
    rc = RUN_TOOL("decompose", "test/data/tiny_conv_v3.npy", "--config", "1:4", "--reconstruct",
                  tp("conv.npy"), "-o", tp("conv.tasd"));
    CHECK(rc == 0 && strstr(out_text, "[2, 3, 2, 2]") && strstr(out_text, "[2, 12]"));
    tasd_series *s = NULL;
    CHECK_OK(tasd_series_load(NULL, tp("conv.tasd"), &s));
    tasd_stats st = {.size = sizeof st};
    if (s) {
        tasd_series_stats(s, &st);
        CHECK(st.kept_nonzeros <= 6);
    }
    tasd_series_destroy(s);
    m = NULL;
    CHECK_OK(tasd_tensorfile_open(NULL, tp("conv.npy"), &m));
    if (m) {
        tasd_tensor_info info = {.size = sizeof info};
        tasd_tensorfile_info(m, 0, &info);
        CHECK(info.ndim == 4 && info.shape[1] == 3 && !strcmp(info.dtype_name, "<f4"));
    }
    tasd_tensorfile_close(m);
    CHECK(leftovers() == 0);
}

static void write_st(const char *path, const char *json, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    unsigned char len[8];
    size_t hl = strlen(json);
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)(hl >> 8 * i);
    fwrite(len, 1, 8, f);
    fwrite(json, 1, hl, f);
    fwrite(data, 1, n, f);
    fclose(f);
}


/* Strip the "time_ms":... fields so runs can be compared. */
static void strip_times(char *s)
{
    char *p;
    while ((p = strstr(s, ",\"time_ms\":"))) {
        char *e = p + 11;
        while (*e && *e != '}')
            e++;
        memmove(p, e, strlen(e) + 1);
    }
}

static void test_threads_deterministic(void)
{
    static char first[1 << 16];
    int rc = RUN_TOOL("decompose", "test/data/tiny.safetensors", "--config", "2:4+1:8",
                      "--json", "--threads", "1", "-o", tp("t1.tasd"));
    CHECK(rc == 0);
    strip_times(out_text);
    snprintf(first, sizeof first, "%s", out_text);
    for (int t = 2; t <= 5; t++) {
        char ts[16], name[32];
        snprintf(ts, sizeof ts, "%d", t);
        snprintf(name, sizeof name, "t%d.tasd", t);
        rc = RUN_TOOL("decompose", "test/data/tiny.safetensors", "--config", "2:4+1:8",
                      "--json", "--threads", ts, "-o", tp(name));
        strip_times(out_text);
        CHECKF(rc == 0 && !strcmp(out_text, first), "--threads %d output differs", t);
        size_t n1, n2;
        unsigned char *a = NULL, *b = NULL;
        FILE *f1 = fopen(tp("t1.tasd"), "rb"), *f2 = fopen(tp(name), "rb");
        if (f1 && f2) {
            a = malloc(1 << 16);
            b = malloc(1 << 16);
            n1 = fread(a, 1, 1 << 16, f1);
            n2 = fread(b, 1, 1 << 16, f2);
            CHECKF(n1 == n2 && !memcmp(a, b, n1), "--threads %d archive differs", t);
        }
        if (f1)
            fclose(f1);
        if (f2)
            fclose(f2);
        free(a);
        free(b);
    }
}


/* docs/format.md is enough to write a reader: test/tasd_reader.py (plain
 * Python, written from the spec) reads the tool's .tasd and must produce the
 * same dense approximation, byte for byte, as the tool's --reconstruct. */
static void test_independent_reader(void)
{
    if (system("command -v python3 >/dev/null 2>&1") != 0) {
        fprintf(stderr, "SKIPPED test_independent_reader: python3 is not installed\n");
        return;
    }
    static const char *cfgs[] = {"2:4+1:8", "1:8+3:32", "1:2", "2:4+1:8", "1:8+3:32"};
    static const char *values[] = {"f32", "f32", "f32", "bf16", "f16"};
    for (int k = 0; k < 5; k++) {
        int rc = RUN_TOOL("decompose", "test/data/tiny_f32.npy", "--config", cfgs[k], "--method",
                          "optimal", "--values", values[k], "-o", tp("ind.tasd"),
                          "--reconstruct", tp("ind_tool.npy"));
        CHECK(rc == 0);
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "python3 test/tasd_reader.py '%s' '' '%s'", tp("ind.tasd"),
                 tp("ind_py.npy"));
        CHECKF(system(cmd) == 0, "%s", cmd);
        snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", tp("ind_tool.npy"), tp("ind_py.npy"));
        CHECKF(system(cmd) == 0, "config %s: the Python reader disagrees", cfgs[k]);
    }
}

static void test_bad_input(void)
{
    /* NaN in one tensor: exit 1, file and tensor named, no outputs left. */
    float data[2 * 8 * 2];
    for (int i = 0; i < 32; i++)
        data[i] = (float)i;
    data[21] = NAN;
    write_st(tp("nan.safetensors"),
             "{\"good\":{\"dtype\":\"F32\",\"shape\":[2,8],\"data_offsets\":[0,64]},"
             "\"bad.w\":{\"dtype\":\"F32\",\"shape\":[2,8],\"data_offsets\":[64,128]}}",
             data, sizeof data);
    int rc = RUN_TOOL("decompose", tp("nan.safetensors"), "--config", "2:4", "-o", tp("n.tasd"),
                      "--reconstruct", tp("n.safetensors"));
    CHECK(rc == 1);
    CHECK(strstr(err_text, "nan.safetensors") && strstr(err_text, "bad.w"));
    CHECK(!exists(tp("n.tasd")) && !exists(tp("n.safetensors")) && leftovers() == 0);
    /* Header offsets past the end. */
    write_st(tp("past.safetensors"),
             "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,8],\"data_offsets\":[0,64]}}", data, 32);
    rc = RUN_TOOL("decompose", tp("past.safetensors"), "--config", "2:4", "-o", tp("p.tasd"));
    CHECK(rc == 1 && strstr(err_text, "past.safetensors") && strstr(err_text, "\"w\""));
    CHECK(!exists(tp("p.tasd")));
    /* Unknown dtype */
    write_st(tp("dt.safetensors"),
             "{\"w\":{\"dtype\":\"F48\",\"shape\":[2,8],\"data_offsets\":[0,64]}}", data, 64);
    rc = RUN_TOOL("inspect", tp("dt.safetensors"));
    CHECK(rc == 1 && strstr(err_text, "F48"));
    /* A corrupted .tasd */
    rc = RUN_TOOL("decompose", "test/data/tiny_f32.npy", "--config", "2:4", "-o", tp("c.tasd"));
    CHECK(rc == 0);
    FILE *f = fopen(tp("c.tasd"), "r+b");
    if (f) {
        fseek(f, 200, SEEK_SET);
        int ch = fgetc(f);
        fseek(f, 200, SEEK_SET);
        fputc(ch ^ 0x10, f);
        fclose(f);
    }
    rc = RUN_TOOL("inspect", tp("c.tasd"));
    CHECK(rc == 1 && strstr(err_text, "c.tasd") && strstr(err_text, "checksum"));
    /* An output in a directory that does not exist */
    rc = RUN_TOOL("decompose", "test/data/tiny_f32.npy", "--config", "2:4", "-o",
                  "/nonexistent-dir/x.tasd");
    CHECK(rc == 1 && strstr(err_text, "/nonexistent-dir/x.tasd"));
    CHECK(leftovers() == 0);
}

/* Chosen configs meet their budget (weight error without calibration data),
 * use only the target's patterns, and a larger budget never costs more. */
static void test_search(void)
{
    static const char *targets[] = {"cpu", "sparse-tensor-core", "vegeta"};
    static const double budgets[] = {0.001, 0.2, 0.3, 0.45, 0.6};
    const char *cfgp = tp("layers.cfg");
    tasd_tensorfile *m = NULL;
    CHECK_OK(tasd_tensorfile_open(NULL, "test/data/tiny.safetensors", &m));
    if (!m)
        return;
    for (int t = 0; t < 3; t++) {
        tasd_target *tg = NULL;
        CHECK_OK(tasd_target_create(NULL, targets[t], &tg));
        double prev_cost[8];
        for (int k = 0; k < 8; k++)
            prev_cost[k] = 2.0;
        for (int b = 0; b < 5; b++) {
            char bs[32];
            snprintf(bs, sizeof bs, "%g", budgets[b]);
            int rc = RUN_TOOL("search", "test/data/tiny.safetensors", "--target", targets[t],
                              "--budget", bs, "-o", cfgp, "--quiet");
            CHECKF(rc == 0, "%s %s: rc %d %s", targets[t], bs, rc, err_text);
            tasd_model_config *mc = NULL;
            CHECK_OK(tasd_model_config_load(NULL, cfgp, &mc));
            if (!mc)
                continue;
            CHECK(tasd_model_config_count(mc) == 3);
            for (int64_t l = 0; l < tasd_model_config_count(mc); l++) {
                const tasd_layer_config *lc = tasd_model_config_layer(mc, l);
                const tasd_config *w = tasd_layer_config_weights(lc);
                CHECK(tasd_layer_config_activations(lc) == NULL); /* no calibration data */
                CHECK(!strcmp(tasd_layer_config_target(lc), targets[t]));
                int64_t i;
                CHECK_OK(tasd_tensorfile_find(m, tasd_layer_config_name(lc), &i));
                double cost = 1.0;
                if (w) {
                    CHECKF(tasd_target_supports(tg, w), "%s chose a config it cannot run",
                           targets[t]);
                    tasd_view v;
                    tasd_series *s = NULL;
                    CHECK_OK(tasd_tensorfile_view(m, i, &v));
                    CHECK_OK(tasd_decompose(NULL, &v, w, tasd_layer_config_method(lc), &s));
                    tasd_stats st = {.size = sizeof st};
                    if (s && tasd_series_stats(s, &st) == TASD_OK)
                        CHECKF(st.rel_error <= budgets[b] + 1e-9, "%s %s: error %g > budget",
                               targets[t], bs, st.rel_error);
                    tasd_series_destroy(s);
                    CHECK_OK(tasd_target_cost(tg, w, NULL, 8, &cost));
                }
                CHECKF(cost <= prev_cost[l] + 1e-12, "%s: budget %s costs more than a smaller one",
                       targets[t], bs);
                prev_cost[l] = cost;
            }
            tasd_model_config_destroy(mc);
        }
        tasd_target_destroy(tg);
    }
    /* 2:4 keeps ~0.40 relative error on these tensors: at 0.45 the sparse
     * tensor core target takes it. */
    int rc = RUN_TOOL("search", "test/data/tiny.safetensors", "--target", "sparse-tensor-core",
                      "--budget", "0.45", "-o", cfgp, "--quiet");
    char text[4096];
    slurp(cfgp, text, sizeof text);
    CHECK(rc == 0 && strstr(text, "layer.0.weight W=2:4 A=none method=greedy target=sparse-tensor-core\n"));
    /* Costs timed at the model's token count: measured once (one message),
     * the spec kept in every line; a bad count is a usage error. */
    rc = RUN_TOOL("search", "test/data/tiny.safetensors", "--target", "cpu-measured@16",
                  "--budget", "0.45", "-o", cfgp);
    slurp(cfgp, text, sizeof text);
    CHECKF(rc == 0 && strstr(text, "layer.0.weight W=") &&
               strstr(text, " target=cpu-measured@16\n"), "rc %d: %s", rc, err_text);
    const char *msg = strstr(err_text, "measured the cpu target");
    CHECKF(msg && !strstr(msg + 1, "measured the cpu target"), "%s", err_text);
    CHECK(RUN_TOOL("search", "test/data/tiny.safetensors", "--target", "cpu-measured@0",
                   "--budget", "0.45", "-o", tp("x.cfg")) == 2 &&
          strstr(err_text, "cpu-measured@TOKENS") && !strstr(err_text, "measured the") &&
          !exists(tp("x.cfg")));
    /* A spec that only starts like cpu-measured is no measurement. */
    CHECK(RUN_TOOL("search", "test/data/tiny.safetensors", "--target", "cpu-measuredX",
                   "--budget", "0.45", "-o", tp("x.cfg")) == 2 &&
          !strstr(err_text, "measured the") && !exists(tp("x.cfg")));
    /* One budget for the model: FLOP-weighted mean error within it. */
    rc = RUN_TOOL("search", "test/data/tiny.safetensors", "--target", "cpu", "--budget", "0.2",
                  "--share", "--layer-cap", "0.5", "-o", cfgp);
    CHECKF(rc == 0 && strstr(out_text, "model: predicted cost"), "%s", err_text);
    CHECK(strstr(out_text, "layer.0.weight") && !strstr(err_text, "model: predicted cost"));
    tasd_model_config *mc = NULL;
    CHECK_OK(tasd_model_config_load(NULL, cfgp, &mc));
    if (mc) {
        double werr = 0, wsum = 0;
        for (int64_t l = 0; l < tasd_model_config_count(mc); l++) {
            const tasd_layer_config *lc = tasd_model_config_layer(mc, l);
            int64_t i;
            tasd_tensor_info info = {.size = sizeof info};
            CHECK_OK(tasd_tensorfile_find(m, tasd_layer_config_name(lc), &i));
            tasd_tensorfile_info(m, i, &info);
            double flops = (double)(info.nbytes / (info.dtype == TASD_F32 ? 4 : 2)), err = 0;
            if (tasd_layer_config_weights(lc)) {
                tasd_view v;
                tasd_series *s = NULL;
                CHECK_OK(tasd_tensorfile_view(m, i, &v));
                CHECK_OK(tasd_decompose(NULL, &v, tasd_layer_config_weights(lc), TASD_GREEDY, &s));
                tasd_stats st = {.size = sizeof st};
                if (s && tasd_series_stats(s, &st) == TASD_OK)
                    err = st.rel_error;
                tasd_series_destroy(s);
            }
            CHECK(err <= 0.5 + 1e-9);
            werr += flops * err;
            wsum += flops;
        }
        CHECKF(werr / wsum <= 0.2 + 1e-9, "shared error %g", werr / wsum);
        tasd_model_config_destroy(mc);
    }
    /* Calibration data: a .npy [tokens, 8] serves the tensors with in = 8. */
    {
        float x[6 * 8];
        for (int i = 0; i < 48; i++)
            x[i] = (i % 3) ? (float)((i * 7) % 11) / 4.0f : 0.0f;
        tasd_tensor_info ti = {.size = sizeof ti};
        ti.dtype_name = "<f4";
        ti.ndim = 2;
        ti.shape[0] = 6;
        ti.shape[1] = 8;
        tasd_writer *w = NULL;
        CHECK_OK(tasd_writer_create(NULL, tp("calib.npy"), TASD_FORMAT_NPY, 1, &ti, &w));
        tasd_view xv = tasd_view_2d(x, TASD_F32, 6, 8, 8);
        CHECK_OK(tasd_writer_put(w, 0, &xv));
        CHECK_OK(tasd_writer_finish(w));
        rc = RUN_TOOL("search", "test/data/tiny.safetensors", "--target", "cpu", "--budget",
                      "0.3", "--calib", tp("calib.npy"), "-o", cfgp);
        CHECKF(rc == 0, "%s", err_text);
        CHECK(strstr(err_text, "output error on calibration data"));
        CHECK(strstr(err_text, "layer.0.weight") && strstr(err_text, "no calibration tensor"));
        CHECK_OK(tasd_model_config_load(NULL, cfgp, &mc));
        CHECK(mc && tasd_model_config_count(mc) == 3);
        tasd_model_config_destroy(mc);
        /* Layers with and without calibration data weigh by their multiply-adds
         * per token (out * in: 128, 32, 32), not by how many rows calib holds. */
        rc = RUN_TOOL("search", "test/data/tiny.safetensors", "--target", "cpu", "--budget",
                      "0.3", "--calib", tp("calib.npy"), "-o", cfgp, "--json", "--quiet");
        const char *names[3] = {"layer.0.weight", "conv.weight", "emb.weight"};
        const double macs[3] = {8 * 16, 4 * 8, 4 * 8};
        double cost = 0, err = 0, tcost = -1, terr = -1;
        for (int l = 0; l < 3; l++) {
            char want[64];
            snprintf(want, sizeof want, "{\"name\":\"%s\",", names[l]);
            const char *line = strstr(out_text, want), *c = NULL, *e = NULL;
            CHECK(line && (c = strstr(line, "\"cost\":")) && (e = strstr(line, "\"error\":")));
            if (line && c && e) {
                cost += macs[l] / 192 * strtod(c + 7, NULL);
                err += macs[l] / 192 * strtod(e + 8, NULL);
            }
        }
        const char *tot = strstr(out_text, "{\"total\":true");
        if (tot && strstr(tot, "\"cost\":") && strstr(tot, "\"error\":")) {
            tcost = strtod(strstr(tot, "\"cost\":") + 7, NULL);
            terr = strtod(strstr(tot, "\"error\":") + 8, NULL);
        }
        CHECKF(rc == 0 && fabs(tcost - cost) < 1e-6 && fabs(terr - err) < 1e-6,
               "model cost %g error %g, want %g %g", tcost, terr, cost, err);
        rc = RUN_TOOL("search", "test/data/tiny.safetensors", "--target", "cpu", "--budget",
                      "0.3", "--calib", tp("missing.npy"), "-o", cfgp);
        CHECK(rc == 1 && strstr(err_text, "missing.npy"));
    }
    /* An unknown target is a usage error; a .npy tensor is named after its file. */
    CHECK(RUN_TOOL("search", "test/data/tiny.safetensors", "--target", "gpu", "--budget", "0.1",
                   "-o", cfgp) == 2);
    rc = RUN_TOOL("search", "test/data/tiny_f32.npy", "--target", "cpu", "--budget", "0.5", "-o",
                  cfgp, "--quiet");
    slurp(cfgp, text, sizeof text);
    CHECK(rc == 0 && strstr(text, "\ntiny_f32 W="));
    tasd_tensorfile_close(m);
    CHECK(leftovers() == 0);
}

/* Every stdout line is a JSON object (checked with python3's parser when
 * there is one, else by shape), the last one the totals. */
static void check_json_lines(const char *what)
{
    int lines = count_lines(out_text, "");
    CHECKF(lines >= 1 && count_lines(out_text, "{") == lines, "%s: not only JSON lines: %s",
           what, out_text);
    const char *last = out_text;
    for (const char *p = strchr(out_text, '\n'); p && p[1]; p = strchr(p + 1, '\n'))
        last = p + 1;
    CHECKF(!strncmp(last, "{\"total\":true", 13), "%s: the last line is not the totals", what);
    if (system("command -v python3 >/dev/null 2>&1") != 0) {
        fprintf(stderr, "NOTE: python3 missing: %s JSON checked by shape only\n", what);
        return;
    }
    char path[600], cmd[1400];
    snprintf(path, sizeof path, "%s/json.txt", tmpdir);
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fputs(out_text, f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]' < %s", path);
    CHECKF(system(cmd) == 0, "%s: stdout does not parse as JSON lines", what);
    unlink(path);
}

static void test_options(void)
{
    /* An unknown option and a missing argument: exit 2, different messages. */
    static const char *const cmds[][3] = {{"inspect", "--threads", "--frob"},
                                          {"decompose", "--config", "--frob"},
                                          {"search", "--budget", "--frob"}};
    for (int k = 0; k < 3; k++) {
        int rc = RUN_TOOL(cmds[k][0], "test/data/tiny.safetensors", cmds[k][2]);
        CHECKF(rc == 2 && strstr(err_text, "unknown option --frob") &&
                   !strstr(err_text, "needs an argument"),
               "%s: rc %d: %s", cmds[k][0], rc, err_text);
        rc = RUN_TOOL(cmds[k][0], "test/data/tiny.safetensors", cmds[k][1]);
        CHECKF(rc == 2 && strstr(err_text, "needs an argument") && strstr(err_text, cmds[k][1]) &&
                   !strstr(err_text, "unknown option"),
               "%s: rc %d: %s", cmds[k][0], rc, err_text);
    }
    CHECK(RUN_TOOL("decompose", "test/data/tiny.safetensors", "-c") == 2 &&
          strstr(err_text, "option -c needs an argument"));
    CHECK(RUN_TOOL("decompose", "-z", "test/data/tiny.safetensors") == 2 &&
          strstr(err_text, "unknown option -z"));
    CHECK(RUN_TOOL("inspect", "--threads", "many", "test/data/tiny.safetensors") == 2 &&
          strstr(err_text, "--threads"));

    /* "--" ends the options: a file whose name starts with '-'. */
    char dashed[600];
    snprintf(dashed, sizeof dashed, "%s/-w.npy", tmpdir);
    FILE *in = fopen("test/data/tiny_f32.npy", "rb"), *out = fopen(dashed, "wb");
    char buf[4096];
    size_t n;
    while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    CHECK(chdir(tmpdir) == 0);
    CHECK(RUN_TOOL("inspect", "-w.npy") == 2 && strstr(err_text, "unknown option -w"));
    CHECK(RUN_TOOL("inspect", "--", "-w.npy") == 0 && strstr(out_text, "-w.npy: npy"));
    CHECK(RUN_TOOL("decompose", "--config", "2:4", "--", "-w.npy") == 0 &&
          strstr(out_text, "total: 1 decomposed"));
    /* after "--" an option-like word is an operand */
    CHECK(RUN_TOOL("decompose", "--config", "2:4", "--", "-w.npy", "--json") == 2 &&
          strstr(err_text, "more than one FILE"));
    CHECK(chdir(start_dir) == 0);
    /* options may follow the operand */
    CHECK(RUN_TOOL("decompose", "test/data/tiny.safetensors", "--quiet", "--config", "2:4",
                   "--threads", "2") == 0 &&
          strstr(out_text, "total: 3 decomposed"));
}

static void test_json(void)
{
    int rc = RUN_TOOL("inspect", "--json", "test/data/tiny.safetensors", "test/data/tiny_f32.npy");
    CHECK(rc == 0 && count_lines(out_text, "{\"file\":") == 6);
    CHECK(strstr(out_text, "{\"total\":true,\"files\":2,\"failed\":0,\"tensors\":6}"));
    check_json_lines("inspect --json");
    rc = RUN_TOOL("decompose", "test/data/tiny.safetensors", "--config", "2:4+1:8", "--json",
                  "-o", tp("j.tasd"));
    CHECK(rc == 0 && count_lines(out_text, "{\"name\":") == 3);
    CHECK(strstr(err_text, "pos_ids")); /* the skipped list: human text, on stderr */
    check_json_lines("decompose --json");
    rc = RUN_TOOL("inspect", "--json", "--threads", "1", tp("j.tasd"));
    CHECK(rc == 0 && strstr(out_text, "\"config\":\"2:4+1:8\""));
    check_json_lines("inspect --json (.tasd)");
    rc = RUN_TOOL("search", "test/data/tiny.safetensors", "--target", "vegeta", "--budget", "0.3",
                  "-o", tp("j.cfg"), "--json", "--share", "--threads", "1");
    CHECK(rc == 0 && count_lines(out_text, "{\"name\":") == 3);
    CHECK(strstr(out_text, "\"activations\":null") && strstr(out_text, "\"shared\":true"));
    /* every skipped tensor is a JSON line too, as for decompose */
    CHECK(count_lines(out_text, "{\"skipped\":true") == 2 &&
          strstr(out_text, "{\"skipped\":true,\"name\":\"pos_ids\",\"shape\":[4],"
                           "\"dtype\":\"I64\",\"reason\":\"dtype not f32/f16/bf16\"}\n"));
    check_json_lines("search --json");
    rc = RUN_TOOL("search", "test/data/onnx/mlp.onnx", "--target", "cpu", "--budget", "0.3", "-o",
                  tp("j.cfg"), "--json", "--skip", "2", "--quiet");
    CHECK(rc == 0 && count_lines(out_text, "{\"name\":") == 3 &&
          strstr(out_text, "{\"skipped\":true,\"name\":\"W2\",\"shape\":[12,16],"
                           "\"dtype\":\"FLOAT\",\"reason\":\"matched by --skip\"}\n") &&
          strstr(out_text, "{\"skipped\":true,\"name\":\"unused\",\"shape\":[2,2],"
                           "\"dtype\":\"FLOAT\",\"reason\":\"no consumer in the graph "
                           "(reduction axis unknown)\"}\n") &&
          !*err_text);
    check_json_lines("search --json (ONNX, skipped tensors)");
    rc = RUN_TOOL("search", "test/data/tiny.safetensors", "--target", "vegeta", "--budget", "0.3",
                  "-o", tp("j.cfg"), "--quiet");
    CHECK(rc == 0 && strstr(out_text, "W=2:4+1:4") && !*err_text); /* results on stdout */
}

static void test_bench_demo(void)
{
    /* Not built here (or built): either runs, or says clearly that it is not built. */
    setenv("TASD_DEMO", "/nonexistent/demo", 1);
    int rc = RUN_TOOL("demo");
    CHECK(rc == 1 && strstr(err_text, "TASD_DEMO"));
    unsetenv("TASD_DEMO");
    setenv("TASD_BENCH", "/bin/true", 1);
    CHECK(RUN_TOOL("bench", "--quick") == 0);
    setenv("TASD_BENCH", "/bin/false", 1);
    CHECK(RUN_TOOL("bench", "--quick") == 1);
    unsetenv("TASD_BENCH");
}

/* ---- ONNX models, selection, --layers, pictures ---- */

/* Tensor `name` of the model file at path, as f32 (n elements); false if
 * it cannot be read. */
static bool read_tensor(const char *path, const char *name, float *dst, int64_t n)
{
    tasd_tensorfile *m = NULL;
    int64_t i;
    bool ok = tasd_tensorfile_open(NULL, path, &m) == TASD_OK &&
              tasd_tensorfile_find(m, name, &i) == TASD_OK &&
              tasd_tensorfile_read_f32(m, i, dst, n) == TASD_OK;
    tasd_tensorfile_close(m);
    return ok;
}

/* The most nonzeros any group of 4 rows of a column of w [K][N] keeps (2:4
 * along K keeps at most 2). */
static int max_kept_per_4_rows(const float *w, int k_rows, int n_cols)
{
    int worst = 0;
    for (int g = 0; g < k_rows / 4; g++)
        for (int n = 0; n < n_cols; n++) {
            int nz = 0;
            for (int k = 0; k < 4; k++)
                nz += w[(g * 4 + k) * n_cols + n] != 0;
            worst = nz > worst ? nz : worst;
        }
    return worst;
}

static void test_onnx(void)
{
    const char *mlp = "test/data/onnx/mlp.onnx";
    int rc = RUN_TOOL("inspect", mlp);
    CHECK(rc == 0 && strstr(out_text, "MatMul.B out=1") && strstr(out_text, "Gemm.B out=0") &&
          strstr(out_text, "Conv.W out=0") && strstr(out_text, "(no consumer)"));
    rc = RUN_TOOL("inspect", "--json", mlp);
    CHECK(rc == 0 && strstr(out_text, "\"name\":\"W1\",\"dtype\":\"FLOAT\",\"shape\":[8,16]") &&
          strstr(out_text, "\"consumer\":\"MatMul\",\"input\":1,\"out_axis\":1"));

    /* The MatMul weight W1 [K=8, N=16] is decomposed as its transpose
     * [16, 8] and written back [8, 16]; "unused" has no consumer: skipped. */
    rc = RUN_TOOL("decompose", mlp, "--config", "2:4", "--json", "--reconstruct", tp("r.onnx"),
                  "-o", tp("r.tasd"));
    CHECK(rc == 0 && count_lines(out_text, "{\"name\":") == 4);
    CHECK(strstr(out_text,
                 "\"name\":\"W1\",\"shape\":[8,16],\"matrix\":[16,8],\"transposed\":true"));
    CHECK(strstr(out_text,
                 "\"name\":\"W2\",\"shape\":[12,16],\"matrix\":[12,16],\"transposed\":false"));
    CHECK(strstr(out_text, "{\"skipped\":true,\"name\":\"unused\",\"shape\":[2,2],"
                           "\"dtype\":\"FLOAT\",\"reason\":\"no consumer in the graph"));
    CHECK(strstr(err_text, "unused"));
    check_json_lines("decompose --json (onnx)");
    /* The same by hand: decompose W1's transpose, reconstruct, transpose back. */
    float w[128], got[128], want[128], bias[16], bias2[16];
    CHECK(read_tensor(mlp, "W1", w, 128) && read_tensor(tp("r.onnx"), "W1", got, 128));
    tasd_config *cfg = NULL;
    tasd_series *s = NULL;
    float dense[128];
    tasd_view wt = tasd_view_transpose(tasd_view_2d(w, TASD_F32, 8, 16, 16));
    CHECK(tasd_config_parse(NULL, "2:4", &cfg) == TASD_OK &&
          tasd_decompose(NULL, &wt, cfg, TASD_GREEDY, &s) == TASD_OK);
    tasd_view dv = tasd_view_2d(dense, TASD_F32, 16, 8, 8);
    CHECK(tasd_series_reconstruct(s, &dv) == TASD_OK);
    for (int k = 0; k < 8; k++)
        for (int n = 0; n < 16; n++)
            want[k * 16 + n] = dense[n * 8 + k];
    CHECK(memcmp(got, want, sizeof got) == 0);
    /* 2:4 along K: every group of 4 rows of a column keeps at most 2. */
    CHECK(max_kept_per_4_rows(got, 8, 16) == 2);
    tasd_series_destroy(s);
    tasd_config_destroy(cfg);
    CHECK(read_tensor(mlp, "b1", bias, 16) && read_tensor(tp("r.onnx"), "b1", bias2, 16) &&
          !memcmp(bias, bias2, sizeof bias));
    /* A lossless series gives back the very same values (W3 is stored as
     * float_data in mlp.onnx and comes back as raw_data: compare values). */
    rc = RUN_TOOL("decompose", mlp, "--config", "2:4+2:4", "--reconstruct", tp("same.onnx"));
    CHECK(rc == 0);
    static const char *const names[] = {"W1", "W2", "W3", "Wc"};
    for (int k = 0; k < 4; k++) {
        float x[192] = {0}, y[192] = {0};
        CHECKF(read_tensor(mlp, names[k], x, 192) &&
                   read_tensor(tp("same.onnx"), names[k], y, 192) && !memcmp(x, y, sizeof x),
               "%s changed by a lossless series", names[k]);
    }
    char a[1 << 12];
    slurp(mlp, a, sizeof a);

    /* A truncated model: a clear error, and no output at all. */
    FILE *f = fopen(tp("trunc.onnx"), "wb");
    fwrite(a, 1, 300, f);
    fclose(f);
    rc = RUN_TOOL("decompose", tp("trunc.onnx"), "--config", "2:4", "--reconstruct",
                  tp("t.onnx"), "-o", tp("t.tasd"));
    CHECK(rc == 1 && strstr(err_text, "trunc.onnx") && !exists(tp("t.onnx")) &&
          !exists(tp("t.tasd")) && leftovers() == 0);
    /* A failure after the decompositions (the picture cannot be written)
     * leaves neither output behind either. */
    rc = RUN_TOOL("decompose", mlp, "--config", "2:4", "--reconstruct", tp("t.onnx"), "-o",
                  tp("t.tasd"), "--plot", "/nonexistent/dir/e.svg");
    CHECK(rc == 1 && !exists(tp("t.onnx")) && !exists(tp("t.tasd")) && leftovers() == 0);
}

/* The line of text that starts (after spaces) with word and a space: "" if none. */
static const char *line_of(const char *text, const char *word, char *line, size_t cap)
{
    size_t wl = strlen(word);
    line[0] = 0;
    for (const char *p = text; *p;) {
        const char *q = p;
        while (*q == ' ')
            q++;
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (!strncmp(q, word, wl) && q[wl] == ' ') {
            snprintf(line, cap, "%.*s", (int)len, p);
            break;
        }
        p += len + (end != NULL);
    }
    return line;
}

/* Weights shared through Identity nodes (test/data/onnx/identity.onnx, as
 * torch exports a layer applied twice): oriented, decomposed and written
 * back by the layout of the nodes the Identity outputs feed. */
/* A Conv over one spatial axis (audio models): its rank-3 weight [out, in, k]
 * is decomposed as [out, in*k], as a rank-4 one; rank 3 outside ONNX (a conv
 * or a stack of matrices?) is skipped. */
static void test_onnx_conv1d(void)
{
    const char *path = "test/data/onnx/conv1d.onnx";
    int rc = RUN_TOOL("decompose", path, "--config", "2:4", "--json", "--reconstruct",
                      tp("c1.onnx"));
    CHECKF(rc == 0, "rc %d: %s", rc, err_text);
    CHECK(strstr(out_text,
                 "\"name\":\"W1d\",\"shape\":[16,8,3],\"matrix\":[16,24],\"transposed\":false"));
    float w[384], got[384], want[384];
    CHECK(read_tensor(path, "W1d", w, 384) && read_tensor(tp("c1.onnx"), "W1d", got, 384));
    tasd_config *cfg = NULL;
    tasd_series *s = NULL;
    tasd_view wv = tasd_view_2d(w, TASD_F32, 16, 24, 24), out = tasd_view_2d(want, TASD_F32, 16, 24, 24);
    CHECK(tasd_config_parse(NULL, "2:4", &cfg) == TASD_OK &&
          tasd_decompose(NULL, &wv, cfg, TASD_GREEDY, &s) == TASD_OK &&
          tasd_series_reconstruct(s, &out) == TASD_OK);
    CHECK(memcmp(got, want, sizeof got) == 0);
    tasd_series_destroy(s);
    tasd_config_destroy(cfg);

    tasd_tensor_info ti = {.size = sizeof ti};
    ti.dtype_name = "<f4";
    ti.ndim = 3;
    ti.shape[0] = 16;
    ti.shape[1] = 8;
    ti.shape[2] = 3;
    tasd_writer *wr = NULL;
    CHECK_OK(tasd_writer_create(NULL, tp("r3.npy"), TASD_FORMAT_NPY, 1, &ti, &wr));
    CHECK_OK(tasd_writer_put(wr, 0, &wv));
    CHECK_OK(tasd_writer_finish(wr));
    rc = RUN_TOOL("decompose", tp("r3.npy"), "--config", "2:4", "-o", tp("r3.tasd"));
    CHECK(rc == 1 && strstr(err_text, "rank 3 outside ONNX"));
}

static void test_onnx_identity(void)
{
    const char *model = "test/data/onnx/identity.onnx";
    char line[256];
    int rc = RUN_TOOL("inspect", model);
    CHECK(rc == 0);
    CHECKF(strstr(line_of(out_text, "Wsq", line, sizeof line), "MatMul.B out=1"), "[%s]", line);
    CHECKF(strstr(line_of(out_text, "Wonly", line, sizeof line), "Gemm.B out=0"), "[%s]", line);
    CHECKF(strstr(line_of(out_text, "Wdis", line, sizeof line), "MatMul.1 out=?"), "[%s]", line);
    CHECKF(strstr(line_of(out_text, "Wdead", line, sizeof line), "Identity.0 out=?"), "[%s]", line);

    rc = RUN_TOOL("decompose", model, "--config", "2:4", "--json", "--reconstruct", tp("id.onnx"),
                  "-o", tp("id.tasd"));
    CHECK(rc == 0 && count_lines(out_text, "{\"name\":") == 2);
    CHECK(strstr(out_text,
                 "\"name\":\"Wsq\",\"shape\":[16,16],\"matrix\":[16,16],\"transposed\":true"));
    CHECK(strstr(out_text,
                 "\"name\":\"Wonly\",\"shape\":[12,16],\"matrix\":[12,16],\"transposed\":false"));
    CHECK(strstr(out_text, "{\"skipped\":true,\"name\":\"Wdis\",\"shape\":[16,16],\"dtype\":"
                           "\"FLOAT\",\"reason\":\"its consumers disagree on the reduction axis "
                           "(the first: MatMul input 1)\"}"));
    CHECK(strstr(out_text, "{\"skipped\":true,\"name\":\"Wdead\",\"shape\":[4,4],\"dtype\":"
                           "\"FLOAT\",\"reason\":\"consumer Identity: reduction axis unknown\"}"));
    check_json_lines("decompose --json (onnx, Identity)");
    /* Wsq [K=16, N=16] is 2:4 along K in the copy; the skipped ones are as they were. */
    float w[256], got[256];
    CHECK(read_tensor(model, "Wsq", w, 256) && read_tensor(tp("id.onnx"), "Wsq", got, 256) &&
          memcmp(w, got, sizeof w) != 0);
    CHECK(max_kept_per_4_rows(got, 16, 16) == 2);
    CHECK(read_tensor(model, "Wdis", w, 256) && read_tensor(tp("id.onnx"), "Wdis", got, 256) &&
          !memcmp(w, got, sizeof w));
    /* The copy keeps its Identity nodes: the same consumers. */
    rc = RUN_TOOL("inspect", tp("id.onnx"));
    CHECK(rc == 0);
    CHECKF(strstr(line_of(out_text, "Wsq", line, sizeof line), "MatMul.B out=1"), "[%s]", line);
    CHECKF(strstr(line_of(out_text, "Wdead", line, sizeof line), "Identity.0 out=?"), "[%s]", line);
    /* search plans the shared weights too. */
    rc = RUN_TOOL("search", model, "--target", "cpu", "--budget", "0.5", "-o", tp("id.cfg"),
                  "--json", "--quiet");
    CHECK(rc == 0 && count_lines(out_text, "{\"name\":") == 2 &&
          count_lines(out_text, "{\"skipped\":true") == 2 &&
          strstr(out_text, "{\"name\":\"Wsq\"") && strstr(out_text, "{\"name\":\"Wonly\""));
    remove(tp("id.onnx"));
    remove(tp("id.tasd"));
    remove(tp("id.cfg"));
}

static void test_select(void)
{
    const char *mlp = "test/data/onnx/mlp.onnx";
    int rc = RUN_TOOL("decompose", mlp, "--config", "2:4", "--only", "W[12");
    CHECK(rc == 2 && strstr(err_text, "--only") && strstr(err_text, "bad regular expression"));
    rc = RUN_TOOL("search", mlp, "--target", "cpu", "--budget", "0.1", "-o", tp("x.cfg"),
                  "--skip", "(");
    CHECK(rc == 2 && strstr(err_text, "--skip") && !exists(tp("x.cfg")));
    CHECK(RUN_TOOL("decompose", mlp, "--config", "2:4", "--only", "a", "--only", "b") == 2);
    /* --only / --skip: extended regex, unanchored unless asked */
    rc = RUN_TOOL("decompose", mlp, "--config", "2:4", "--json", "--only", "^W[0-9]$", "--skip",
                  "2|c");
    CHECK(rc == 0 && count_lines(out_text, "{\"name\":") == 2 &&
          strstr(out_text, "\"name\":\"W1\",\"shape\"") &&
          strstr(out_text, "\"name\":\"W3\",\"shape\"") &&
          strstr(out_text, "\"name\":\"W2\",\"shape\":[12,16],\"dtype\":\"FLOAT\",\"reason\":"
                           "\"matched by --skip\"") &&
          strstr(out_text, "\"name\":\"b1\",\"shape\":[16],\"dtype\":\"FLOAT\",\"reason\":"
                           "\"not matched by --only\""));
    /* --min-elements: W1 has 128, W2 192, W3 48, Wc 72 */
    rc = RUN_TOOL("decompose", mlp, "--config", "2:4", "--json", "--min-elements", "100");
    CHECK(rc == 0 && count_lines(out_text, "{\"name\":") == 2 &&
          count_lines(out_text, "{\"skipped\":true") == 5 &&
          strstr(out_text, "\"name\":\"Wc\",\"shape\":[4,2,3,3],\"dtype\":\"FLOAT\",\"reason\":"
                           "\"fewer elements than --min-elements\""));
    rc = RUN_TOOL("decompose", "test/data/tiny.safetensors", "--config", "2:4", "--only",
                  "weight$", "--skip", "^conv");
    CHECK(rc == 0 && strstr(out_text, "total: 2 decomposed"));
}

/* Whether the JSON line of tensor `name` holds `key` (e.g. "\"values\":\"bf16\""). */
static bool json_line_has(const char *text, const char *name, const char *key)
{
    char want[300];
    snprintf(want, sizeof want, "\"name\":\"%s\"", name);
    const char *p = strstr(text, want);
    if (!p)
        return false;
    const char *end = strchr(p, '\n');
    const char *k = strstr(p, key);
    return k && (!end || k < end);
}

static void test_layers(void)
{
    const char *mlp = "test/data/onnx/mlp.onnx";
    /* Search, then apply the file it wrote. */
    int rc = RUN_TOOL("search", mlp, "--target", "vegeta", "--budget", "0.3", "-o", tp("l.cfg"),
                      "--threads", "1", "--sides", "w");
    CHECK(rc == 0 && strstr(err_text, "unused") && strstr(err_text, "no consumer"));
    char cfg[4096];
    slurp(tp("l.cfg"), cfg, sizeof cfg);
    CHECK(strstr(cfg, "\nW1 W=") && strstr(cfg, "\nWc W=") && !strstr(cfg, "unused"));
    rc = RUN_TOOL("decompose", mlp, "--layers", tp("l.cfg"), "--json", "--reconstruct",
                  tp("l.onnx"), "-o", tp("l.tasd"));
    CHECK(rc == 0 && count_lines(out_text, "{\"name\":") == 4 && exists(tp("l.onnx")));
    /* Each tensor with the series the search chose for it. */
    for (const char *p = cfg; (p = strchr(p, '\n')) != NULL;) {
        p++;
        char name[64], w[64], want[200];
        if (sscanf(p, "%63s W=%63s", name, w) != 2 || name[0] == '#')
            continue;
        snprintf(want, sizeof want, "\"name\":\"%s\",", name);
        const char *line = strstr(out_text, want);
        snprintf(want, sizeof want, "\"config\":\"%s\"", w);
        CHECKF(line && strstr(line, want) && strstr(line, want) < strchr(line, '\n'),
               "%s: %s not applied", name, w);
    }
    /* Calibration rows feed the MatMul weight W1 [K=8, N=16] with K columns:
     * the search sees it transposed, so a [tokens, 8] tensor named W1 is its
     * calibration data. */
    float x[4 * 8];
    for (int k = 0; k < 32; k++)
        x[k] = (float)((k * 7) % 5) - 2.0f;
    write_st(tp("calib.safetensors"),
             "{\"W1\":{\"dtype\":\"F32\",\"shape\":[4,8],\"data_offsets\":[0,128]}}", x,
             sizeof x);
    rc = RUN_TOOL("search", mlp, "--target", "cpu", "--budget", "0.3", "-o", tp("c.cfg"),
                  "--calib", tp("calib.safetensors"), "--threads", "1");
    char no_w1[80], no_w2[80];
    snprintf(no_w1, sizeof no_w1, "  %-40s (no calibration", "W1");
    snprintf(no_w2, sizeof no_w2, "  %-40s (no calibration", "W2");
    CHECK(rc == 0 && strstr(err_text, "output error on calibration data") &&
          !strstr(err_text, no_w1) && strstr(err_text, no_w2));
    /* W=none, a tensor the file does not list, a layer the model lacks. */
    FILE *f = fopen(tp("m.cfg"), "w");
    fputs("W1 W=2:4+1:8 A=none method=optimal\nW2 W=none A=none method=greedy\n"
          "nosuch W=1:4 A=none method=greedy\n",
          f);
    fclose(f);
    rc = RUN_TOOL("decompose", mlp, "--layers", tp("m.cfg"), "--json", "--reconstruct",
                  tp("m.onnx"));
    CHECK(rc == 0 && count_lines(out_text, "{\"name\":") == 1 &&
          strstr(out_text, "\"config\":\"2:4+1:8\",\"method\":\"optimal\"") &&
          strstr(out_text, "\"name\":\"W2\",\"shape\":[12,16],\"dtype\":\"FLOAT\",\"reason\":"
                           "\"W=none in ") &&
          strstr(out_text, "\"name\":\"W3\",\"shape\":[12,4],\"dtype\":\"FLOAT\",\"reason\":"
                           "\"not listed in "));
    CHECK(strstr(err_text, "warning") && strstr(err_text, "\"nosuch\""));
    float w2[192], w2b[192];
    CHECK(read_tensor(mlp, "W2", w2, 192) && read_tensor(tp("m.onnx"), "W2", w2b, 192) &&
          !memcmp(w2, w2b, sizeof w2));
    /* safetensors and npy (an array is named after its file) */
    f = fopen(tp("s.cfg"), "w");
    fputs("layer.0.weight W=2:4 A=none method=greedy\ntiny_f32 W=1:4 A=none method=greedy\n", f);
    fclose(f);
    rc = RUN_TOOL("decompose", "test/data/tiny.safetensors", "--layers", tp("s.cfg"),
                  "--reconstruct", tp("s.safetensors"));
    CHECK(rc == 0 && strstr(out_text, "total: 1 decomposed") && exists(tp("s.safetensors")));
    rc = RUN_TOOL("decompose", "test/data/tiny_f32.npy", "--layers", tp("s.cfg"), "--json");
    CHECK(rc == 0 && strstr(out_text, "\"config\":\"1:4\""));
    /* A layer's values= gives its series' value type; --values the others' */
    f = fopen(tp("v.cfg"), "w");
    fputs("layer.0.weight W=2:4 A=none method=greedy values=bf16\n"
          "emb.weight W=2:4 A=none method=greedy\n", f);
    fclose(f);
    rc = RUN_TOOL("decompose", "test/data/tiny.safetensors", "--layers", tp("v.cfg"), "--json");
    CHECK(rc == 0 && json_line_has(out_text, "layer.0.weight", "\"values\":\"bf16\"") &&
          json_line_has(out_text, "emb.weight", "\"values\":\"f32\""));
    rc = RUN_TOOL("decompose", "test/data/tiny.safetensors", "--layers", tp("v.cfg"), "--values",
                  "f16", "-o", tp("v.tasd"));
    CHECK(rc == 0);
    rc = RUN_TOOL("inspect", tp("v.tasd"), "--json");
    CHECK(rc == 0 && json_line_has(out_text, "layer.0.weight", "\"values\":\"bf16\"") &&
          json_line_has(out_text, "emb.weight", "\"values\":\"f16\""));
    /* Errors: a missing file, both --config and --layers, --method with it */
    rc = RUN_TOOL("decompose", mlp, "--layers", tp("missing.cfg"), "--reconstruct",
                  tp("n.onnx"));
    CHECK(rc == 1 && strstr(err_text, "missing.cfg") && !exists(tp("n.onnx")));
    CHECK(RUN_TOOL("decompose", mlp, "--layers", tp("m.cfg"), "--config", "2:4") == 2);
    CHECK(RUN_TOOL("decompose", mlp, "--layers", tp("m.cfg"), "--method", "greedy") == 2);
    f = fopen(tp("bad.cfg"), "w");
    fputs("W1 W=3:5 A=none\n", f);
    fclose(f);
    rc = RUN_TOOL("decompose", mlp, "--layers", tp("bad.cfg"));
    CHECK(rc == 1 && strstr(err_text, "bad.cfg") && strstr(err_text, "line 1"));
}

/* A small XML well-formedness check: tags nest and close, attributes are
 * quoted, no stray '<' or '&'. Returns the number of elements opened with
 * `<g class="panel"`, or -1 if malformed. */
static int svg_panels(const char *t)
{
    char stack[64][32];
    int depth = 0, panels = 0, elements = 0;
    for (const char *p = t; *p; p++) {
        if (*p == '&') {
            if (strncmp(p, "&lt;", 4) && strncmp(p, "&gt;", 4) && strncmp(p, "&amp;", 5) &&
                strncmp(p, "&quot;", 6))
                return -1;
            continue;
        }
        if (*p != '<')
            continue;
        if (p[1] == '?') {
            p = strstr(p, "?>");
            if (!p)
                return -1;
            continue;
        }
        const char *e = p + 1;
        bool quoted = false;
        while (*e && (quoted || *e != '>')) {
            if (*e == '"')
                quoted = !quoted;
            else if (*e == '<' && !quoted)
                return -1;
            e++;
        }
        if (!*e)
            return -1;
        bool closing = p[1] == '/', empty = e[-1] == '/';
        const char *n = p + 1 + closing;
        size_t len = strcspn(n, " />\n");
        if (len == 0 || len >= 32)
            return -1;
        if (closing) {
            if (depth == 0 || strncmp(stack[depth - 1], n, len) || stack[depth - 1][len])
                return -1;
            depth--;
        } else {
            elements++;
            panels += !strncmp(p, "<g class=\"panel\"", 16);
            if (!empty) {
                if (depth == 64)
                    return -1;
                memcpy(stack[depth], n, len);
                stack[depth++][len] = 0;
            }
        }
        p = e;
    }
    return depth == 0 && elements > 0 ? panels : -1;
}

static void test_plot(void)
{
    static char svgt[1 << 17];
    const char *mlp = "test/data/onnx/mlp.onnx";
    int rc = RUN_TOOL("search", mlp, "--target", "vegeta", "--budget", "0.3", "-o", tp("p.cfg"),
                      "--threads", "1", "--plot", tp("p.svg"));
    slurp(tp("p.svg"), svgt, sizeof svgt);
    CHECK(rc == 0 && svg_panels(svgt) == 4 && strstr(svgt, "<g class=\"summary\">"));
    CHECK(strstr(svgt, "data-layer=\"W1\"") && strstr(svgt, "budget 0.3"));
    rc = RUN_TOOL("search", "test/data/tiny.safetensors", "--target", "cpu", "--budget", "0.2",
                  "--share", "-o", tp("p2.cfg"), "--plot", tp("p2.svg"), "--threads", "1");
    slurp(tp("p2.svg"), svgt, sizeof svgt);
    CHECK(rc == 0 && svg_panels(svgt) == 3);
    rc = RUN_TOOL("decompose", mlp, "--config", "2:4", "--plot", tp("e.svg"));
    slurp(tp("e.svg"), svgt, sizeof svgt);
    CHECK(rc == 0 && svg_panels(svgt) == 1 && strstr(svgt, ">W1</text>"));
    CHECK(svg_panels("<svg><g class=\"panel\"></svg>") == -1 && svg_panels("<a>&b</a>") == -1);
    /* A picture that cannot be written fails the command before the config
     * file is saved. */
    CHECK(RUN_TOOL("search", mlp, "--target", "vegeta", "--budget", "0.3", "-o", tp("q.cfg"),
                   "--plot", "/nonexistent/p.svg") == 1 &&
          !exists(tp("q.cfg")));
}

static int mode_of(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (int)(sb.st_mode & 07777) : -1;
}

/* No output may be the input, another output or the input's external data. */
static void test_output_clashes(void)
{
    const char *in = tp("clash.onnx");
    CHECK(util_copy_file("test/data/onnx/mlp.onnx", in));
    static const char *const opts[] = {"-o", "--reconstruct", "--plot"};
    for (int k = 0; k < 3; k++) {
        int rc = RUN_TOOL("decompose", in, "--config", "2:4", opts[k], in);
        CHECKF(rc == 2 && strstr(err_text, "is the input file") &&
                   util_same_file_bytes(in, "test/data/onnx/mlp.onnx"),
               "decompose %s INPUT: rc %d", opts[k], rc);
    }
    /* The same file under another name. */
    char other[600];
    snprintf(other, sizeof other, "%s/./clash.onnx", tmpdir);
    int rc = RUN_TOOL("search", in, "--target", "vegeta", "--budget", "0.3", "-o", other);
    CHECK(rc == 2 && strstr(err_text, "is the input file") &&
          util_same_file_bytes(in, "test/data/onnx/mlp.onnx"));
    rc = RUN_TOOL("decompose", in, "--config", "2:4", "-o", tp("same.out"), "--reconstruct",
                  tp("same.out"));
    CHECK(rc == 2 && strstr(err_text, "-o and --reconstruct name the same file") &&
          !exists(tp("same.out")));
    CHECK(util_copy_file("test/data/onnx/ext.onnx", tp("ext.onnx")));
    CHECK(util_copy_file("test/data/onnx/ext.bin", tp("ext.bin")));
    rc = RUN_TOOL("decompose", tp("ext.onnx"), "--config", "2:4", "-o", tp("ext.bin"));
    CHECK(rc == 2 && strstr(err_text, "external data file") &&
          util_same_file_bytes(tp("ext.bin"), "test/data/onnx/ext.bin"));
    unlink(in);
}

/* Every output or none: directories are checked before the work, and the
 * files go into place only when all of them are written. */
static void test_all_or_nothing(void)
{
    const char *mlp = "test/data/onnx/mlp.onnx";
    FILE *f = fopen(tp("notadir"), "w");
    fclose(f);
    char bad[600];
    snprintf(bad, sizeof bad, "%s/r.onnx", tp("notadir"));
    int rc = RUN_TOOL("decompose", mlp, "--config", "2:4", "-o", tp("side.tasd"), "--plot",
                      tp("side.svg"), "--reconstruct", bad);
    CHECK(rc == 1 && !exists(tp("side.tasd")) && !exists(tp("side.svg")) && leftovers() == 0);
    CHECKF(strstr(err_text, "Not a directory") && !strstr(out_text, "total:"),
           "checked before the work, with the reason: %s", err_text);
    char twice[1300];
    snprintf(twice, sizeof twice, "%s: %s", bad, bad);
    CHECK(!strstr(err_text, twice));
    snprintf(bad, sizeof bad, "%s/x.cfg", tp("notadir"));
    rc = RUN_TOOL("search", mlp, "--target", "vegeta", "--budget", "0.3", "-o", bad, "--plot",
                  tp("sp.svg"));
    CHECK(rc == 1 && !exists(tp("sp.svg")) && strstr(err_text, "Not a directory") &&
          leftovers() == 0);
    snprintf(bad, sizeof bad, "%s/nodir/x.svg", tmpdir);
    rc = RUN_TOOL("decompose", mlp, "--config", "2:4", "--plot", bad);
    CHECK(rc == 1 && strstr(err_text, "No such file or directory"));
    /* A failure during the work (test_bad_input's NaN) leaves the files at
     * the targets as they were. */
    f = fopen(tp("keep.tasd"), "w");
    fputs("old", f);
    fclose(f);
    float data[2 * 8 * 2] = {1, 2, 3, 4};
    data[21] = NAN;
    write_st(tp("nan2.safetensors"),
             "{\"good\":{\"dtype\":\"F32\",\"shape\":[2,8],\"data_offsets\":[0,64]},"
             "\"bad.w\":{\"dtype\":\"F32\",\"shape\":[2,8],\"data_offsets\":[64,128]}}",
             data, sizeof data);
    rc = RUN_TOOL("decompose", tp("nan2.safetensors"), "--config", "2:4", "-o", tp("keep.tasd"),
                  "--plot", tp("keep.svg"));
    CHECK(rc == 1 && !exists(tp("keep.svg")));
    char text[16];
    slurp(tp("keep.tasd"), text, sizeof text);
    CHECK(!strcmp(text, "old") && leftovers() == 0);
    unlink(tp("notadir"));
    unlink(tp("keep.tasd"));
    unlink(tp("nan2.safetensors"));
}

/* An ONNX copy that keeps external data must resolve it from its directory. */
static void test_external_data_copy(void)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/elsewhere", tmpdir);
    CHECK(mkdir(dir, 0755) == 0);
    char out[700];
    snprintf(out, sizeof out, "%s/r.onnx", dir);
    const char *ext = "test/data/onnx/ext.onnx";
    /* B keeps its external data: the copy elsewhere would not find it. */
    int rc = RUN_TOOL("decompose", ext, "--config", "2:4", "--tensors", "A", "--reconstruct", out);
    CHECK(rc == 2 && strstr(err_text, "relative to its own directory") && !exists(out));
    /* Both external tensors replaced: nothing is left to resolve. */
    rc = RUN_TOOL("decompose", ext, "--config", "2:4", "--reconstruct", out);
    CHECK(rc == 0 && exists(out) && RUN_TOOL("inspect", out) == 0);
    /* Beside the input it works. */
    CHECK(util_copy_file(ext, tp("ext2.onnx")));
    CHECK(util_copy_file("test/data/onnx/ext.bin", tp("ext.bin")));
    rc = RUN_TOOL("decompose", tp("ext2.onnx"), "--config", "2:4", "--tensors", "A",
                  "--reconstruct", tp("ext2r.onnx"));
    CHECK(rc == 0 && RUN_TOOL("inspect", tp("ext2r.onnx")) == 0);
    /* A data file of that name elsewhere with other bytes: the library's
     * check when it writes the copy; exit 1, nothing left. */
    unlink(out);
    char other[700];
    snprintf(other, sizeof other, "%s/ext.bin", dir);
    FILE *f = fopen(other, "wb");
    for (int k = 0; f && k < 1000; k++)
        fputc(0x5a, f);
    if (f)
        fclose(f);
    rc = RUN_TOOL("decompose", ext, "--config", "2:4", "--tensors", "A", "--reconstruct", out);
    CHECKF(rc == 1 && strstr(err_text, "no file there holds its bytes") && !exists(out) &&
               leftovers() == 0,
           "rc %d: %s", rc, err_text);
    /* A copy of the data file there holds the same bytes: it works. */
    CHECK(util_copy_file("test/data/onnx/ext.bin", other));
    rc = RUN_TOOL("decompose", ext, "--config", "2:4", "--tensors", "A", "--reconstruct", out);
    CHECK(rc == 0 && RUN_TOOL("inspect", out) == 0);
    unlink(other);
    unlink(out);
    rmdir(dir);
}

/* Outputs get the mode open(O_CREAT, 0666) gives; an existing file keeps its. */
static void test_output_modes(void)
{
    mode_t old = umask(027);
    int rc = RUN_TOOL("decompose", "test/data/onnx/mlp.onnx", "--config", "2:4", "-o",
                      tp("mode.tasd"), "--reconstruct", tp("mode.onnx"), "--plot",
                      tp("mode.svg"));
    CHECK(rc == 0);
    rc = RUN_TOOL("search", "test/data/onnx/mlp.onnx", "--target", "vegeta", "--budget", "0.4",
                  "-o", tp("mode.cfg"), "--plot", tp("modep.svg"));
    CHECK(rc == 0);
    static const char *const names[] = {"mode.tasd", "mode.onnx", "mode.svg", "mode.cfg",
                                        "modep.svg"};
    for (int k = 0; k < 5; k++)
        CHECKF(mode_of(tp(names[k])) == 0640, "%s: mode %o", names[k], mode_of(tp(names[k])));
    chmod(tp("mode.tasd"), 0604);
    rc = RUN_TOOL("decompose", "test/data/tiny.safetensors", "--config", "2:4", "-o",
                  tp("mode.tasd"), "--reconstruct", tp("mode.safetensors"));
    CHECK(rc == 0 && mode_of(tp("mode.tasd")) == 0604 &&
          mode_of(tp("mode.safetensors")) == 0640);
    umask(old);
}

/* search and decompose: nothing to do, A without calibration data, a cap not
 * shared, an output named for another format. */
static void test_search_usage(void)
{
    int rc;
    const char *mlp = "test/data/onnx/mlp.onnx";
    for (int share = 0; share < 2; share++) {
        rc = run((const char *const[]){"search", mlp, "--target", "vegeta", "--budget", "0.3",
                                       "-o", tp("e.cfg"), "--tensors", "nomatch",
                                       share ? "--share" : "--quiet", NULL});
        CHECKF(rc == 1 && strstr(err_text, "no tensor to search in") &&
                   !strstr(err_text, "n = 0") && !strstr(out_text, "speed-up 0.00x") &&
                   !exists(tp("e.cfg")),
               "share %d: rc %d: %s", share, rc, err_text);
    }
    /* an output named for another format than it will hold */
    rc = RUN_TOOL("decompose", mlp, "--config", "2:4", "--reconstruct", tp("x.safetensors"));
    CHECK(rc == 2 && strstr(err_text, "name it .onnx") && !exists(tp("x.safetensors")));
    rc = RUN_TOOL("decompose", "test/data/tiny.safetensors", "--config", "2:4", "-o",
                  tp("x.Onnx"));
    CHECK(rc == 2 && strstr(err_text, "-o writes a .tasd file") && !exists(tp("x.Onnx")));
    /* decompose too: nothing to decompose is an error, with the reasons */
    rc = RUN_TOOL("decompose", mlp, "--config", "2:4", "-o", tp("e.tasd"), "--reconstruct",
                  tp("e.onnx"), "--tensors", "nomatch");
    CHECKF(rc == 1 && strstr(err_text, "no tensor to decompose in") &&
               strstr(err_text, "not selected by --tensors") && !strstr(out_text, "total:") &&
               !exists(tp("e.tasd")) && !exists(tp("e.onnx")) && leftovers() == 0,
           "rc %d: %s", rc, err_text);
    rc = RUN_TOOL("decompose", "test/data/tiny.safetensors", "--config", "2:4", "--json",
                  "--quiet", "--min-elements", "1000000");
    CHECK(rc == 1 && count_lines(out_text, "{\"skipped\":true") == 5 &&
          !strstr(out_text, "\"total\"") && strstr(err_text, "all 5 tensors skipped"));
    rc = RUN_TOOL("search", mlp, "--target", "vegeta", "--budget", "0.3", "-o", tp("a.cfg"),
                  "--sides", "a");
    CHECK(rc == 2 && strstr(err_text, "--calib") && !exists(tp("a.cfg")));
    rc = RUN_TOOL("search", mlp, "--target", "vegeta", "--budget", "0.3", "-o", tp("a.cfg"),
                  "--layer-cap", "0.01");
    CHECK(rc == 2 && strstr(err_text, "--share") && !exists(tp("a.cfg")));
}

/* A spawned tool's temporaries, once there are `want` of them; 0 if it ended
 * first (it is not reaped: finish does that). */
static int wait_leftovers(pid_t pid, int want)
{
    for (int ms = 0; ms < 120000; ms += 2) {
        int n = leftovers();
        if (n >= want)
            return n;
        siginfo_t info = {0};
        if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid)
            return 0;
        nanosleep(&(struct timespec){0, 2000000}, NULL);
    }
    return 0;
}

/* SIGINT, SIGTERM or SIGHUP during the work removes the temporaries, the
 * library's beside the tool's too, and the tool dies by that signal. */
static void test_interrupted(void)
{
    enum { R = 1024, C = 1024 }; /* an optimal 8-term series takes seconds */
    float *data = malloc(sizeof(float) * R * C);
    util_fill_random(data, R * C, 12345);
    write_st(tp("slow.safetensors"),
             "{\"w\":{\"dtype\":\"F32\",\"shape\":[1024,1024],\"data_offsets\":[0,4194304]}}",
             data, sizeof(float) * R * C);
    free(data);
    const char *slow = "1:32+1:32+1:32+1:32+1:32+1:32+1:32+1:32";
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (int k = 0; k < 3; k++) {
        pid_t pid = spawn((const char *const[]){"decompose", tp("slow.safetensors"), "--config",
                                                slow, "--method", "optimal", "--threads", "1",
                                                "-o", tp("int.tasd"), "--reconstruct",
                                                tp("int.safetensors"), "--plot", tp("int.svg"),
                                                NULL});
        /* three staged outputs, and the library's writers' own two */
        int seen = wait_leftovers(pid, 5);
        kill(pid, sigs[k]);
        int rc = finish(pid);
        CHECKF(seen == 5 && rc == 128 + sigs[k] && leftovers() == 0 && !exists(tp("int.tasd")) &&
                   !exists(tp("int.safetensors")) && !exists(tp("int.svg")),
               "signal %d: %d temporaries seen, rc %d, %d left: %s", sigs[k], seen, rc,
               leftovers(), err_text);
    }
    pid_t pid = spawn((const char *const[]){"search", tp("slow.safetensors"), "--target", "cpu",
                                            "--budget", "0.2", "--threads", "1", "-o",
                                            tp("int.cfg"), "--plot", tp("int.svg"), NULL});
    int seen = wait_leftovers(pid, 2);
    kill(pid, SIGTERM);
    int rc = finish(pid);
    CHECKF(seen == 2 && rc == 128 + SIGTERM && leftovers() == 0 && !exists(tp("int.cfg")),
           "search: %d temporaries seen, rc %d: %s", seen, rc, err_text);
    unlink(tp("slow.safetensors"));
}

static void test_messages(void)
{
    int rc = RUN_TOOL("inspect", tp("nope.onnx"));
    CHECK(rc == 1 && strstr(err_text, "No such file or directory"));
    CHECK(RUN_TOOL("decompose", "test/data/tiny_f32_2x4.tasd", "--config", "2:4") == 1 &&
          strstr(err_text, "tasd inspect"));
    rc = RUN_TOOL("decompose", "test/data/onnx/mlp.onnx", "--config", "2:4", "-o",
                  tp("cor.tasd"));
    CHECK(rc == 0);
    /* Flip a byte in the middle of the values of the first series. */
    FILE *f = fopen(tp("cor.tasd"), "r+b");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size / 4, SEEK_SET);
    int c = fgetc(f);
    fseek(f, size / 4, SEEK_SET);
    fputc(c ^ 0xff, f);
    fclose(f);
    rc = RUN_TOOL("inspect", tp("cor.tasd"));
    const char *series = strstr(err_text, "series \"");
    CHECKF(rc == 1 && series && !strstr(series + 1, "series \""), "%s", err_text);
    rc = RUN_TOOL("decompose", "test/data/tiny_f32.npy", "--config", "2:4");
    CHECK(rc == 0 && strstr(out_text, ", 1 tensor,"));
}

static void setup(void)
{
    ssize_t n = readlink("/proc/self/exe", tool, sizeof tool - 32);
    if (n <= 0) {
        fprintf(stderr, "cannot find myself\n");
        exit(1);
    }
    tool[n] = 0;
    char *s = strrchr(tool, '/');
    *s = 0;
    s = strrchr(tool, '/'); /* .../build/test -> .../build */
    if (s)
        *s = 0;
    strcat(tool, "/bin/tasd");
    if (access(tool, X_OK) != 0) {
        fprintf(stderr, "FAIL: %s is not built (make tool)\n", tool);
        printf("0 passed, 1 failed\n");
        exit(1);
    }
    if (!getcwd(start_dir, sizeof start_dir))
        exit(1);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tasd_test_tool.XXXXXX");
    if (!mkdtemp(tmpdir))
        exit(1);
    /* A cross-built tool this machine cannot execute (e.g. the suite runs
     * under qemu-user without binfmt_misc): say so loudly and stop. */
    if (RUN_TOOL("version") == 126) {
        fprintf(stderr,
                "*****************************************************************\n"
                "SKIPPED test_tool: %s cannot be executed here (a cross build?).\n"
                "Set TASD_TOOL_RUNNER, e.g. \"qemu-aarch64 -L /usr/aarch64-linux-gnu\".\n"
                "*****************************************************************\n",
                tool);
        rmdir(tmpdir);
        printf("0 passed, 0 failed\n");
        exit(0);
    }
}

static void teardown(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.')
            unlink(tp(e->d_name));
    if (d)
        closedir(d);
    rmdir(tmpdir);
}

TEST_MAIN(setup(); RUN(test_help); RUN(test_inspect); RUN(test_decompose); RUN(test_threads_deterministic); RUN(test_independent_reader);
          RUN(test_bad_input); RUN(test_search); RUN(test_options); RUN(test_json); RUN(test_bench_demo);
          RUN(test_onnx); RUN(test_onnx_conv1d); RUN(test_onnx_identity); RUN(test_select); RUN(test_layers); RUN(test_plot);
          RUN(test_output_clashes); RUN(test_all_or_nothing); RUN(test_external_data_copy);
          RUN(test_output_modes); RUN(test_search_usage); RUN(test_interrupted); RUN(test_messages); teardown();)
