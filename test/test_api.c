/* Version, status codes, error messages, contexts, backends, views, configs. */
#include "harness.h"
#include <tasd.h>

static void test_version(void)
{
    CHECK(strcmp(tasd_version(), TASD_VERSION_STRING) == 0);
    CHECK(tasd_version_number() ==
          TASD_VERSION_MAJOR * 10000 + TASD_VERSION_MINOR * 100 + TASD_VERSION_PATCH);
}

static void test_status_strings(void)
{
    const char *seen[16];
    for (int s = 0; s >= -15; s--) {
        const char *msg = tasd_status_string((tasd_status)s);
        CHECK(msg != NULL && msg[0] != '\0');
        for (int j = 0; j < -s; j++)
            CHECKF(strcmp(seen[j], msg) != 0, "status %d repeats %s", s, msg);
        seen[-s] = msg;
    }
    CHECK(strcmp(tasd_status_string((tasd_status)-999), "unknown status") == 0);
}

static void test_last_error_names_the_problem(void)
{
    tasd_config *c = (tasd_config *)0x1;
    CHECK_STATUS(tasd_config_parse(NULL, "3:5", &c), TASD_ERR_CONFIG);
    CHECK(c == (tasd_config *)0x1); /* out untouched on error */
    CHECK(strstr(tasd_last_error_message(), "power of two") != NULL);
}

static void test_context(void)
{
    tasd_context *ctx = NULL;
    CHECK_STATUS(tasd_context_create(NULL, NULL), TASD_ERR_NULL_POINTER);
    tasd_allocator half = {.size = sizeof half};
    CHECK_STATUS(tasd_context_create(&half, &ctx), TASD_ERR_NULL_POINTER);
    /* a size this library does not know: refused, and the message says how to fix it */
    tasd_allocator unsized = {.alloc = NULL};
    CHECK_STATUS(tasd_context_create(&unsized, &ctx), TASD_ERR_INVALID_ARGUMENT);
    CHECK(strstr(tasd_last_error_message(), "sizeof(tasd_allocator)") != NULL);
    CHECK(ctx == NULL);
    CHECK_OK(tasd_context_create(NULL, &ctx));
    CHECK(tasd_context_threads(ctx) >= 1);
    CHECK_OK(tasd_context_set_threads(ctx, 3));
    CHECK(tasd_context_threads(ctx) == 3);
    CHECK_STATUS(tasd_context_set_threads(ctx, -1), TASD_ERR_INVALID_ARGUMENT);
    CHECK(tasd_context_threads(ctx) == 3);
    CHECK_STATUS(tasd_context_set_threads(NULL, 1), TASD_ERR_NULL_POINTER);
    CHECK_OK(tasd_context_set_backend(ctx, TASD_BACKEND_SCALAR));
    CHECK(tasd_context_backend(ctx) == TASD_BACKEND_SCALAR);
    CHECK_STATUS(tasd_context_set_backend(ctx, (tasd_backend)42), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_context_set_backend(NULL, TASD_BACKEND_SCALAR), TASD_ERR_NULL_POINTER);
    CHECK_OK(tasd_context_set_backend(ctx, TASD_BACKEND_AUTO));
    CHECK(tasd_context_backend(ctx) != TASD_BACKEND_AUTO);
    CHECK_STATUS(tasd_context_set_parallel_for(NULL, NULL, NULL), TASD_ERR_NULL_POINTER);
    CHECK_OK(tasd_context_set_parallel_for(ctx, NULL, NULL));
    tasd_context_destroy(ctx);
    tasd_context_destroy(NULL);
}

