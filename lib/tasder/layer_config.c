/* Layer configs ("fc1 W=2:4+1:8 A=none method=greedy target=cpu") and model
 * config files: one layer per line. Format: docs/format.md. */
#include "tasder.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *dup_str(const tasd_allocator *a, const char *s, size_t len)
{
    char *p = tasdi_alloc(a, len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

static void free_str(const tasd_allocator *a, char *s)
{
    if (s)
        tasdi_free(a, s, strlen(s) + 1);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static tasd_status check_name(const char *name, size_t len)
{
    if (len == 0)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "layer name is empty");
    if (len > TASD_NAME_MAX)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT, "layer name is %zu bytes, at most %d",
                          len, TASD_NAME_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f || c == ' ' || c == '#' || c == '=')
            return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                              "layer name \"%.*s\": byte %zu is whitespace, a control "
                              "character, '#' or '='",
                              (int)(len < 64 ? len : 64), name, i);
    }
    return TASD_OK;
}

void tasd_layer_config_destroy(tasd_layer_config *c)
{
    if (!c)
        return;
    tasd_allocator a = c->allocator;
    free_str(&a, c->name);
    free_str(&a, c->target);
    tasd_config_destroy(c->w);
    tasd_config_destroy(c->a);
    tasdi_free(&a, c, sizeof *c);
}

/* Build from already-checked parts. */
static tasd_status lc_new(const tasd_allocator *a, const char *name, size_t name_len,
                          const tasd_config *w, const tasd_config *act,
                          tasd_method method, const char *target, tasd_dtype values,
                          tasd_layer_config **out)
{
    tasd_layer_config *c = tasdi_calloc(a, 1, sizeof *c);
    if (!c)
        return TASD_ERR_OUT_OF_MEMORY;
    c->allocator = *a;
    c->method = method;
    c->values = values;
    tasd_status st = TASD_OK;
    c->name = dup_str(a, name, name_len);
    c->target = dup_str(a, target ? target : "", target ? strlen(target) : 0);
    if (!c->name || !c->target)
        st = TASD_ERR_OUT_OF_MEMORY;
    if (!st && w)
        st = tasdi_config_copy(a, w, &c->w);
    if (!st && act)
        st = tasdi_config_copy(a, act, &c->a);
    if (st) {
        tasd_layer_config_destroy(c);
        return st;
    }
    *out = c;
    return TASD_OK;
}

tasd_status tasdi_layer_config_copy(const tasd_allocator *a, const tasd_layer_config *src,
                                    tasd_layer_config **out)
{
    return lc_new(a, src->name, strlen(src->name), src->w, src->a, src->method,
                  src->target, src->values, out);
}

tasd_status tasd_layer_config_create(tasd_context *ctx, const char *name,
                                     const tasd_config *weights,
                                     const tasd_config *activations, tasd_method method,
                                     const char *target, tasd_layer_config **out)
{
    if (!name || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER,
                          "tasd_layer_config_create: name and out must not be NULL");
    tasd_status st = check_name(name, strlen(name));
    if (st)
        return st;
    if (method != TASD_GREEDY && method != TASD_OPTIMAL)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "tasd_layer_config_create: unknown method %d", (int)method);
    if (target && *target) {
        for (const char *p = target; *p; p++)
            if (is_space(*p) || *p == '#')
                return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                                  "tasd_layer_config_create: target spec must not hold "
                                  "whitespace or '#'");
        st = tasdi_target_spec_check(target);
        if (st)
            return st;
    }
    return lc_new(tasdi_allocator(ctx), name, strlen(name), weights, activations, method,
                  target, TASD_F32, out);
}

const char *tasd_layer_config_name(const tasd_layer_config *c) { return c ? c->name : NULL; }
const tasd_config *tasd_layer_config_weights(const tasd_layer_config *c) { return c ? c->w : NULL; }
const tasd_config *tasd_layer_config_activations(const tasd_layer_config *c) { return c ? c->a : NULL; }
tasd_method tasd_layer_config_method(const tasd_layer_config *c) { return c ? c->method : TASD_GREEDY; }
const char *tasd_layer_config_target(const tasd_layer_config *c) { return c ? c->target : NULL; }
tasd_dtype tasd_layer_config_values(const tasd_layer_config *c) { return c ? c->values : TASD_F32; }

