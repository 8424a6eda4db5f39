/* File helpers: CRC-32, mappings, atomic output files, UTF-8 checks. */
/* madvise(MADV_DONTNEED): glibc's posix_madvise ignores POSIX_MADV_DONTNEED. */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE 1
#endif
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[0][i] = c;
    }
    /* Slicing-by-8 tables: table[k][i] is the CRC of byte i followed by k zeros. */
    for (int k = 1; k < 8; k++)
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = crc_table[k - 1][i];
            crc_table[k][i] = crc_table[0][c & 0xff] ^ (c >> 8);
        }
}

uint32_t tasdi_crc32(uint32_t crc, const void *data, size_t size)
{
    pthread_once(&crc_once, crc_init);
    const unsigned char *p = data;
    uint32_t c = ~crc;
    while (size >= 8) {
        uint32_t lo = c ^ tasdi_ld32(p), hi = tasdi_ld32(p + 4);
        c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
            crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
            crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
            crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
        p += 8;
        size -= 8;
    }
    while (size--)
        c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

tasd_status tasdi_map_file(const char *path, tasdi_map *out)
{
    if (!path)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "file name is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tasdi_fail(TASD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return tasdi_fail(TASD_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return tasdi_fail(TASD_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size > (uint64_t)SIZE_MAX) {
        close(fd);
        return tasdi_fail(TASD_ERR_OVERFLOW, "%s: file too large to map", path);
    }
    tasdi_map m = {NULL, (size_t)sb.st_size, false, true, (uint64_t)sb.st_dev,
                   (uint64_t)sb.st_ino};
    if (m.size > 0) {
        void *p = mmap(NULL, m.size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return tasdi_fail(TASD_ERR_IO, "%s: cannot map: %s", path, strerror(e));
        }
        m.data = p;
        m.mapped = true;
    }
    close(fd);
    *out = m;
    return TASD_OK;
}

bool tasdi_same_file(const char *path, const tasdi_map *m)
{
    struct stat sb;
    return m->has_id && stat(path, &sb) == 0 && (uint64_t)sb.st_dev == m->dev &&
           (uint64_t)sb.st_ino == m->ino;
}

void tasdi_unmap(tasdi_map *m)
{
    if (m->mapped && m->data)
        munmap((void *)(uintptr_t)m->data, m->size);
    m->data = NULL;
    m->size = 0;
    m->mapped = false;
}

void tasdi_map_release(const tasdi_map *m, uint64_t off, uint64_t len)
{
    if (!m->mapped || off >= m->size)
        return;
    long pg = sysconf(_SC_PAGESIZE);
    uint64_t page = pg > 0 ? (uint64_t)pg : 4096;
    uint64_t lo = (off + page - 1) / page * page, hi = off + len;
    if (hi > m->size)
        hi = m->size;
    hi = hi / page * page;
    if (hi <= lo)
        return;
    void *p = (void *)(uintptr_t)(m->data + lo);
#if defined(__linux__) && defined(MADV_DONTNEED)
    /* A read-only private file mapping: dropped pages are simply read
     * again from the file if touched later. */
    madvise(p, (size_t)(hi - lo), MADV_DONTNEED);
#else
    posix_madvise(p, (size_t)(hi - lo), POSIX_MADV_DONTNEED);
#endif
}

char *tasdi_strdup(const tasd_allocator *a, const char *s, size_t len)
{
    char *p = tasdi_alloc(a, len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = 0;
    }
    return p;
}

bool tasdi_utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int n;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; min = 0x10000; }
        else return false;
        if (len - i < (size_t)n + 1)
            return false;
        for (int k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += (size_t)n + 1;
    }
    return true;
}

/* Create PATH.tmp.XXXXXX, its name into tmp (strlen(PATH) + 12 bytes), with
 * the mode open(PATH, O_CREAT, 0666) would give PATH: 0666 less the umask,
 * applied by the kernel (umask() would race with other threads), or PATH's
 * own mode when PATH exists. mkstemp would make it 0600. Returns the fd or
 * -1 with errno set. */
