/* Layer configs and model config files: text round trips, file I/O,
 * malformed lines with line numbers, and argument errors. */
#include "tasd.h"
#include "harness.h"
#include "support/util.h"

#include <dirent.h>
#include <unistd.h>

static void test_layer_config_roundtrip(void)
{
    tasd_config *w = util_config("2:4+1:8");
    tasd_layer_config *lc = NULL, *back = NULL;
    CHECK_OK(tasd_layer_config_create(NULL, "blocks.0.mlp.fc1", w, NULL, TASD_OPTIMAL,
                                      "1:4=0.3,2:4=0.55", &lc));
    char buf[256];
    size_t need = 0;
    CHECK_OK(tasd_layer_config_format(lc, buf, sizeof buf, &need));
    CHECK(strcmp(buf, "blocks.0.mlp.fc1 W=2:4+1:8 A=none method=optimal target=1:4=0.3,2:4=0.55") == 0);
    CHECK(need == strlen(buf));
    CHECK_OK(tasd_layer_config_parse(NULL, buf, &back));
    char buf2[256];
    CHECK_OK(tasd_layer_config_format(back, buf2, sizeof buf2, NULL));
    CHECK(strcmp(buf, buf2) == 0);
    CHECK(strcmp(tasd_layer_config_name(back), "blocks.0.mlp.fc1") == 0);
    CHECK(tasd_layer_config_activations(back) == NULL);
    CHECK(tasd_config_terms(tasd_layer_config_weights(back)) == 2);
    CHECK(tasd_layer_config_method(back) == TASD_OPTIMAL);
    CHECK(strcmp(tasd_layer_config_target(back), "1:4=0.3,2:4=0.55") == 0);
    /* a measured target names its token count; the config keeps the spec */
    tasd_layer_config *meas = NULL;
    CHECK_OK(tasd_layer_config_parse(NULL, "fc1 W=2:4 target=cpu-measured@16", &meas));
    CHECK(meas && strcmp(tasd_layer_config_target(meas), "cpu-measured@16") == 0);
    tasd_layer_config_destroy(meas);
    /* too small a buffer: error, untouched */
    char small[8] = "xxxxxxx";
    CHECK_STATUS(tasd_layer_config_format(lc, small, sizeof small, &need), TASD_ERR_BUFFER_TOO_SMALL);
    CHECK(strcmp(small, "xxxxxxx") == 0);
    CHECK(need == strlen(buf));
    tasd_layer_config_destroy(back);
    /* a minimal line: defaults, comment, CRLF, tabs */
    CHECK_OK(tasd_layer_config_parse(NULL, "  fc2\tA=2:4  # activations\r\n", &back));
    CHECK_OK(tasd_layer_config_format(back, buf, sizeof buf, NULL));
    CHECK(strcmp(buf, "fc2 W=none A=2:4 method=greedy") == 0);
    CHECK(strcmp(tasd_layer_config_target(back), "") == 0);
    tasd_layer_config_destroy(back);
    tasd_layer_config_destroy(lc);
    tasd_config_destroy(w);
}