/* The value of values=: a series value type by its tasd_dtype_name. */
static bool parse_values(const char *v, tasd_dtype *out)
{
    static const tasd_dtype types[] = {TASD_F32, TASD_BF16, TASD_F16};
    for (int i = 0; i < 3; i++)
        if (strcmp(v, tasd_dtype_name(types[i])) == 0) {
            *out = types[i];
            return true;
        }
    return false;
}

/* Parse the value of W= or A=: "none" or a config. */
static tasd_status parse_series(tasd_context *ctx, const char *key, const char *v,
                                tasd_config **out)
{
    *out = NULL;
    if (strcmp(v, "none") == 0)
        return TASD_OK;
    tasd_status st = tasd_config_parse(ctx, v, out);
    if (st == TASD_ERR_OUT_OF_MEMORY)
        return st;
    if (st) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", tasd_last_error_message());
        return tasdi_fail(TASD_ERR_FORMAT, "%s=%.40s: %s", key, v, msg);
    }
    return TASD_OK;
}

tasd_status tasd_layer_config_parse(tasd_context *ctx, const char *line,
                                    tasd_layer_config **out)
{
    if (!line || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER,
                          "tasd_layer_config_parse: line and out must not be NULL");
    const tasd_allocator *a = tasdi_allocator(ctx);
    size_t len = strcspn(line, "#\n");
    char *buf = dup_str(a, line, len);
    if (!buf)
        return TASD_ERR_OUT_OF_MEMORY;
    size_t buf_size = len + 1;
    tasd_config *w = NULL, *act = NULL;
    tasd_method method = TASD_GREEDY;
    const char *target = NULL;
    tasd_dtype values = TASD_F32;
    bool have_w = false, have_a = false, have_m = false, have_v = false;
    const char *name = NULL;
    size_t name_len = 0;
    tasd_status st = TASD_OK;
    char *p = buf;
    for (;;) {
        while (is_space(*p))
            p++;
        if (!*p)
            break;
        char *tok = p;
        while (*p && !is_space(*p))
            p++;
        if (*p)
            *p++ = '\0';
        if (!name) {
            if (strchr(tok, '=')) {
                st = tasdi_fail(TASD_ERR_FORMAT, "missing layer name before \"%.40s\"", tok);
                break;
            }
            name = tok;
            name_len = strlen(tok);
            st = check_name(name, name_len);
            if (st) {
                char msg[256]; /* the message buffer cannot be its own source */
                snprintf(msg, sizeof msg, "%s", tasd_last_error_message());
                st = tasdi_fail(TASD_ERR_FORMAT, "%s", msg);
                break;
            }
            continue;
        }
        char *eq = strchr(tok, '=');
        if (!eq) {
            st = tasdi_fail(TASD_ERR_FORMAT, "\"%.40s\": want KEY=VALUE", tok);
            break;
        }
        *eq = '\0';
        const char *v = eq + 1;
        if (strcmp(tok, "W") == 0 || strcmp(tok, "A") == 0) {
            bool *have = tok[0] == 'W' ? &have_w : &have_a;
            if (*have) {
                st = tasdi_fail(TASD_ERR_FORMAT, "key %s given twice", tok);
                break;
            }
            *have = true;
            st = parse_series(ctx, tok, v, tok[0] == 'W' ? &w : &act);
            if (st)
                break;
        } else if (strcmp(tok, "method") == 0) {
            if (have_m) {
                st = tasdi_fail(TASD_ERR_FORMAT, "key method given twice");
                break;
            }
            have_m = true;
            if (tasd_method_parse(v, &method)) {
                st = tasdi_fail(TASD_ERR_FORMAT, "method=%.40s: want greedy or optimal", v);
                break;
            }
        } else if (strcmp(tok, "target") == 0) {
            if (target) {
                st = tasdi_fail(TASD_ERR_FORMAT, "key target given twice");
                break;
            }
            if (tasdi_target_spec_check(v)) {
                char msg[256];
                snprintf(msg, sizeof msg, "%s", tasd_last_error_message());
                st = tasdi_fail(TASD_ERR_FORMAT, "target=%.40s: %s", v, msg);
                break;
            }
            target = v;
        } else if (strcmp(tok, "values") == 0) {
            if (have_v) {
                st = tasdi_fail(TASD_ERR_FORMAT, "key values given twice");
                break;
            }
            have_v = true;
            if (!parse_values(v, &values)) {
                st = tasdi_fail(TASD_ERR_FORMAT, "values=%.40s: want f32, bf16 or f16", v);
                break;
            }
        } else {
            st = tasdi_fail(TASD_ERR_FORMAT,
                            "unknown key \"%.40s\" (want W, A, method, target or values)", tok);
            break;
        }
    }
    if (!st && !name)
        st = tasdi_fail(TASD_ERR_FORMAT, "empty line: want \"NAME W=... A=...\"");
    if (!st && values != TASD_F32 && !w)
        st = tasdi_fail(TASD_ERR_FORMAT, "values=%s: the value type of a W series, and W is none",
                        tasd_dtype_name(values));
    if (!st)
        st = lc_new(a, name, name_len, w, act, method, target, values, out);
    tasd_config_destroy(w);
    tasd_config_destroy(act);
    tasdi_free(a, buf, buf_size);
    return st;
}

