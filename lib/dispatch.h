/* Backend selection: which kernels a call runs. */
#ifndef TASD_DISPATCH_H
#define TASD_DISPATCH_H

#include "internal.h"
#include "../kernels/kernels.h"

typedef struct tasdi_ops {
    tasd_backend id;
    tasdi_select_fn select;
    tasdi_term_gemm_fn term_gemm;
} tasdi_ops;

/* The kernels of a backend, or NULL if this build or CPU cannot run it. */
const tasdi_ops *tasdi_ops_for(tasd_backend backend);
/* The kernels calls on ctx run. NULL (with the error message set) when the
 * backend forced through TASD_BACKEND is not available. */
const tasdi_ops *tasdi_context_ops(const tasd_context *ctx);

#endif