static void test_backends(void)
{
    CHECK(tasd_backend_available(TASD_BACKEND_SCALAR));
    CHECK(!tasd_backend_available(TASD_BACKEND_AUTO)); /* a request, not a backend */
    const tasd_backend all[] = {TASD_BACKEND_AUTO, TASD_BACKEND_SCALAR, TASD_BACKEND_AVX2,
                                TASD_BACKEND_AVX512, TASD_BACKEND_NEON};
    for (unsigned i = 0; i < sizeof all / sizeof *all; i++) {
        tasd_backend b;
        CHECK_OK(tasd_backend_parse(tasd_backend_name(all[i]), &b));
        CHECK(b == all[i]);
    }
    tasd_backend b = TASD_BACKEND_SCALAR;
    CHECK_STATUS(tasd_backend_parse("sse9", &b), TASD_ERR_INVALID_ARGUMENT);
    CHECK(b == TASD_BACKEND_SCALAR);
    CHECK_STATUS(tasd_backend_parse(NULL, &b), TASD_ERR_NULL_POINTER);
    /* A backend this machine lacks is refused, not run. */
    tasd_context *ctx;
    CHECK_OK(tasd_context_create(NULL, &ctx));
    for (unsigned i = 1; i < sizeof all / sizeof *all; i++)
        if (!tasd_backend_available(all[i]))
            CHECK_STATUS(tasd_context_set_backend(ctx, all[i]), TASD_ERR_UNSUPPORTED);
    tasd_context_destroy(ctx);
}

static void test_views(void)
{
    float buf[12] = {0};
    tasd_view v = tasd_view_2d(buf, TASD_F32, 3, 4, 4);
    CHECK(v.data == buf && v.ndim == 2 && v.dtype == TASD_F32);
    CHECK(v.shape[0] == 3 && v.shape[1] == 4 && v.strides[0] == 4 && v.strides[1] == 1);
    tasd_view t = tasd_view_transpose(v);
    CHECK(t.shape[0] == 4 && t.shape[1] == 3 && t.strides[0] == 1 && t.strides[1] == 4);
    tasd_view s = tasd_view_2d_strided(buf, TASD_BF16, 2, 5, 7, 2);
    CHECK(s.strides[0] == 7 && s.strides[1] == 2 && s.dtype == TASD_BF16);
    CHECK(tasd_dtype_size(TASD_F32) == 4 && tasd_dtype_size(TASD_F16) == 2 &&
          tasd_dtype_size(TASD_BF16) == 2 && tasd_dtype_size((tasd_dtype)9) == 0);
    CHECK(strcmp(tasd_dtype_name(TASD_BF16), "bf16") == 0);
    CHECK(strcmp(tasd_dtype_name((tasd_dtype)9), "?") == 0);
}

static void test_config_parse_valid(void)
{
    static const struct {
        const char *text, *canonical;
        int terms;
        double density;
    } ok[] = {
        {"2:4", "2:4", 1, 0.5},
        {"2:4+1:8", "2:4+1:8", 2, 0.625},
        {" 1:8 + 1:8 +1:16 ", "1:8+1:8+1:16", 3, 0.3125},
        {"32:32", "32:32", 1, 1.0},
        {"1:2", "1:2", 1, 0.5},
        {"4:8+2:4", "4:8+2:4", 2, 1.0},
        {"2:4+2:4+2:4", "2:4+2:4+2:4", 3, 1.0}, /* density is capped at 1 */
        {"1:4+1:4+1:4+1:4+1:4+1:4+1:4+1:4", "1:4+1:4+1:4+1:4+1:4+1:4+1:4+1:4", 8, 1.0},
        {"002:004", "2:4", 1, 0.5},
    };
    for (unsigned i = 0; i < sizeof ok / sizeof *ok; i++) {
        tasd_config *c = NULL;
        CHECK_OK(tasd_config_parse(NULL, ok[i].text, &c));
        if (!c)
            continue;
        CHECKF(tasd_config_terms(c) == ok[i].terms, "%s", ok[i].text);
        CHECKF(fabs(tasd_config_density(c) - ok[i].density) < 1e-12, "%s", ok[i].text);
        char buf[80];
        size_t need = 0;
        CHECK_OK(tasd_config_format(c, buf, sizeof buf, &need));
        CHECKF(strcmp(buf, ok[i].canonical) == 0, "%s formats as %s", ok[i].text, buf);
        CHECK(need == strlen(ok[i].canonical));
        tasd_config_destroy(c);
    }
}