/* Append formatted text; len tracks the full length even past cap. */
static void put(char *dst, size_t cap, size_t *len, const char *s)
{
    size_t n = strlen(s);
    if (*len < cap) {
        size_t room = cap - *len;
        memcpy(dst + *len, s, n < room ? n : room);
    }
    *len += n;
}

/* A side's series config, or "none" without one. */
static void put_series(char *dst, size_t cap, size_t *len, const tasd_config *series)
{
    char text[TASD_MAX_TERMS * 8 + 8];
    if (series && tasd_config_format(series, text, sizeof text, NULL) == TASD_OK)
        put(dst, cap, len, text);
    else
        put(dst, cap, len, "none");
}

/* A text writer: formats obj into dst[0..cap) (not NUL-terminated) and
 * returns the full length, whatever cap is (0 with dst NULL: measure). */
typedef size_t text_writer(const void *obj, char *dst, size_t cap);

/* The tail both public *_format calls share: measure the text, let
 * tasdi_text_room check the caller's buffer, then write it and its NUL. */
static tasd_status format_text(const char *fn, text_writer *write, const void *obj, char *buf,
                               size_t size, size_t *needed)
{
    size_t len = write(obj, NULL, 0);
    tasd_status st = tasdi_text_room(fn, len, buf, size, needed);
    if (st)
        return st;
    write(obj, buf, size);
    buf[len] = '\0';
    return TASD_OK;
}

/* A text_writer of one tasd_layer_config (one line, no newline). */
static size_t lc_format(const void *obj, char *dst, size_t cap)
{
    const tasd_layer_config *c = obj;
    size_t len = 0;
    put(dst, cap, &len, c->name);
    put(dst, cap, &len, " W=");
    put_series(dst, cap, &len, c->w);
    put(dst, cap, &len, " A=");
    put_series(dst, cap, &len, c->a);
    put(dst, cap, &len, " method=");
    put(dst, cap, &len, tasd_method_name(c->method));
    if (c->target[0]) {
        put(dst, cap, &len, " target=");
        put(dst, cap, &len, c->target);
    }
    if (c->values != TASD_F32) {
        put(dst, cap, &len, " values=");
        put(dst, cap, &len, tasd_dtype_name(c->values));
    }
    return len;
}

tasd_status tasd_layer_config_format(const tasd_layer_config *c, char *buf, size_t size,
                                     size_t *needed)
{
    if (!c)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_layer_config_format: config is NULL");
    return format_text("tasd_layer_config_format", lc_format, c, buf, size, needed);
}

