/* N:M series configs: parsing, formatting, queries. */
#include "core.h"

#include <stdio.h>
#include <string.h>

tasd_status tasdi_check_term(int i, int n, int m)
{
    if (m < 2 || m > TASD_MAX_M || (m & (m - 1)) != 0)
        return tasdi_fail(TASD_ERR_CONFIG,
                          "term %d: M = %d, want a power of two from 2 to %d", i + 1,
                          m, TASD_MAX_M);
    if (n < 1 || n > m)
        return tasdi_fail(TASD_ERR_CONFIG, "term %d: N = %d, want 1 <= N <= M = %d",
                          i + 1, n, m);
    return TASD_OK;
}

static tasd_status config_new(tasd_context *ctx, int terms, const int *n,
                              const int *m, tasd_config **out)
{
    const tasd_allocator *a = tasdi_allocator(ctx);
    tasd_config *c = tasdi_alloc(a, sizeof *c);
    if (!c)
        return TASD_ERR_OUT_OF_MEMORY;
    memset(c, 0, sizeof *c);
    c->allocator = *a;
    c->terms = terms;
    for (int i = 0; i < terms; i++) {
        c->n[i] = n[i];
        c->m[i] = m[i];
    }
    *out = c;
    return TASD_OK;
}

tasd_status tasd_config_create(tasd_context *ctx, int terms, const int *n,
                               const int *m, tasd_config **out)
{
    if (!out || !n || !m)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_config_create: NULL argument");
    if (terms < 1 || terms > TASD_MAX_TERMS)
        return tasdi_fail(TASD_ERR_CONFIG, "tasd_config_create: %d terms, want 1..%d",
                          terms, TASD_MAX_TERMS);
    for (int i = 0; i < terms; i++) {
        tasd_status st = tasdi_check_term(i, n[i], m[i]);
        if (st)
            return st;
    }
    return config_new(ctx, terms, n, m, out);
}

static void skip_spaces(const char **p)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
}

/* A decimal integer of at most 3 digits (enough for 1..32, and bounded so
 * that absurd input cannot overflow). */
static bool parse_small_int(const char **p, int *v)
{
    const char *s = *p;
    int x = 0, digits = 0;
    while (*s >= '0' && *s <= '9') {
        if (++digits > 3)
            return false;
        x = x * 10 + (*s - '0');
        s++;
    }
    if (digits == 0)
        return false;
    *v = x;
    *p = s;
    return true;
}

tasd_status tasd_config_parse(tasd_context *ctx, const char *text,
                              tasd_config **out)
{
    if (!text || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_config_parse: NULL argument");
    int n[TASD_MAX_TERMS], m[TASD_MAX_TERMS], terms = 0;
    const char *p = text;
    for (;;) {
        skip_spaces(&p);
        int nv, mv;
        const char *start = p;
        if (!parse_small_int(&p, &nv))
            return tasdi_fail(TASD_ERR_CONFIG,
                              "config \"%.64s\": expected N at offset %d", text,
                              (int)(start - text));
        skip_spaces(&p);
        if (*p != ':')
            return tasdi_fail(TASD_ERR_CONFIG,
                              "config \"%.64s\": expected ':' at offset %d", text,
                              (int)(p - text));
        p++;
        skip_spaces(&p);
        if (!parse_small_int(&p, &mv))
            return tasdi_fail(TASD_ERR_CONFIG,
                              "config \"%.64s\": expected M at offset %d", text,
                              (int)(p - text));
        if (terms == TASD_MAX_TERMS)
            return tasdi_fail(TASD_ERR_CONFIG, "config \"%.64s\": more than %d terms",
                              text, TASD_MAX_TERMS);
        tasd_status st = tasdi_check_term(terms, nv, mv);
        if (st) {
            char why[160]; /* the detail lives in the buffer tasdi_fail rewrites */
            snprintf(why, sizeof why, "%s", tasd_last_error_message());
            return tasdi_fail(st, "config \"%.64s\": %s", text, why);
        }
        n[terms] = nv;
        m[terms] = mv;
        terms++;
        skip_spaces(&p);
        if (*p == '\0')
            break;
        if (*p != '+')
            return tasdi_fail(TASD_ERR_CONFIG,
                              "config \"%.64s\": unexpected '%c' at offset %d", text,
                              *p, (int)(p - text));
        p++;
    }
    return config_new(ctx, terms, n, m, out);
}

tasd_status tasdi_config_copy(const tasd_allocator *a, const tasd_config *src,
                              tasd_config **out)
{
    tasd_config *c = tasdi_alloc(a, sizeof *c);
    if (!c)
        return TASD_ERR_OUT_OF_MEMORY;
    *c = *src;
    c->allocator = *a;
    *out = c;
    return TASD_OK;
}

void tasd_config_destroy(tasd_config *config)
{
    if (config) {
        tasd_allocator a = config->allocator;
        tasdi_free(&a, config, sizeof *config);
    }
}

int tasd_config_terms(const tasd_config *config)
{
    return config ? config->terms : 0;
}

tasd_status tasd_config_term(const tasd_config *config, int i, int *n, int *m)
{
    if (!config)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_config_term: config is NULL");
    if (i < 0 || i >= config->terms)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "tasd_config_term: term %d of %d", i, config->terms);
    if (n)
        *n = config->n[i];
    if (m)
        *m = config->m[i];
    return TASD_OK;
}

double tasd_config_density(const tasd_config *config)
{
    if (!config)
        return 0.0;
    double d = 0.0;
    for (int i = 0; i < config->terms; i++)
        d += (double)config->n[i] / config->m[i];
    return d < 1.0 ? d : 1.0;
}

tasd_status tasd_config_format(const tasd_config *config, char *buf,
                               size_t size, size_t *needed)
{
    if (!config)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_config_format: config is NULL");
    char tmp[TASD_MAX_TERMS * 8 + 1];
    size_t len = 0;
    for (int i = 0; i < config->terms; i++)
        len += (size_t)snprintf(tmp + len, sizeof tmp - len, "%s%d:%d", i ? "+" : "",
                                config->n[i], config->m[i]);
    tasd_status st = tasdi_text_room("tasd_config_format", len, buf, size, needed);
    if (st)
        return st;
    memcpy(buf, tmp, len + 1);
    return TASD_OK;
}
