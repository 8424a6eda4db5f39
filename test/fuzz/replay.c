/* Replays a fuzz target's seed corpus without libFuzzer, so `make test` (and
 * the sanitizer builds) run every corpus file through its harness. Built once
 * per target with REPLAY_CORPUS naming the corpus folder; each file that the
 * harness returns from counts as passed, a crash or abort fails the program. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    fclose(f);
    if (!buf)
        return -1;
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

int main(void)
{
    const char *dir = REPLAY_CORPUS;
    DIR *d = opendir(dir);
    if (!d) {
        printf("FAIL: cannot open corpus %s\n0 passed, 1 failed\n", dir);
        return 1;
    }
    int passed = 0, failed = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (replay_file(path) == 0) {
            passed++;
        } else {
            printf("FAIL: cannot read %s\n", path);
            failed++;
        }
    }
    closedir(d);
    if (passed == 0)
        failed++; /* an empty corpus replays nothing: say so */
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