/* ---- model configs ---- */

struct tasd_model_config {
    tasd_allocator allocator;
    int64_t count, cap;
    tasd_layer_config **layers;
};

tasd_status tasd_model_config_create(tasd_context *ctx, tasd_model_config **out)
{
    if (!out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_model_config_create: out is NULL");
    const tasd_allocator *a = tasdi_allocator(ctx);
    tasd_model_config *m = tasdi_calloc(a, 1, sizeof *m);
    if (!m)
        return TASD_ERR_OUT_OF_MEMORY;
    m->allocator = *a;
    *out = m;
    return TASD_OK;
}

void tasd_model_config_destroy(tasd_model_config *m)
{
    if (!m)
        return;
    tasd_allocator a = m->allocator;
    for (int64_t i = 0; i < m->count; i++)
        tasd_layer_config_destroy(m->layers[i]);
    tasdi_free(&a, m->layers, (size_t)m->cap * sizeof *m->layers);
    tasdi_free(&a, m, sizeof *m);
}

int64_t tasd_model_config_count(const tasd_model_config *m) { return m ? m->count : 0; }

const tasd_layer_config *tasd_model_config_layer(const tasd_model_config *m, int64_t i)
{
    return (m && i >= 0 && i < m->count) ? m->layers[i] : NULL;
}

const tasd_layer_config *tasd_model_config_find(const tasd_model_config *m, const char *name)
{
    if (!m || !name)
        return NULL;
    for (int64_t i = 0; i < m->count; i++)
        if (strcmp(m->layers[i]->name, name) == 0)
            return m->layers[i];
    return NULL;
}

/* Take ownership of c (destroyed on error). */
static tasd_status model_push(tasd_model_config *m, tasd_layer_config *c)
{
    if (tasd_model_config_find(m, c->name)) {
        tasd_status st = tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                                    "layer \"%.64s\" appears twice", c->name);
        tasd_layer_config_destroy(c);
        return st;
    }
    if (m->count == m->cap) {
        int64_t ncap = m->cap ? m->cap * 2 : 16;
        tasd_layer_config **nl = tasdi_alloc(&m->allocator, (size_t)ncap * sizeof *nl);
        if (!nl) {
            tasd_layer_config_destroy(c);
            return TASD_ERR_OUT_OF_MEMORY;
        }
        if (m->count)
            memcpy(nl, m->layers, (size_t)m->count * sizeof *nl);
        tasdi_free(&m->allocator, m->layers, (size_t)m->cap * sizeof *m->layers);
        m->layers = nl;
        m->cap = ncap;
    }
    m->layers[m->count++] = c;
    return TASD_OK;
}

tasd_status tasd_model_config_add(tasd_model_config *m, const tasd_layer_config *layer)
{
    if (!m || !layer)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_model_config_add: NULL argument");
    tasd_layer_config *c;
    tasd_status st = tasdi_layer_config_copy(&m->allocator, layer, &c);
    if (st)
        return st;
    return model_push(m, c);
}

static tasd_status model_parse(tasd_context *ctx, const char *text, size_t size,
                               const char *file, tasd_model_config **out)
{
    tasd_model_config *m;
    tasd_status st = tasd_model_config_create(ctx, &m);
    if (st)
        return st;
    const tasd_allocator *a = &m->allocator;
    size_t pos = 0;
    int64_t lineno = 0;
    while (pos < size && !st) {
        lineno++;
        size_t end = pos;
        while (end < size && text[end] != '\n')
            end++;
        size_t len = end - pos;
        if (memchr(text + pos, '\0', len)) {
            st = tasdi_fail(TASD_ERR_FORMAT, "%s%sline %lld: NUL byte", file ? file : "",
                            file ? ": " : "", (long long)lineno);
            break;
        }
        size_t i = 0;
        while (i < len && is_space(text[pos + i]))
            i++;
        if (i < len && text[pos + i] != '#') {
            char *line = dup_str(a, text + pos, len);
            if (!line) {
                st = TASD_ERR_OUT_OF_MEMORY;
                break;
            }
            tasd_layer_config *c = NULL;
            st = tasd_layer_config_parse(ctx, line, &c);
            tasdi_free(a, line, len + 1);
            if (!st)
                st = model_push(m, c);
            if (st && st != TASD_ERR_OUT_OF_MEMORY) {
                char msg[400];
                snprintf(msg, sizeof msg, "%s", tasd_last_error_message());
                st = tasdi_fail(TASD_ERR_FORMAT, "%s%sline %lld: %s", file ? file : "",
                                file ? ": " : "", (long long)lineno, msg);
            }
        }
        pos = end + 1;
    }
    if (st) {
        tasd_model_config_destroy(m);
        return st;
    }
    *out = m;
    return TASD_OK;
}

