/* Kernel-ready packing of a series. The scalar reference runs on the
 * canonical layout directly, so there is nothing to pack yet. */
#include "internal.h"

tasd_status tasdi_series_pack(tasd_series *s)
{
    s->packed = NULL;
    s->packed_size = 0;
    return TASD_OK;
}

void tasdi_series_unpack(tasd_series *s)
{
    tasdi_free(&s->allocator, s->packed, s->packed_size);
    s->packed = NULL;
    s->packed_size = 0;
}
