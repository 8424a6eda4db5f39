/* libFuzzer target: the N:M config string parser (and format round trip). */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    tasd_config *c = NULL;
    if (tasd_config_parse(NULL, s, &c) == TASD_OK) {
        char buf[256];
        size_t need = 0;
        if (tasd_config_format(c, buf, sizeof buf, &need) != TASD_OK)
            abort();
        tasd_config *c2 = NULL;
        if (tasd_config_parse(NULL, buf, &c2) != TASD_OK)
            abort(); /* the canonical text must parse again */
        if (tasd_config_terms(c2) != tasd_config_terms(c))
            abort();
        for (int i = 0; i < tasd_config_terms(c); i++) {
            int n1, m1, n2, m2;
            tasd_config_term(c, i, &n1, &m1);
            tasd_config_term(c2, i, &n2, &m2);
            if (n1 != n2 || m1 != m2 || m1 < 2 || m1 > 32 || n1 < 1 || n1 > m1)
                abort();
        }
        tasd_config_destroy(c2);
    } else if (c) {
        abort(); /* outputs untouched on error */
    }
    tasd_config_destroy(c);
    free(s);
    return 0;
}