tasd_status tasd_model_config_parse(tasd_context *ctx, const char *text, size_t size,
                                    tasd_model_config **out)
{
    if ((!text && size) || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_model_config_parse: NULL argument");
    return model_parse(ctx, text ? text : "", size, NULL, out);
}

#define MODEL_FILE_MAX ((long)1 << 30)

tasd_status tasd_model_config_load(tasd_context *ctx, const char *path,
                                   tasd_model_config **out)
{
    if (!path || !out)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_model_config_load: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f)
        return tasdi_fail(TASD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    const tasd_allocator *a = tasdi_allocator(ctx);
    size_t cap = 4096, len = 0;
    char *buf = tasdi_alloc(a, cap);
    tasd_status st = buf ? TASD_OK : TASD_ERR_OUT_OF_MEMORY;
    while (!st) {
        if (len == cap) {
            if (cap >= (size_t)MODEL_FILE_MAX) {
                st = tasdi_fail(TASD_ERR_FORMAT, "%s: larger than %ld bytes", path,
                                MODEL_FILE_MAX);
                break;
            }
            char *nb = tasdi_alloc(a, cap * 2);
            if (!nb) {
                st = TASD_ERR_OUT_OF_MEMORY;
                break;
            }
            memcpy(nb, buf, len);
            tasdi_free(a, buf, cap);
            buf = nb;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f))
                st = tasdi_fail(TASD_ERR_IO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (!st)
        st = model_parse(ctx, buf, len, path, out);
    tasdi_free(a, buf, cap);
    return st;
}

static const char model_header[] = "# libtasd layer configs: NAME W=SERIES|none A=SERIES|none "
                                   "method=greedy|optimal [target=SPEC]\n";

/* A text_writer of a tasd_model_config: the header, then a line per layer. */
static size_t model_format(const void *obj, char *dst, size_t cap)
{
    const tasd_model_config *m = obj;
    size_t len = 0;
    put(dst, cap, &len, model_header);
    for (int64_t i = 0; i < m->count; i++) {
        len += lc_format(m->layers[i], len < cap ? dst + len : NULL, len < cap ? cap - len : 0);
        put(dst, cap, &len, "\n");
    }
    return len;
}

tasd_status tasd_model_config_format(const tasd_model_config *m, char *buf, size_t size,
                                     size_t *needed)
{
    if (!m)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_model_config_format: model is NULL");
    return format_text("tasd_model_config_format", model_format, m, buf, size, needed);
}

tasd_status tasd_model_config_save(const tasd_model_config *m, const char *path)
{
    if (!m || !path)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "tasd_model_config_save: NULL argument");
    const tasd_allocator *a = &m->allocator;
    size_t len = model_format(m, NULL, 0);
    char *text = tasdi_alloc(a, len + 1);
    if (!text)
        return TASD_ERR_OUT_OF_MEMORY;
    model_format(m, text, len + 1);
    /* Temp file beside PATH, renamed over it only when complete. */
    tasdi_outfile o;
    tasd_status st = tasdi_out_open(a, path, &o);
    if (!st)
        st = tasdi_out_append(&o, text, len);
    if (!st)
        st = tasdi_out_commit(&o);
    else
        tasdi_out_abort(&o);
    tasdi_free(a, text, len + 1);
    return st;
}