static void test_layer_config_errors(void)
{
    tasd_layer_config *lc = NULL;
    tasd_config *w = util_config("2:4");
    CHECK_STATUS(tasd_layer_config_create(NULL, NULL, w, NULL, TASD_GREEDY, NULL, &lc), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_layer_config_create(NULL, "a", w, NULL, TASD_GREEDY, NULL, NULL), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_layer_config_create(NULL, "", w, NULL, TASD_GREEDY, NULL, &lc), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_layer_config_create(NULL, "a b", w, NULL, TASD_GREEDY, NULL, &lc), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_layer_config_create(NULL, "a#b", w, NULL, TASD_GREEDY, NULL, &lc), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_layer_config_create(NULL, "a=b", w, NULL, TASD_GREEDY, NULL, &lc), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_layer_config_create(NULL, "a\nb", w, NULL, TASD_GREEDY, NULL, &lc), TASD_ERR_INVALID_ARGUMENT);
    char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK_STATUS(tasd_layer_config_create(NULL, longname, w, NULL, TASD_GREEDY, NULL, &lc), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_layer_config_create(NULL, "a", w, NULL, (tasd_method)9, NULL, &lc), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_layer_config_create(NULL, "a", w, NULL, TASD_GREEDY, "warp-drive", &lc), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_layer_config_create(NULL, "a", w, NULL, TASD_GREEDY, "2:4 1:4", &lc), TASD_ERR_INVALID_ARGUMENT);
    CHECK(lc == NULL);
    /* UTF-8 names are fine */
    CHECK_OK(tasd_layer_config_create(NULL, "couche.\xc3\xa9t\xc3\xa9", w, NULL, TASD_GREEDY, "vegeta", &lc));
    tasd_layer_config_destroy(lc);
    lc = NULL;
    const char *bad[] = {"",           "   # only a comment",  "W=2:4",          "fc1 W=3:5",
                         "fc1 W=2:4 W=1:4", "fc1 X=2:4",       "fc1 W",           "fc1 method=fast",
                         "fc1 target=nope", "fc1 A=2:4+",      "fc1 method=greedy method=optimal",
                         "fc1 target=cpu target=cpu", "fc1 A=none A=none",
                         "fc1 target=cpu-measured@0", "fc1 target=cpu-measured@",
                         "fc\x01x W=2:4", "fc\x7f W=2:4"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(tasd_layer_config_parse(NULL, bad[i], &lc), TASD_ERR_FORMAT);
        CHECK(lc == NULL);
    }
    CHECK_STATUS(tasd_layer_config_parse(NULL, "fc\x01x W=2:4", &lc), TASD_ERR_FORMAT);
    CHECK(strstr(tasd_last_error_message(), "control") != NULL);
    CHECK_STATUS(tasd_layer_config_parse(NULL, "fc1 X=2:4", &lc), TASD_ERR_FORMAT);
    CHECK(strstr(tasd_last_error_message(), "unknown key") != NULL);
    CHECK_STATUS(tasd_layer_config_parse(NULL, NULL, &lc), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_layer_config_parse(NULL, "a", NULL), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_layer_config_format(NULL, NULL, 0, NULL), TASD_ERR_NULL_POINTER);
    CHECK(tasd_layer_config_name(NULL) == NULL);
    CHECK(tasd_layer_config_weights(NULL) == NULL);
    tasd_layer_config_destroy(NULL);
    tasd_config_destroy(w);
}

/* values=bf16|f16: the value type of the W series (the layer keeps it
 * that way, test_values.c); written only when not f32, kept by copies. */
static void test_layer_config_values(void)
{
    tasd_layer_config *lc = NULL;
    char buf[128];
    CHECK_OK(tasd_layer_config_parse(NULL, "fc1 values=bf16 W=2:4+1:8 target=cpu", &lc));
    CHECK_OK(tasd_layer_config_format(lc, buf, sizeof buf, NULL));
    CHECK(strcmp(buf, "fc1 W=2:4+1:8 A=none method=greedy target=cpu values=bf16") == 0);
    CHECK(tasd_layer_config_values(lc) == TASD_BF16);
    tasd_model_config *m = NULL;
    CHECK_OK(tasd_model_config_create(NULL, &m));
    CHECK_OK(tasd_model_config_add(m, lc));
    char mbuf[512];
    CHECK_OK(tasd_model_config_format(m, mbuf, sizeof mbuf, NULL));
    CHECK(strstr(mbuf, "\nfc1 W=2:4+1:8 A=none method=greedy target=cpu values=bf16\n") != NULL);
    CHECK(tasd_layer_config_values(tasd_model_config_layer(m, 0)) == TASD_BF16); /* the copy's */
    tasd_model_config_destroy(m);
    tasd_layer_config_destroy(lc);
    lc = NULL;
    CHECK_OK(tasd_layer_config_parse(NULL, "fc2 W=2:4 values=f16", &lc));
    CHECK_OK(tasd_layer_config_format(lc, buf, sizeof buf, NULL));
    CHECK(strcmp(buf, "fc2 W=2:4 A=none method=greedy values=f16") == 0);
    CHECK(tasd_layer_config_values(lc) == TASD_F16);
    tasd_layer_config_destroy(lc);
    lc = NULL;
    CHECK_OK(tasd_layer_config_parse(NULL, "fc3 W=none A=2:4 values=f32", &lc));
    CHECK_OK(tasd_layer_config_format(lc, buf, sizeof buf, NULL));
    CHECK(strcmp(buf, "fc3 W=none A=2:4 method=greedy") == 0);
    CHECK(tasd_layer_config_values(lc) == TASD_F32);
    CHECK(tasd_layer_config_values(NULL) == TASD_F32);
    tasd_layer_config_destroy(lc);
    lc = NULL;
    const char *bad[] = {"fc1 W=2:4 values=f64", "fc1 W=2:4 values=", "fc1 W=2:4 values=BF16",
                         "fc1 W=2:4 values=bf16 values=bf16", "fc1 A=2:4 values=bf16",
                         "fc1 values=f16"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(tasd_layer_config_parse(NULL, bad[i], &lc), TASD_ERR_FORMAT);
        CHECK(lc == NULL);
    }
    CHECK_STATUS(tasd_layer_config_parse(NULL, "fc1 A=2:4 values=bf16", &lc), TASD_ERR_FORMAT);
    CHECK(strstr(tasd_last_error_message(), "W is none") != NULL);
}

