/*
 * gguf.c: GGUF v2/v3 reader over mmap (or a caller buffer).
 *
 * Every count, size and offset read from the file is checked against the bytes that remain before
 * it is used, so a truncated or corrupted file gives SPC_ERR_FORMAT with a message that names what
 * is wrong, never a crash. The checks follow ggml's reader: non-empty unique keys, known value
 * types, no nested arrays, tensor names under 64 bytes and unique, at most 4 dims, element counts
 * that do not overflow, ne[0] a multiple of the block size, contiguous tensor offsets, and a
 * power-of-two alignment. Only little-endian files are read.
 * Depends on: base, quant (type traits for tensor sizes).
 */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quant.h"

struct kv {
    char *key;
    enum spc_gguf_type type;
    union { uint64_t u; int64_t i; double f; } num;
    struct spc_gguf_str str;
    enum spc_gguf_type arr_type;
    uint64_t arr_n;
    const uint8_t *arr_data;
    struct spc_gguf_str *arr_strs;      /* for string arrays */
};

struct spc_gguf {
    const uint8_t *base;
    size_t size;
    bool mapped;
    uint32_t version;
    uint32_t alignment;
    int64_t n_kv;
    struct kv *kv;
    int64_t n_tensors;
    struct spc_gguf_tensor *tensors;
    uint64_t data_offset;
};

struct reader {
    const uint8_t *p;
    size_t off, size;
};

#define FMT_ERR(...) spc__err(SPC_ERR_FORMAT, __VA_ARGS__)

static int rd(struct reader *r, void *dst, size_t n, const char *what) {
    if (r->size - r->off < n)
        return FMT_ERR("gguf: truncated reading %s at byte %zu (file has %zu bytes)", what, r->off, r->size);
    memcpy(dst, r->p + r->off, n);
    r->off += n;
    return SPC_OK;
}

static int rd_str(struct reader *r, struct spc_gguf_str *s, const char *what) {
    uint64_t len = 0;
    int st = rd(r, &len, 8, what);
    if (st) return st;
    if (len > r->size - r->off)
        return FMT_ERR("gguf: %s length %" PRIu64 " at byte %zu runs past the end of the file",
                       what, len, r->off - 8);
    s->ptr = (const char *)r->p + r->off;
    s->len = len;
    r->off += len;
    return SPC_OK;
}