static void test_config_parse_invalid(void)
{
    static const char *bad[] = {
        "", " ", "2:3", "0:4", "5:4", "2:4+", "+2:4", "2:4+1:8+1:8+1:8+1:8+1:8+1:8+1:8+1:8",
        "2:4x", "2:4 1:8", "2::4", ":4", "2:", "2:64", "1:1", "2:0", "-1:4", "9999:4",
        "2:4++1:8", "2 4", "a:b", "2:4\n", "1:128",
    };
    for (unsigned i = 0; i < sizeof bad / sizeof *bad; i++) {
        tasd_config *c = (tasd_config *)0x1;
        CHECK_STATUS(tasd_config_parse(NULL, bad[i], &c), TASD_ERR_CONFIG);
        CHECKF(c == (tasd_config *)0x1, "out written for \"%s\"", bad[i]);
        CHECKF(tasd_last_error_message()[0] != '\0', "no message for \"%s\"", bad[i]);
    }
    tasd_config *c;
    CHECK_STATUS(tasd_config_parse(NULL, NULL, &c), TASD_ERR_NULL_POINTER);
    CHECK_STATUS(tasd_config_parse(NULL, "2:4", NULL), TASD_ERR_NULL_POINTER);
}

static void test_config_create_and_query(void)
{
    int n[2] = {2, 1}, m[2] = {4, 8};
    tasd_config *c = NULL;
    CHECK_OK(tasd_config_create(NULL, 2, n, m, &c));
    int tn = 0, tm = 0;
    CHECK_OK(tasd_config_term(c, 1, &tn, &tm));
    CHECK(tn == 1 && tm == 8);
    CHECK_OK(tasd_config_term(c, 0, NULL, &tm));
    CHECK(tm == 4);
    CHECK_STATUS(tasd_config_term(c, 2, &tn, &tm), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_config_term(c, -1, &tn, &tm), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_config_term(NULL, 0, &tn, &tm), TASD_ERR_NULL_POINTER);
    char small[4] = "xyz";
    size_t need = 0;
    CHECK_STATUS(tasd_config_format(c, small, sizeof small, &need), TASD_ERR_BUFFER_TOO_SMALL);
    CHECK(need == 7 && strcmp(small, "xyz") == 0);
    CHECK_STATUS(tasd_config_format(NULL, small, sizeof small, NULL), TASD_ERR_NULL_POINTER);
    tasd_config_destroy(c);

    int badn[1] = {3}, badm[1] = {6};
    c = (tasd_config *)0x1;
    CHECK_STATUS(tasd_config_create(NULL, 1, badn, badm, &c), TASD_ERR_CONFIG);
    CHECK_STATUS(tasd_config_create(NULL, 0, n, m, &c), TASD_ERR_CONFIG);
    CHECK_STATUS(tasd_config_create(NULL, 9, n, m, &c), TASD_ERR_CONFIG);
    CHECK_STATUS(tasd_config_create(NULL, 1, NULL, m, &c), TASD_ERR_NULL_POINTER);
    CHECK(c == (tasd_config *)0x1);
    CHECK(tasd_config_terms(NULL) == 0);
    CHECK(tasd_config_density(NULL) == 0.0);
    tasd_config_destroy(NULL);
}

static void test_methods(void)
{
    tasd_method m = TASD_GREEDY;
    CHECK_OK(tasd_method_parse("optimal", &m));
    CHECK(m == TASD_OPTIMAL);
    CHECK(strcmp(tasd_method_name(m), "optimal") == 0);
    CHECK_OK(tasd_method_parse(tasd_method_name(TASD_GREEDY), &m));
    CHECK(m == TASD_GREEDY);
    CHECK_STATUS(tasd_method_parse("best", &m), TASD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(tasd_method_parse(NULL, &m), TASD_ERR_NULL_POINTER);
    CHECK(strcmp(tasd_method_name((tasd_method)7), "?") == 0);
}

TEST_MAIN(RUN(test_version); RUN(test_status_strings); RUN(test_last_error_names_the_problem);
          RUN(test_context); RUN(test_backends); RUN(test_views); RUN(test_config_parse_valid);
          RUN(test_config_parse_invalid); RUN(test_config_create_and_query); RUN(test_methods);)
