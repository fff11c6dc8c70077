/*
 * json.c: the little JSON the tools read: one object per line (JSONL prompt sets). A strict
 * recursive-descent scanner over a NUL-terminated buffer; it decodes strings (escapes, \u with
 * surrogate pairs, to UTF-8) and skips every other value. Malformed input is an error, never a
 * crash; nesting is limited to 64 levels.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools.h"

struct jp { const char *s; int depth; };

static void ws(struct jp *p) {
    while (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r') p->s++;
}

static int hex4(const char *s, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

/* Parses a string at p->s (which is at '"'); decodes into out (if not NULL, room for the raw
 * length + 1) and returns its length, or -1. */
static long string(struct jp *p, char *out) {
    if (*p->s != '"') return -1;
    const char *s = p->s + 1;
    long n = 0;
    for (;;) {
        unsigned char c = (unsigned char)*s;
        if (c == 0 || c < 0x20) return -1;
        if (c == '"') break;
        if (c != '\\') {
            if (out) out[n] = (char)c;
            n++;
            s++;
            continue;
        }
        char e = s[1];
        s += 2;
        char lit = e == '"' ? '"' : e == '\\' ? '\\' : e == '/' ? '/' : e == 'b' ? '\b' : e == 'f' ? '\f'
                 : e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : 0;
        if (lit) {
            if (out) out[n] = lit;
            n++;
            continue;
        }
        if (e != 'u') return -1;
        unsigned cp;
        if (hex4(s, &cp)) return -1;
        s += 4;
        if (cp >= 0xd800 && cp < 0xdc00) {
            unsigned lo;
            if (s[0] != '\\' || s[1] != 'u' || hex4(s + 2, &lo) || lo < 0xdc00 || lo >= 0xe000) return -1;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            s += 6;
        } else if (cp >= 0xdc00 && cp < 0xe000) {
            return -1;
        }
        char u[4];
        int k = cp < 0x80 ? (u[0] = (char)cp, 1)
              : cp < 0x800 ? (u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f)), 2)
              : cp < 0x10000 ? (u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f)),
                                u[2] = (char)(0x80 | (cp & 0x3f)), 3)
              : (u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f)),
                 u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f)), 4);
        if (out) memcpy(out + n, u, (size_t)k);
        n += k;
    }
    p->s = s + 1;
    return n;
}

static int value(struct jp *p);

static int container(struct jp *p, char close, bool keys) {
    if (++p->depth > 64) return -1;
    p->s++;
    ws(p);
    if (*p->s == close) {
        p->s++;
        p->depth--;
        return 0;
    }
    for (;;) {
        ws(p);
        if (keys) {
            if (string(p, NULL) < 0) return -1;
            ws(p);
            if (*p->s++ != ':') return -1;
        }
        if (value(p)) return -1;
        ws(p);
        if (*p->s == ',') {
            p->s++;
            continue;
        }
        if (*p->s++ != close) return -1;
        p->depth--;
        return 0;
    }
}

static int value(struct jp *p) {
    ws(p);
    char c = *p->s;
    if (c == '"') return string(p, NULL) < 0 ? -1 : 0;
    if (c == '{') return container(p, '}', true);
    if (c == '[') return container(p, ']', false);
    if (!strncmp(p->s, "true", 4)) { p->s += 4; return 0; }
    if (!strncmp(p->s, "false", 5)) { p->s += 5; return 0; }
    if (!strncmp(p->s, "null", 4)) { p->s += 4; return 0; }
    if (c == '-' || (c >= '0' && c <= '9')) {
        char *end;
        strtod(p->s, &end);
        if (end == p->s) return -1;
        p->s = end;
        return 0;
    }
    return -1;
}

static char *decode_here(struct jp *p) {
    struct jp q = *p;
    long n = string(&q, NULL);
    if (n < 0) return NULL;
    char *out = malloc((size_t)n + 1);
    if (!out) return NULL;
    string(p, out);
    out[n] = 0;
    return out;
}

/* Validates the object text obj and leaves p at the value of key: 1, 0 (absent), -1 (malformed). */
static int find_key(struct jp *p, const char *obj, const char *key) {
    p->s = obj;
    p->depth = 0;
    ws(p);
    if (*p->s != '{') return -1;
    struct jp whole = *p;
    if (value(&whole)) return -1;           /* the whole object must be valid */
    ws(&whole);
    if (*whole.s) return -1;
    p->s++;
    for (;;) {
        ws(p);
        if (*p->s == '}') return 0;
        char *k = decode_here(p);
        if (!k) return -1;
        ws(p);
        p->s++;                             /* ':' (validated above) */
        ws(p);
        bool match = !strcmp(k, key);
        free(k);
        if (match) return 1;
        if (value(p)) return -1;
        ws(p);
        if (*p->s == ',') p->s++;
    }
}

int json_object_get_str(const char *obj, const char *key, int index, char **out) {
    *out = NULL;
    struct jp p;
    int f = find_key(&p, obj, key);
    if (f <= 0) return f;
    if (index < 0 && *p.s == '"') {
        *out = decode_here(&p);
        return *out ? 1 : -1;
    }
    if (index >= 0 && *p.s == '[') {
        p.s++;
        for (int i = 0;; i++) {
            ws(&p);
            if (*p.s == ']') return 0;
            if (i == index) {
                if (*p.s != '"') return 0;
                *out = decode_here(&p);
                return *out ? 1 : -1;
            }
            if (value(&p)) return -1;
            ws(&p);
            if (*p.s == ',') p.s++;
        }
    }
    return 0;
}

int json_object_get_ints(const char *obj, const char *key, int32_t **out, int *n) {
    *out = NULL;
    *n = 0;
    struct jp p;
    int f = find_key(&p, obj, key);
    if (f <= 0) return f;
    if (*p.s != '[') return 0;
    int cap = 0;
    p.s++;
    for (;;) {
        ws(&p);
        if (*p.s == ']') return 1;
        char *end;
        long long v = strtoll(p.s, &end, 10);
        if (end == p.s || v < INT32_MIN || v > INT32_MAX || (*end != ',' && *end != ']' && *end != ' ' &&
                                                             *end != '\t' && *end != '\n' && *end != '\r')) {
            free(*out);
            *out = NULL;
            *n = 0;
            return 0;                       /* not an array of integers */
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 256;
            int32_t *t = realloc(*out, sizeof *t * (size_t)cap);
            if (!t) {
                free(*out);
                *out = NULL;
                *n = 0;
                return -1;
            }
            *out = t;
        }
        (*out)[(*n)++] = (int32_t)v;
        p.s = end;
        ws(&p);
        if (*p.s == ',') p.s++;
    }
}