size_t spc__gguf_type_size(enum spc_gguf_type t) {
    switch (t) {
    case SPC_GGUF_UINT8: case SPC_GGUF_INT8: case SPC_GGUF_BOOL: return 1;
    case SPC_GGUF_UINT16: case SPC_GGUF_INT16: return 2;
    case SPC_GGUF_UINT32: case SPC_GGUF_INT32: case SPC_GGUF_FLOAT32: return 4;
    case SPC_GGUF_UINT64: case SPC_GGUF_INT64: case SPC_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static int rd_scalar(struct reader *r, struct kv *kv, const char *key) {
    uint8_t b[8] = {0};
    size_t n = spc__gguf_type_size(kv->type);
    int st = rd(r, b, n, key);
    if (st) return st;
    switch (kv->type) {
    case SPC_GGUF_UINT8: kv->num.u = b[0]; break;
    case SPC_GGUF_INT8: kv->num.i = (int8_t)b[0]; break;
    case SPC_GGUF_BOOL:
        if (b[0] > 1) return FMT_ERR("gguf: key '%s': bool value %u is not 0 or 1", key, b[0]);
        kv->num.u = b[0];
        break;
    case SPC_GGUF_UINT16: { uint16_t v; memcpy(&v, b, 2); kv->num.u = v; break; }
    case SPC_GGUF_INT16: { int16_t v; memcpy(&v, b, 2); kv->num.i = v; break; }
    case SPC_GGUF_UINT32: { uint32_t v; memcpy(&v, b, 4); kv->num.u = v; break; }
    case SPC_GGUF_INT32: { int32_t v; memcpy(&v, b, 4); kv->num.i = v; break; }
    case SPC_GGUF_FLOAT32: { float v; memcpy(&v, b, 4); kv->num.f = v; break; }
    case SPC_GGUF_UINT64: memcpy(&kv->num.u, b, 8); break;
    case SPC_GGUF_INT64: memcpy(&kv->num.i, b, 8); break;
    case SPC_GGUF_FLOAT64: memcpy(&kv->num.f, b, 8); break;
    default: break;
    }
    return SPC_OK;
}

static int rd_value(struct reader *r, struct kv *kv) {
    const char *key = kv->key;
    if (kv->type == SPC_GGUF_STRING) return rd_str(r, &kv->str, key);
    if (kv->type != SPC_GGUF_ARRAY) return rd_scalar(r, kv, key);
    uint32_t et = 0;
    int st = rd(r, &et, 4, key);
    if (st) return st;
    if (st == 0 && (et >= SPC_GGUF_TYPE_COUNT))
        return FMT_ERR("gguf: key '%s': invalid array element type %u", key, et);
    if (et == SPC_GGUF_ARRAY) return FMT_ERR("gguf: key '%s': nested arrays are not supported", key);
    kv->arr_type = (enum spc_gguf_type)et;
    if ((st = rd(r, &kv->arr_n, 8, key))) return st;
    size_t remain = r->size - r->off;
    if (et == SPC_GGUF_STRING) {
        /* each string takes at least 8 bytes: a cheap bound before allocating the index */
        if (kv->arr_n > remain / 8)
            return FMT_ERR("gguf: key '%s': string array count %" PRIu64 " exceeds the file", key, kv->arr_n);
        kv->arr_strs = spc__calloc(kv->arr_n ? kv->arr_n : 1, sizeof *kv->arr_strs);
        if (!kv->arr_strs) return spc__err(SPC_ERR_NOMEM, "gguf: out of memory for '%s'", key);
        for (uint64_t j = 0; j < kv->arr_n; j++)
            if ((st = rd_str(r, &kv->arr_strs[j], key))) return st;
        return SPC_OK;
    }
    size_t es = spc__gguf_type_size(kv->arr_type);
    if (kv->arr_n > remain / es)
        return FMT_ERR("gguf: key '%s': array of %" PRIu64 " elements runs past the end of the file",
                       key, kv->arr_n);
    kv->arr_data = r->p + r->off;
    r->off += kv->arr_n * es;
    if (kv->arr_type == SPC_GGUF_BOOL)
        for (uint64_t j = 0; j < kv->arr_n; j++)
            if (kv->arr_data[j] > 1) return FMT_ERR("gguf: key '%s': bool element is not 0 or 1", key);
    return SPC_OK;
}

static bool valid_utf8_key(const struct spc_gguf_str *s) {
    if (s->len == 0 || s->len > 65535) return false;
    for (uint64_t i = 0; i < s->len; i++)
        if ((unsigned char)s->ptr[i] < 0x20 || (unsigned char)s->ptr[i] >= 0x7f) return false;
    return true;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Keys and tensor names must be unique: sort the names once (n log n, also for hostile counts). */
static int check_unique(const struct spc_gguf *g) {
    int64_t n = spc__max64(g->n_kv, g->n_tensors);
    const char **names = spc__calloc(n ? (size_t)n : 1, sizeof *names);
    if (!names) return spc__err(SPC_ERR_NOMEM, "gguf: out of memory");
    int st = SPC_OK;
    for (int pass = 0; pass < 2 && st == SPC_OK; pass++) {
        int64_t m = pass == 0 ? g->n_kv : g->n_tensors;
        for (int64_t i = 0; i < m; i++) names[i] = pass == 0 ? g->kv[i].key : g->tensors[i].name;
        qsort(names, (size_t)m, sizeof *names, cmp_str);
        for (int64_t i = 1; i < m; i++)
            if (strcmp(names[i - 1], names[i]) == 0) {
                st = FMT_ERR("gguf: duplicate %s '%s'", pass == 0 ? "key" : "tensor", names[i]);
                break;
            }
    }
    spc__free(names);
    return st;
}

static int parse(struct spc_gguf *g) {
    struct reader r = { g->base, 0, g->size };
    uint8_t magic[4] = {0};
    int st = rd(&r, magic, 4, "magic");
    if (st) return st;
    if (memcmp(magic, "GGUF", 4) != 0) return FMT_ERR("gguf: bad magic (not a GGUF file)");
    if ((st = rd(&r, &g->version, 4, "version"))) return st;
    if (g->version == 1) return FMT_ERR("gguf: version 1 is no longer supported");
    if (g->version == 0) return FMT_ERR("gguf: invalid version 0");
    if ((g->version & 0xffff) == 0) return FMT_ERR("gguf: big-endian files are not supported");
    if (g->version > 3) return FMT_ERR("gguf: unknown version %u", g->version);
    uint64_t nt = 0, nkv = 0;
    if ((st = rd(&r, &nt, 8, "tensor count")) || (st = rd(&r, &nkv, 8, "metadata count"))) return st;
    /* each kv takes >= 8+1+4 bytes and each tensor info >= 8+4+8+4+8 */
    if (nkv > (r.size - r.off) / 13) return FMT_ERR("gguf: metadata count %" PRIu64 " exceeds the file", nkv);
    if (nt > (r.size - r.off) / 32) return FMT_ERR("gguf: tensor count %" PRIu64 " exceeds the file", nt);
    g->kv = spc__calloc(nkv ? nkv : 1, sizeof *g->kv);
    if (!g->kv) return spc__err(SPC_ERR_NOMEM, "gguf: out of memory");
    g->alignment = 32;
    for (uint64_t i = 0; i < nkv; i++) {
        struct kv *kv = &g->kv[i];
        struct spc_gguf_str key;
        if ((st = rd_str(&r, &key, "metadata key"))) return st;
        if (!valid_utf8_key(&key)) return FMT_ERR("gguf: metadata key %" PRIu64 " is empty, too long or not ASCII", i);
        if (!(kv->key = spc__strndup(key.ptr, key.len))) return spc__err(SPC_ERR_NOMEM, "gguf: out of memory");
        g->n_kv = (int64_t)i + 1;
        uint32_t t = 0;
        if ((st = rd(&r, &t, 4, kv->key))) return st;
        if (t >= SPC_GGUF_TYPE_COUNT) return FMT_ERR("gguf: key '%s': invalid value type %u", kv->key, t);
        kv->type = (enum spc_gguf_type)t;
        if ((st = rd_value(&r, kv))) return st;
        if (strcmp(kv->key, "general.alignment") == 0) {
            if (kv->type != SPC_GGUF_UINT32) return FMT_ERR("gguf: general.alignment must be a u32");
            if (kv->num.u == 0 || (kv->num.u & (kv->num.u - 1)))
                return FMT_ERR("gguf: general.alignment %" PRIu64 " is not a power of two", kv->num.u);
            g->alignment = (uint32_t)kv->num.u;
        }
    }
    g->tensors = spc__calloc(nt ? nt : 1, sizeof *g->tensors);
    if (!g->tensors) return spc__err(SPC_ERR_NOMEM, "gguf: out of memory");
    for (uint64_t i = 0; i < nt; i++) {
        struct spc_gguf_tensor *t = &g->tensors[i];
        struct spc_gguf_str name;
        if ((st = rd_str(&r, &name, "tensor name"))) return st;
        if (name.len == 0 || name.len >= 64)
            return FMT_ERR("gguf: tensor %" PRIu64 " name length %" PRIu64 " is not in 1..63", i, name.len);
        if (!(t->name = spc__strndup(name.ptr, name.len))) return spc__err(SPC_ERR_NOMEM, "gguf: out of memory");
        g->n_tensors = (int64_t)i + 1;
        if (strlen(t->name) != name.len) return FMT_ERR("gguf: tensor %" PRIu64 " name holds a NUL byte", i);
        if ((st = rd(&r, &t->n_dims, 4, t->name))) return st;
        if (t->n_dims == 0 || t->n_dims > 4) return FMT_ERR("gguf: tensor '%s' has %u dims (1..4)", t->name, t->n_dims);
        int64_t nel = 1;
        for (int d = 0; d < 4; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) {
            uint64_t v = 0;
            if ((st = rd(&r, &v, 8, t->name))) return st;
            if (v > INT64_MAX) return FMT_ERR("gguf: tensor '%s' dim %u is negative", t->name, d);
            t->ne[d] = (int64_t)v;
            if (t->ne[d] != 0 && nel > INT64_MAX / t->ne[d])
                return FMT_ERR("gguf: tensor '%s' element count overflows", t->name);
            nel *= t->ne[d];
        }
        if ((st = rd(&r, &t->type, 4, t->name)) || (st = rd(&r, &t->offset, 8, t->name))) return st;
        const struct spc_type_traits *tr = spc__type_traits(t->type);
        if (!tr) return FMT_ERR("gguf: tensor '%s' has unknown type %u", t->name, t->type);
        if (t->ne[0] % tr->blck)
            return FMT_ERR("gguf: tensor '%s' row of %" PRId64 " is not a multiple of the %s block size %d",
                           t->name, t->ne[0], tr->name, tr->blck);
        uint64_t nblk = (uint64_t)(nel / tr->blck);
        if (nblk > UINT64_MAX / tr->type_size) return FMT_ERR("gguf: tensor '%s' size overflows", t->name);
        t->size = nblk * tr->type_size;
    }
    if ((st = check_unique(g))) return st;
    uint64_t a = g->alignment;
    uint64_t data = r.off + (a - r.off % a) % a;
    if (data > g->size && g->n_tensors > 0) return FMT_ERR("gguf: data section starts past the end of the file");
    g->data_offset = data;
    uint64_t expect = 0;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        struct spc_gguf_tensor *t = &g->tensors[i];
        if (t->offset != expect)
            return FMT_ERR("gguf: tensor '%s' offset %" PRIu64 " is not the expected %" PRIu64
                           " (offsets must be contiguous)", t->name, t->offset, expect);
        if (t->size > g->size - data || t->offset > g->size - data - t->size)
            return FMT_ERR("gguf: tensor '%s' (%" PRIu64 " bytes at %" PRIu64 ") runs past the end of the file",
                           t->name, t->size, data + t->offset);
        t->data = g->base + data + t->offset;
        uint64_t padded = t->size + (a - t->size % a) % a;
        if (padded < t->size || expect > UINT64_MAX - padded) return FMT_ERR("gguf: tensor sizes overflow");
        expect += padded;
    }
    return SPC_OK;
}

static int open_common(struct spc_gguf **out, struct spc_gguf *g) {
    spc__init_tables();
    int st = parse(g);
    if (st) {
        spc_gguf_close(g);
        return st;
    }
    *out = g;
    return SPC_OK;
}

int spc_gguf_open_memory(struct spc_gguf **out, const void *buf, size_t size) {
    if (!out || (!buf && size)) return spc__err(SPC_ERR_INVALID, "gguf: NULL argument");
    *out = NULL;
    struct spc_gguf *g = spc__calloc(1, sizeof *g);
    if (!g) return spc__err(SPC_ERR_NOMEM, "gguf: out of memory");
    g->base = buf;
    g->size = size;
    return open_common(out, g);
}

int spc_gguf_open(struct spc_gguf **out, const char *path) {
    if (!out || !path) return spc__err(SPC_ERR_INVALID, "gguf: NULL argument");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return spc__err(SPC_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return spc__err(SPC_ERR_IO, "'%s' is not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    void *map = NULL;
    if (size > 0) {
        map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED) {
            close(fd);
            return spc__err(SPC_ERR_IO, "cannot mmap '%s': %s", path, strerror(errno));
        }
    }
    close(fd);
    struct spc_gguf *g = spc__calloc(1, sizeof *g);
    if (!g) {
        if (map) munmap(map, size);
        return spc__err(SPC_ERR_NOMEM, "gguf: out of memory");
    }
    g->base = map;
    g->size = size;
    g->mapped = map != NULL;
    int st = open_common(out, g);
    if (st) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", spc_errmsg());
        spc__err(st, "%s: %s", path, msg);
    }
    return st;
}

void spc__gguf_release(const struct spc_gguf *g, const void *p, size_t n) {
    if (!g->mapped) return;
    const uintptr_t page = 4096, a = ((uintptr_t)p + page - 1) & ~(page - 1), e = ((uintptr_t)p + n) & ~(page - 1);
    if (e > a) madvise((void *)a, e - a, MADV_DONTNEED);
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

uint64_t spc__gguf_fingerprint(const struct spc_gguf *g) {
    uint64_t h = fnv1a(0xcbf29ce484222325ull, g->base, g->data_offset < g->size ? g->data_offset : g->size);
    h = fnv1a(h, &g->size, sizeof g->size);
    for (int64_t i = 0; i < g->n_tensors; i++)
        h = fnv1a(h, g->tensors[i].data, g->tensors[i].size < 64 ? g->tensors[i].size : 64);
    return h;
}

void spc_gguf_close(struct spc_gguf *g) {
    if (!g) return;
    for (int64_t i = 0; i < g->n_kv; i++) {
        spc__free(g->kv[i].key);
        spc__free(g->kv[i].arr_strs);
    }
    spc__free(g->kv);
    for (int64_t i = 0; i < g->n_tensors; i++) spc__free((void *)g->tensors[i].name);
    spc__free(g->tensors);
    if (g->mapped) munmap((void *)g->base, g->size);
    spc__free(g);
}

uint32_t spc_gguf_version(const struct spc_gguf *g) { return g->version; }
int64_t spc_gguf_n_kv(const struct spc_gguf *g) { return g->n_kv; }
const char *spc_gguf_key(const struct spc_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_kv ? g->kv[i].key : NULL;
}

int spc_gguf_find(const struct spc_gguf *g, const char *key) {
    for (int64_t i = 0; i < g->n_kv; i++)
        if (strcmp(g->kv[i].key, key) == 0) return (int)i;
    return -1;
}

/* Out-of-range indices answer SPC_GGUF_TYPE_COUNT / 0 rather than reading past the table. */
enum spc_gguf_type spc_gguf_kv_type(const struct spc_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_kv ? g->kv[i].type : SPC_GGUF_TYPE_COUNT;
}
enum spc_gguf_type spc_gguf_arr_type(const struct spc_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_kv && g->kv[i].type == SPC_GGUF_ARRAY ? g->kv[i].arr_type : SPC_GGUF_TYPE_COUNT;
}
uint64_t spc_gguf_arr_n(const struct spc_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_kv && g->kv[i].type == SPC_GGUF_ARRAY ? g->kv[i].arr_n : 0;
}

const struct spc_gguf_str *spc__gguf_arr_str(const struct spc_gguf *g, int64_t i, uint64_t j) {
    if (i < 0 || i >= g->n_kv || !g->kv[i].arr_strs || j >= g->kv[i].arr_n) return NULL;
    return &g->kv[i].arr_strs[j];
}

const void *spc__gguf_arr_data(const struct spc_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_kv ? g->kv[i].arr_data : NULL;
}

static bool is_int(enum spc_gguf_type t) {
    return t == SPC_GGUF_UINT8 || t == SPC_GGUF_INT8 || t == SPC_GGUF_UINT16 || t == SPC_GGUF_INT16 ||
           t == SPC_GGUF_UINT32 || t == SPC_GGUF_INT32 || t == SPC_GGUF_UINT64 || t == SPC_GGUF_INT64 ||
           t == SPC_GGUF_BOOL;
}
static bool is_signed(enum spc_gguf_type t) {
    return t == SPC_GGUF_INT8 || t == SPC_GGUF_INT16 || t == SPC_GGUF_INT32 || t == SPC_GGUF_INT64;
}

int spc_gguf_get_int(const struct spc_gguf *g, const char *key, int64_t *out) {
    int i = spc_gguf_find(g, key);
    if (i < 0) return spc__err(SPC_ERR_NOTFOUND, "gguf: key '%s' not found", key);
    const struct kv *kv = &g->kv[i];
    if (!is_int(kv->type)) return spc__err(SPC_ERR_INVALID, "gguf: key '%s' is not an integer", key);
    if (!is_signed(kv->type) && kv->num.u > INT64_MAX)
        return spc__err(SPC_ERR_INVALID, "gguf: key '%s' value is out of range", key);
    *out = is_signed(kv->type) ? kv->num.i : (int64_t)kv->num.u;
    return SPC_OK;
}

int spc_gguf_get_float(const struct spc_gguf *g, const char *key, double *out) {
    int i = spc_gguf_find(g, key);
    if (i < 0) return spc__err(SPC_ERR_NOTFOUND, "gguf: key '%s' not found", key);
    const struct kv *kv = &g->kv[i];
    if (kv->type == SPC_GGUF_FLOAT32 || kv->type == SPC_GGUF_FLOAT64) *out = kv->num.f;
    else if (is_int(kv->type)) *out = is_signed(kv->type) ? (double)kv->num.i : (double)kv->num.u;
    else return spc__err(SPC_ERR_INVALID, "gguf: key '%s' is not a number", key);
    return SPC_OK;
}

int spc_gguf_get_str(const struct spc_gguf *g, const char *key, const char **out, size_t *len) {
    int i = spc_gguf_find(g, key);
    if (i < 0) return spc__err(SPC_ERR_NOTFOUND, "gguf: key '%s' not found", key);
    if (g->kv[i].type != SPC_GGUF_STRING) return spc__err(SPC_ERR_INVALID, "gguf: key '%s' is not a string", key);
    *out = g->kv[i].str.ptr;
    *len = g->kv[i].str.len;
    return SPC_OK;
}

static const char *gguf_type_name(enum spc_gguf_type t) {
    static const char *names[] = { "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str",
                                   "arr", "u64", "i64", "f64" };
    return (unsigned)t < SPC_GGUF_TYPE_COUNT ? names[t] : "?";
}

static int fmt_num(const struct kv *kv, char *buf, size_t cap) {
    switch (kv->type) {
    case SPC_GGUF_FLOAT32: case SPC_GGUF_FLOAT64: return snprintf(buf, cap, "%.9g", kv->num.f);
    case SPC_GGUF_BOOL: return snprintf(buf, cap, "%s", kv->num.u ? "true" : "false");
    default:
        return is_signed(kv->type) ? snprintf(buf, cap, "%" PRId64, kv->num.i)
                                   : snprintf(buf, cap, "%" PRIu64, kv->num.u);
    }
}

int spc_gguf_kv_format(const struct spc_gguf *g, int64_t i, char *buf, size_t cap) {
    if (i < 0 || i >= g->n_kv) return spc__err(SPC_ERR_INVALID, "gguf: no key %" PRId64, i);
    const struct kv *kv = &g->kv[i];
    if (kv->type == SPC_GGUF_STRING) {
        int n = (int)(kv->str.len > 200 ? 200 : kv->str.len);
        return snprintf(buf, cap, "\"%.*s%s\"", n, kv->str.ptr, kv->str.len > 200 ? "..." : "");
    }
    if (kv->type != SPC_GGUF_ARRAY) return fmt_num(kv, buf, cap);
    int n = snprintf(buf, cap, "[%s x %" PRIu64 "]", gguf_type_name(kv->arr_type), kv->arr_n);
    if (kv->arr_type == SPC_GGUF_STRING && kv->arr_n > 0) {
        size_t used = (size_t)n < cap ? (size_t)n : cap;
        uint64_t show = kv->arr_n < 3 ? kv->arr_n : 3;
        for (uint64_t j = 0; j < show; j++) {
            const struct spc_gguf_str *s = &kv->arr_strs[j];
            int m = snprintf(cap ? buf + used : NULL, cap - used, " \"%.*s\"", (int)(s->len > 40 ? 40 : s->len), s->ptr);
            n += m;
            used = (size_t)n < cap ? (size_t)n : cap;
        }
    }
    return n;
}

int64_t spc_gguf_n_tensors(const struct spc_gguf *g) { return g->n_tensors; }

const struct spc_gguf_tensor *spc_gguf_tensor(const struct spc_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const struct spc_gguf_tensor *spc_gguf_find_tensor(const struct spc_gguf *g, const char *name) {
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0) return &g->tensors[i];
    return NULL;
}
