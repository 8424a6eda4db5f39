/* A strict JSON reader (RFC 8259 strings and unsigned integers) for the
 * safetensors header. */
#include "io.h"

#include <stdlib.h>


tasd_status tasdi_json_fail(tasdi_json *j, const char *what)
{
    return tasdi_fail(TASD_ERR_FORMAT, "%s: safetensors header, byte %zu: %s", j->file,
                      (size_t)(j->p - j->b) + 8, what);
}

void tasdi_json_ws(tasdi_json *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

bool tasdi_json_eat(tasdi_json *j, unsigned char c)
{
    tasdi_json_ws(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return true;
    }
    return false;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool jhex4(tasdi_json *j, uint32_t *v)
{
    if (j->end - j->p < 4)
        return false;
    uint32_t x = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(j->p[i]);
        if (h < 0)
            return false;
        x = x * 16 + (uint32_t)h;
    }
    j->p += 4;
    *v = x;
    return true;
}

/* Parse a string into a fresh NUL-terminated buffer (*out, *len). Rejects
 * invalid UTF-8, lone surrogates, control characters and \u0000. */
tasd_status tasdi_json_string(tasdi_json *j, char **out, size_t *len)
{
    tasdi_json_ws(j);
    if (j->p >= j->end || *j->p != '"')
        return tasdi_json_fail(j, "expected a string");
    j->p++;
    const unsigned char *s = j->p;
    while (j->p < j->end && *j->p != '"') {
        if (*j->p == '\\' && j->end - j->p > 1)
            j->p++;
        j->p++;
    }
    if (j->p >= j->end)
        return tasdi_json_fail(j, "unterminated string");
    size_t raw = (size_t)(j->p - s);
    if (!tasdi_utf8_valid(s, raw))
        return tasdi_json_fail(j, "string is not valid UTF-8");
    char *buf = tasdi_alloc(j->a, raw + 1);
    if (!buf)
        return TASD_ERR_OUT_OF_MEMORY;
    size_t n = 0;
    tasdi_json k = *j;
    k.p = s;
    const unsigned char *stop = j->p;
    tasd_status st = TASD_OK;
    while (k.p < stop && st == TASD_OK) {
        unsigned char c = *k.p++;
        if (c < 0x20) {
            st = tasdi_json_fail(&k, "control character in a string");
        } else if (c != '\\') {
            buf[n++] = (char)c;
        } else {
            c = *k.p++;
            switch (c) {
            case '"': buf[n++] = '"'; break;
            case '\\': buf[n++] = '\\'; break;
            case '/': buf[n++] = '/'; break;
            case 'b': buf[n++] = '\b'; break;
            case 'f': buf[n++] = '\f'; break;
            case 'n': buf[n++] = '\n'; break;
            case 'r': buf[n++] = '\r'; break;
            case 't': buf[n++] = '\t'; break;
            case 'u': {
                uint32_t cp, lo;
                k.end = stop;
                if (!jhex4(&k, &cp)) {
                    st = tasdi_json_fail(&k, "bad \\u escape");
                    break;
                }
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    st = tasdi_json_fail(&k, "lone low surrogate");
                    break;
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (stop - k.p < 6 || k.p[0] != '\\' || k.p[1] != 'u') {
                        st = tasdi_json_fail(&k, "lone high surrogate");
                        break;
                    }
                    k.p += 2;
                    if (!jhex4(&k, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                        st = tasdi_json_fail(&k, "bad surrogate pair");
                        break;
                    }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (cp == 0) {
                    st = tasdi_json_fail(&k, "\\u0000 in a string");
                    break;
                }
                /* UTF-8 encode: never longer than the 6+ escape bytes. */
                if (cp < 0x80) {
                    buf[n++] = (char)cp;
                } else if (cp < 0x800) {
                    buf[n++] = (char)(0xC0 | (cp >> 6));
                    buf[n++] = (char)(0x80 | (cp & 0x3F));
                } else if (cp < 0x10000) {
                    buf[n++] = (char)(0xE0 | (cp >> 12));
                    buf[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    buf[n++] = (char)(0x80 | (cp & 0x3F));
                } else {
                    buf[n++] = (char)(0xF0 | (cp >> 18));
                    buf[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                    buf[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    buf[n++] = (char)(0x80 | (cp & 0x3F));
                }
                break;
            }
            default:
                st = tasdi_json_fail(&k, "bad escape in a string");
            }
        }
    }
    j->p++; /* closing quote */
    if (st) {
        tasdi_free(j->a, buf, raw + 1);
        return st;
    }
    buf[n] = 0;
    /* Keep the allocation size recoverable: the buffer is raw + 1 bytes. */
    *out = buf;
    *len = raw;
    return TASD_OK;
}

/* A non-negative integer without sign, fraction or exponent. */
tasd_status tasdi_json_uint(tasdi_json *j, uint64_t *v)
{
    tasdi_json_ws(j);
    if (j->p >= j->end || *j->p < '0' || *j->p > '9')
        return tasdi_json_fail(j, "expected a non-negative integer");
    if (*j->p == '0' && j->end - j->p > 1 && j->p[1] >= '0' && j->p[1] <= '9')
        return tasdi_json_fail(j, "leading zero in a number");
    uint64_t x = 0;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        unsigned dg = (unsigned)(*j->p - '0');
        if (x > (UINT64_MAX - dg) / 10)
            return tasdi_fail(TASD_ERR_OVERFLOW, "%s: safetensors header, byte %zu: integer overflows 64 bits",
                              j->file, (size_t)(j->p - j->b) + 8);
        x = x * 10 + dg;
        j->p++;
    }
    if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E'))
        return tasdi_json_fail(j, "expected an integer");
    *v = x;
    return TASD_OK;
}
