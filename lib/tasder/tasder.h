/* lib/tasder/: targets, layer configs, model configs, layers and the search.
 * Uses lib/core (core/core.h) and lib/io (io/io.h). Not installed. */
#ifndef TASD_TASDER_H
#define TASD_TASDER_H

#include "core/core.h"
#include "io/io.h"

/* ---- targets ---- */

#define TASDI_TARGET_SPEC_MAX 512

struct tasd_target {
    tasd_allocator allocator;
    char name[32];
    int measured;
    int tokens; /* activation rows tasd_target_measure times; 0: 128 */
    int npat;
    int n[TASD_TARGET_MAX_PATTERNS];
    int m[TASD_TARGET_MAX_PATTERNS];
    double cost[TASD_TARGET_MAX_PATTERNS];
    double act;   /* dense MACs per activation element per A-side term */
    double shared; /* cost a series saves per term after its first: the pass
                      over B and C its terms share (< every pattern's cost) */
};

/* Cost of term (n, m) on the target; < 0 if it cannot run it. */
double tasdi_target_term_cost(const tasd_target *t, int n, int m);
/* Check a target spec without building (or measuring) the target. */
tasd_status tasdi_target_spec_check(const char *spec);
/* The spec a layer config records for t: its name, "cpu-measured@TOKENS"
 * when timed at a token count, a custom target's costs. */
#define TASDI_TARGET_SPEC_BUF (TASD_TARGET_MAX_PATTERNS * 40 + 64)
tasd_status tasdi_target_spec(const tasd_target *t, char buf[TASDI_TARGET_SPEC_BUF]);

/* ---- layer configs ---- */

struct tasd_layer_config {
    tasd_allocator allocator;
    char *name;           /* NUL-terminated, owned */
    tasd_config *w;       /* NULL = none */
    tasd_config *a;       /* NULL = none */
    tasd_method method;
    char *target;         /* NUL-terminated, owned ("" = unspecified) */
    tasd_dtype values;    /* value type of the W series (text: values=) */
};

tasd_status tasdi_layer_config_copy(const tasd_allocator *a,
                                    const tasd_layer_config *src,
                                    tasd_layer_config **out);

/* Monotonic clock in seconds. */
double tasdi_seconds(void);

#endif
