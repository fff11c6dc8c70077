/*
 * tools.h: what the files of the specula CLI share: the subcommands that live outside specula.c
 * and the small helpers they use (model names, errors, timing, options, JSON strings). Tools
 * include only the public header besides this one.
 */
#ifndef SPC_TOOLS_H
#define SPC_TOOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "specula.h"

/* Subcommands: argv[1] is the subcommand's name; they return the process exit code. */
int cmd_bench(int argc, char **argv);
int cmd_score(int argc, char **argv);   /* score.c */

/* Prints "specula: WHAT: <spc_errmsg> (<status>)" to stderr; returns 1. */
int fail(const char *what, int st);
/* Monotonic seconds. */
double now_s(void);
/* Resolves a path or a model name to a path (fetching a name that is not cached); 0 or -1, with
 * the reason printed. */
int resolve_model(const char *arg, char *out, size_t cap);
/* Resolves and loads; 0, or 1 with the reason printed. */
int load_model(const char *arg, struct spc_model **m);
/* The tokens of a prompt of len bytes (through the model's chat template when chat), BOS as the
 * model wants, special tokens parsed: the count with *out malloc'd (NULL when 0), or a negative
 * status. */
int prompt_tokens(const struct spc_model *m, const char *text, size_t len, bool chat, int32_t **out);
/* The whole file, NUL-terminated, malloc'd, its size in *len; NULL with the reason printed. */
char *read_file(const char *path, size_t *len);
/* Parses a decimal integer in [lo, hi]. */
bool parse_int(const char *s, long lo, long hi, int *out);
/* Writes n bytes of s as a JSON string literal. */
void json_str(FILE *f, const char *s, size_t n);
bool parse_float(const char *s, float *out);
/* Speculation options shared by run and bench: 1 if (a, v) was one (v consumed), 0 if not, -1 on
 * a bad value (message printed). */
int parse_spec_opt(const char *cmd, const char *a, const char *v, struct spc_gen_params *gp, const char **draft);
/* The memory drafter's sources, "request<sep>outputs<sep>corpus" (a non-empty subset) -> bits 0, 1, 2. */
bool parse_sources(const char *v, char sep, unsigned *out);
/* JSON (json.c): in the object text obj, the string value of key (index < 0) or element index of
 * its array; 1 found (*out malloc'd, decoded UTF-8), 0 absent or not a string, -1 malformed. */
int json_object_get_str(const char *obj, const char *key, int index, char **out);
/* The array of integers under key: 1 found (*out malloc'd, NULL when empty; *n elements), 0 absent
 * or not an array of 32-bit integers, -1 malformed or out of memory. */
int json_object_get_ints(const char *obj, const char *key, int32_t **out, int *n);
/* specula bench --prompts (bench_spec.c). */
int cmd_bench_prompts(int argc, char **argv);
/* The speculation statistics as JSON object members (no braces). */
void json_gen_stats(FILE *f, const struct spc_gen_stats *s);

#endif /* SPC_TOOLS_H */
