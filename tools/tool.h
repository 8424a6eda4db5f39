/* Shared declarations of the `tasd` command-line tool. */
#ifndef TASD_TOOL_H
#define TASD_TOOL_H

#include "tasd.h"

#include <stdbool.h>
#include <stdio.h>

extern const char *tool_argv0;
extern bool tool_quiet;

/* "tasd: " + message on stderr. */
void tool_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* The library's status string and detail message, for error lines. */
const char *tool_status(tasd_status st);

/* Progress on stderr, only when it is a terminal and --quiet is off. */
void tool_progress(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
void tool_progress_clear(void);

/* Which tensors of a model are matrices the tool decomposes: rank 2, or
 * rank 4 (conv, seen as [out, in*kh*kw]), of a readable dtype. Returns NULL
 * if eligible, else the reason it is skipped. */
const char *tool_skip_reason(const tasd_tensor_info *info, const char *patterns,
                             int64_t min_elements);
/* Comma-separated fnmatch(3) patterns; NULL or "" matches everything. */
bool tool_name_matches(const char *name, const char *patterns);

/* A view of tensor i: zero-copy when aligned, else a converted f32 copy in
 * *owned (free with free()). */
tasd_status tool_tensor_view(const tasd_tensorfile *m, int64_t i, tasd_view *v, float **owned);


int cmd_search(int argc, char **argv);

#endif
