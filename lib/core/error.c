/* Version, status strings and the thread-local error detail. */
#include "core.h"

#include <stdio.h>

const char *tasd_version(void) { return TASD_VERSION_STRING; }

int tasd_version_number(void)
{
    return TASD_VERSION_MAJOR * 10000 + TASD_VERSION_MINOR * 100 +
           TASD_VERSION_PATCH;
}

const char *tasd_status_string(tasd_status status)
{
    switch (status) {
    case TASD_OK: return "ok";
    case TASD_ERR_NULL_POINTER: return "a required pointer is NULL";
    case TASD_ERR_INVALID_ARGUMENT: return "invalid argument";
    case TASD_ERR_SHAPE: return "wrong rank or mismatched shapes";
    case TASD_ERR_DTYPE: return "unsupported element type";
    case TASD_ERR_CONFIG: return "invalid N:M config";
    case TASD_ERR_OUT_OF_MEMORY: return "out of memory";
    case TASD_ERR_OVERFLOW: return "size overflow";
    case TASD_ERR_NONFINITE: return "input contains NaN or Inf";
    case TASD_ERR_ALIAS: return "output overlaps an input";
    case TASD_ERR_UNSUPPORTED: return "not supported (feature, or backend on this build or CPU)";
    case TASD_ERR_IO: return "I/O error";
    case TASD_ERR_FORMAT: return "malformed or corrupt data";
    case TASD_ERR_BUFFER_TOO_SMALL: return "buffer too small";
    case TASD_ERR_NOT_FOUND: return "not found";
    case TASD_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

static _Thread_local char last_error[512];

const char *tasd_last_error_message(void) { return last_error; }

tasd_status tasdi_text_room(const char *fn, size_t len, const char *buf, size_t size,
                            size_t *needed)
{
    if (needed)
        *needed = len;
    if (!buf || size < len + 1)
        return tasdi_fail(TASD_ERR_BUFFER_TOO_SMALL, "%s: need %zu bytes, have %zu", fn,
                          len + 1, buf ? size : 0);
    return TASD_OK;
}

tasd_status tasdi_check_size(const char *fn, const char *type, size_t size, size_t known)
{
    if (size != known)
        return tasdi_fail(TASD_ERR_INVALID_ARGUMENT,
                          "%s: %s.size is %zu, this libtasd knows %zu: set it to sizeof(%s) "
                          "before the call",
                          fn, type, size, known, type);
    return TASD_OK;
}

tasd_status tasdi_fail(tasd_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

void tasdi_task_error_capture(tasdi_task_error *e, tasd_status status)
{
    e->status = status;
    snprintf(e->message, sizeof e->message, "%s", last_error);
}

tasd_status tasdi_task_error_raise(const tasdi_task_error *e)
{
    return e->status ? tasdi_fail(e->status, "%s", e->message) : TASD_OK;
}
