/*
 * gguf.h: internal view of an opened GGUF file (see gguf.c). String arrays are indexed once at
 * open so the tokenizer can walk them without re-parsing.
 */
#ifndef SPC_GGUF_H
#define SPC_GGUF_H

#include "base.h"

struct spc_gguf_str {
    const char *ptr;    /* inside the file; not NUL-terminated */
    uint64_t len;
};

/* The i-th string of a string-array value; NULL when i is not a string array or j is out of range. */
const struct spc_gguf_str *spc__gguf_arr_str(const struct spc_gguf *g, int64_t i, uint64_t j);
/* Raw element data of a numeric array (little-endian, as stored). */
const void *spc__gguf_arr_data(const struct spc_gguf *g, int64_t i);
/* Size in bytes of one element of a numeric GGUF type (0 for string/array). */
size_t spc__gguf_type_size(enum spc_gguf_type t);
/* Tells the kernel that [p, p + n) of a mapped file will not be read again (the whole pages inside
   it leave the process's resident set; the file keeps them). No effect on a caller's buffer. */
void spc__gguf_release(const struct spc_gguf *g, const void *p, size_t n);
/* 64-bit FNV-1a over the file's header and metadata (everything before the tensor data), its size
   and the first bytes of every tensor: tells one model file from another (a saved KV cache's key). */
uint64_t spc__gguf_fingerprint(const struct spc_gguf *g);

#endif