static int create_temp_beside(const char *path, char *tmp)
{
    static _Atomic unsigned counter;
    size_t len = strlen(path);
    memcpy(tmp, path, len);
    struct stat target;
    bool keep_mode = stat(path, &target) == 0 && S_ISREG(target.st_mode);
    for (int attempt = 0; attempt < 100; attempt++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long r = (unsigned long)ts.tv_nsec ^ ((unsigned long)getpid() << 12) ^
                          ((unsigned long)counter++ * 2654435761u);
        snprintf(tmp + len, 12, ".tmp.%06lx", r & 0xffffff);
        int fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
        if (fd < 0 && errno == EEXIST)
            continue;
        if (fd >= 0 && keep_mode && fchmod(fd, target.st_mode & 07777) != 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            errno = e;
            return -1;
        }
        return fd;
    }
    errno = EEXIST;
    return -1;
}

tasd_status tasdi_out_open(const tasd_allocator *a, const char *path,
                           tasdi_outfile *o)
{
    memset(o, 0, sizeof *o);
    o->fd = -1;
    o->a = a;
    if (!path || !*path)
        return tasdi_fail(TASD_ERR_NULL_POINTER, "output file name is NULL or empty");
    size_t len = strlen(path);
    o->path = tasdi_strdup(a, path, len);
    o->tmp_size = len + 16;
    o->tmp = tasdi_alloc(a, o->tmp_size);
    if (!o->path || !o->tmp) {
        tasdi_out_abort(o);
        return TASD_ERR_OUT_OF_MEMORY;
    }
    o->fd = create_temp_beside(path, o->tmp);
    if (o->fd < 0) {
        int e = errno;
        o->tmp[0] = 0;
        tasdi_out_abort(o);
        return tasdi_fail(TASD_ERR_IO, "%s: cannot create a temporary file beside it: %s",
                          path, strerror(e));
    }
    return TASD_OK;
}

tasd_status tasdi_out_pwrite(tasdi_outfile *o, const void *data, size_t size,
                             uint64_t offset)
{
    const char *p = data;
    while (size > 0) {
        ssize_t w = pwrite(o->fd, p, size > ((size_t)1 << 30) ? ((size_t)1 << 30) : size,
                           (off_t)offset);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return tasdi_fail(TASD_ERR_IO, "%s: write failed: %s", o->path, strerror(errno));
        }
        if (w == 0)
            return tasdi_fail(TASD_ERR_IO, "%s: write made no progress", o->path);
        p += w;
        size -= (size_t)w;
        offset += (uint64_t)w;
    }
    return TASD_OK;
}

tasd_status tasdi_out_append(tasdi_outfile *o, const void *data, size_t size)
{
    tasd_status st = tasdi_out_pwrite(o, data, size, o->size);
    if (st == TASD_OK)
        o->size += size;
    return st;
}

tasd_status tasdi_out_commit(tasdi_outfile *o)
{
    if (fsync(o->fd) != 0) {
        int e = errno;
        tasdi_out_abort(o);
        return tasdi_fail(TASD_ERR_IO, "%s: cannot flush: %s", o->path ? o->path : "?",
                          strerror(e));
    }
    if (close(o->fd) != 0) {
        int e = errno;
        o->fd = -1;
        tasdi_out_abort(o);
        return tasdi_fail(TASD_ERR_IO, "%s: close failed: %s", o->path, strerror(e));
    }
    o->fd = -1;
    if (rename(o->tmp, o->path) != 0) {
        int e = errno;
        tasd_status st = tasdi_fail(TASD_ERR_IO, "%s: cannot rename the temporary file: %s",
                                    o->path, strerror(e));
        tasdi_out_abort(o);
        return st;
    }
    o->tmp[0] = 0; /* nothing to remove any more */
    tasdi_out_abort(o);
    return TASD_OK;
}

void tasdi_out_abort(tasdi_outfile *o)
{
    if (o->fd >= 0)
        close(o->fd);
    o->fd = -1;
    if (o->tmp && o->tmp[0])
        unlink(o->tmp);
    if (o->tmp)
        tasdi_free(o->a, o->tmp, o->tmp_size);
    if (o->path)
        tasdi_free(o->a, o->path, strlen(o->path) + 1);
    o->tmp = NULL;
    o->path = NULL;
}