static const char model_text[] =
    "# a model\n"
    "\n"
    "fc1 W=2:4+1:8 A=none method=greedy target=cpu\n"
    "   \t\n"
    "fc2 W=none A=2:4 method=optimal target=sparse-tensor-core # relu input\n"
    "head W=none A=none\n";

static void test_model_config_roundtrip(void)
{
    tasd_model_config *m = NULL, *back = NULL;
    CHECK_OK(tasd_model_config_parse(NULL, model_text, sizeof model_text - 1, &m));
    CHECK(tasd_model_config_count(m) == 3);
    CHECK(strcmp(tasd_layer_config_name(tasd_model_config_layer(m, 2)), "head") == 0);
    CHECK(tasd_model_config_layer(m, 3) == NULL);
    CHECK(tasd_model_config_layer(m, -1) == NULL);
    const tasd_layer_config *fc2 = tasd_model_config_find(m, "fc2");
    CHECK(fc2 && tasd_config_terms(tasd_layer_config_activations(fc2)) == 1);
    CHECK(tasd_model_config_find(m, "fc3") == NULL);
    size_t need = 0;
    CHECK_STATUS(tasd_model_config_format(m, NULL, 0, &need), TASD_ERR_BUFFER_TOO_SMALL);
    char *buf = malloc(need + 1);
    CHECK_OK(tasd_model_config_format(m, buf, need + 1, NULL));
    CHECK(strlen(buf) == need);
    CHECK(strstr(buf, "fc1 W=2:4+1:8 A=none method=greedy target=cpu\n") != NULL);
    CHECK(strstr(buf, "head W=none A=none method=greedy\n") != NULL);
    CHECK_OK(tasd_model_config_parse(NULL, buf, need, &back));
    size_t need2 = 0;
    char *buf2 = malloc(need + 1);
    CHECK_OK(tasd_model_config_format(back, buf2, need + 1, &need2));
    CHECK(need == need2 && strcmp(buf, buf2) == 0);
    /* files: save atomically, load back, no temporary left behind */
    char dir[] = "/tmp/tasd_lcfg_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/layers.cfg", dir);
    CHECK_OK(tasd_model_config_save(m, path));
    CHECK_OK(tasd_model_config_save(m, path)); /* overwrite */
    tasd_model_config *loaded = NULL;
    CHECK_OK(tasd_model_config_load(NULL, path, &loaded));
    CHECK(tasd_model_config_count(loaded) == 3);
    char *buf3 = malloc(need + 1);
    CHECK_OK(tasd_model_config_format(loaded, buf3, need + 1, NULL));
    CHECK(strcmp(buf, buf3) == 0);
    int entries = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            entries++;
    if (d)
        closedir(d);
    CHECK(entries == 1);
    /* saving into a missing directory fails cleanly */
    char bad_path[160];
    snprintf(bad_path, sizeof bad_path, "%s/missing/layers.cfg", dir);
    CHECK_STATUS(tasd_model_config_save(m, bad_path), TASD_ERR_IO);
    CHECK_STATUS(tasd_model_config_load(NULL, bad_path, &back), TASD_ERR_IO);
    CHECK(strstr(tasd_last_error_message(), "missing/layers.cfg") != NULL);
    unlink(path);
    rmdir(dir);
    /* add: copies; duplicate names refused */
    tasd_model_config *built = NULL;
    CHECK_OK(tasd_model_config_create(NULL, &built));
    CHECK_OK(tasd_model_config_add(built, fc2));
    CHECK_STATUS(tasd_model_config_add(built, fc2), TASD_ERR_INVALID_ARGUMENT);
    CHECK(tasd_model_config_count(built) == 1);
    CHECK_STATUS(tasd_model_config_add(NULL, fc2), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_model_config_add(built, NULL), TASD_ERR_NULL_POINTER);
    tasd_model_config_destroy(built);
    /* an empty file is an empty model */
    tasd_model_config *empty = NULL;
    CHECK_OK(tasd_model_config_parse(NULL, NULL, 0, &empty));
    CHECK(tasd_model_config_count(empty) == 0);
    tasd_model_config_destroy(empty);
    tasd_model_config_destroy(loaded);
    tasd_model_config_destroy(back);
    tasd_model_config_destroy(m);
    free(buf);
    free(buf2);
    free(buf3);
}

/* Each malformed file names its bad line. */
static void test_model_config_line_numbers(void)
{
    struct {
        const char *text;
        const char *want;
    } cases[] = {
        {"fc1 W=2:4\nfc2 W=2:5\n", "line 2:"},
        {"# c\n\nfc1 W=2:4\nfc1 W=1:4\n", "line 4:"},
        {"fc1 W=2:4\n\n\nfc2 bogus=1\n", "line 4:"},
        {"W=2:4\n", "line 1:"},
        {"fc1 W=2:4\r\nfc2 A=2:4 method=slow\r\n", "line 2:"},
        {"a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk W=9:4\n", "line 11:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tasd_model_config *m = NULL;
        CHECK_STATUS(tasd_model_config_parse(NULL, cases[i].text, strlen(cases[i].text), &m),
                     TASD_ERR_FORMAT);
        CHECKF(strncmp(tasd_last_error_message(), cases[i].want, strlen(cases[i].want)) == 0,
               "case %zu: message \"%s\"", i, tasd_last_error_message());
        CHECK(m == NULL);
    }
    /* NUL byte inside */
    const char nul[] = "fc1 W=2:4\nfc2\0 W=2:4\n";
    tasd_model_config *m = NULL;
    CHECK_STATUS(tasd_model_config_parse(NULL, nul, sizeof nul - 1, &m), TASD_ERR_FORMAT);
    CHECK(strstr(tasd_last_error_message(), "line 2") != NULL);
    /* a file's messages name the file and line */
    char path[] = "/tmp/tasd_lcfg_bad_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char text[] = "fc1 W=2:4\nfc2 W=2:4 junk\n";
    CHECK(write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1));
    close(fd);
    CHECK_STATUS(tasd_model_config_load(NULL, path, &m), TASD_ERR_FORMAT);
    CHECK(strstr(tasd_last_error_message(), path) != NULL);
    CHECK(strstr(tasd_last_error_message(), "line 2:") != NULL);
    unlink(path);
    CHECK_STATUS(tasd_model_config_parse(NULL, "x", 1, NULL), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_model_config_parse(NULL, NULL, 3, &m), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_model_config_load(NULL, NULL, &m), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_model_config_save(NULL, "x"), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_model_config_format(NULL, NULL, 0, NULL), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_model_config_create(NULL, NULL), TASD_ERR_NULL_POINTER);
    CHECK(tasd_model_config_count(NULL) == 0);
    CHECK(tasd_model_config_find(NULL, "a") == NULL);
    tasd_model_config_destroy(NULL);
}

/* Every allocation failure is reported and leaks nothing. */
static void test_model_config_oom(void)
{
    bool succeeded = false;
    for (long fail = 1; fail < 200 && !succeeded; fail++) {
        util_counting_allocator ca;
        util_counting_allocator_init(&ca);
        tasd_context *ctx = NULL;
        if (tasd_context_create(&ca.hooks, &ctx) != TASD_OK)
            break;
        ca.fail_after = ca.total_allocs + fail;
        tasd_model_config *m = NULL;
        tasd_status st = tasd_model_config_parse(ctx, model_text, sizeof model_text - 1, &m);
        /* a failure that happened is reported; success means none happened */
        CHECKF(st == TASD_OK ? ca.injected == 0 : st == TASD_ERR_OUT_OF_MEMORY && ca.injected == 1,
               "fail at %ld: status %d, %ld failures injected", fail, (int)st, (long)ca.injected);
        tasd_model_config_destroy(m);
        tasd_context_destroy(ctx);
        CHECKF(ca.live_blocks == 0, "fail at %ld: %ld blocks leaked", fail, (long)ca.live_blocks);
        succeeded = st == TASD_OK;
    }
    CHECK(succeeded); /* the loop ran past the last allocation */
}

TEST_MAIN(RUN(test_layer_config_roundtrip); RUN(test_layer_config_values); RUN(test_layer_config_errors);
          RUN(test_model_config_roundtrip); RUN(test_model_config_line_numbers);
          RUN(test_model_config_oom);)
