/*
 * specula.h: the one public header of specula, a C inference engine for large language models
 * built around speculative decoding.
 *
 * Usage (greedy generation; error handling elided):
 *
 *     struct spc_model *m;
 *     spc_model_load(&m, "smollm2-135m.gguf");
 *     struct spc_ctx_params cp = spc_ctx_default_params();
 *     struct spc_ctx *ctx;
 *     spc_ctx_new(&ctx, m, &cp);
 *     int32_t toks[256];
 *     int n = spc_tokenize(spc_model_vocab(m), "Hello", 5, 0, 1, toks, 256);
 *     struct spc_batch b = { .n = n, .token = toks };       // one sequence, causal chain
 *     spc_forward(ctx, &b);                                    // logits of the last position
 *     int32_t next = spc_argmax(spc_ctx_logits(ctx, n - 1), spc_model_n_vocab(m));
 *
 * Conventions: fallible functions return int status (SPC_OK = 0, negative SPC_ERR_*), with a
 * thread-local message in spc_errmsg(). Objects are handed back through out-pointers; whoever
 * creates frees; *_free(NULL) is a no-op. Functions that fill caller buffers follow the snprintf
 * rule: they return the count needed and never write past the capacity.
 *
 * Thread safety: a model is immutable after load and may be shared by any number of contexts and
 * threads. A context (and a sampler) belongs to one thread at a time. The allocator and log hooks
 * are process-wide and must be set before other calls.
 */
#ifndef SPECULA_H
#define SPECULA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes ----------------------------------------------------------------------- */

#define SPC_STATUS_LIST(X)                                        \
    X(SPC_OK,               0, "ok")                              \
    X(SPC_ERR_NOMEM,       -1, "out of memory")                   \
    X(SPC_ERR_IO,          -2, "i/o error")                       \
    X(SPC_ERR_FORMAT,      -3, "malformed file")                  \
    X(SPC_ERR_UNSUPPORTED, -4, "unsupported")                     \
    X(SPC_ERR_INVALID,     -5, "invalid argument")                \
    X(SPC_ERR_CONTEXT,     -6, "context full")                    \
    X(SPC_ERR_NOTFOUND,    -7, "not found")

enum spc_status {
#define SPC_X_ENUM(name, val, str) name = val,
    SPC_STATUS_LIST(SPC_X_ENUM)
#undef SPC_X_ENUM
};

const char *spc_status_str(int status);
/* Detail of the last error on this thread (never NULL). */
const char *spc_errmsg(void);

/* ---- process-wide hooks ----------------------------------------------------------------- */

/* Every allocation of the library goes through this hook (accounting, failure injection). */
struct spc_allocator {
    void *(*alloc)(void *ud, size_t size);
    void *(*realloc)(void *ud, void *ptr, size_t size);
    void (*free)(void *ud, void *ptr);
    void *ud;
};
/* NULL restores the default (malloc/realloc/free). */
void spc_set_allocator(const struct spc_allocator *a);

enum spc_log_level { SPC_LOG_DEBUG = 0, SPC_LOG_INFO = 1, SPC_LOG_WARN = 2, SPC_LOG_ERROR = 3 };
typedef void (*spc_log_fn)(int level, const char *msg, void *ud);
/* The library never prints; messages go here (default: dropped). */
void spc_set_log(spc_log_fn fn, void *ud);

/* ---- GGUF files ------------------------------------------------------------------------- */

enum spc_gguf_type {
    SPC_GGUF_UINT8 = 0, SPC_GGUF_INT8 = 1, SPC_GGUF_UINT16 = 2, SPC_GGUF_INT16 = 3,
    SPC_GGUF_UINT32 = 4, SPC_GGUF_INT32 = 5, SPC_GGUF_FLOAT32 = 6, SPC_GGUF_BOOL = 7,
    SPC_GGUF_STRING = 8, SPC_GGUF_ARRAY = 9, SPC_GGUF_UINT64 = 10, SPC_GGUF_INT64 = 11,
    SPC_GGUF_FLOAT64 = 12, SPC_GGUF_TYPE_COUNT = 13
};

/* Tensor element types (ggml ids, as stored in GGUF). */
enum spc_type {
    SPC_TYPE_F32 = 0, SPC_TYPE_F16 = 1, SPC_TYPE_Q4_0 = 2, SPC_TYPE_Q4_1 = 3,
    SPC_TYPE_Q5_0 = 6, SPC_TYPE_Q5_1 = 7, SPC_TYPE_Q8_0 = 8, SPC_TYPE_Q8_1 = 9,
    SPC_TYPE_Q2_K = 10, SPC_TYPE_Q3_K = 11, SPC_TYPE_Q4_K = 12, SPC_TYPE_Q5_K = 13,
    SPC_TYPE_Q6_K = 14, SPC_TYPE_Q8_K = 15, SPC_TYPE_BF16 = 30, SPC_TYPE_COUNT = 43
};

struct spc_gguf;

struct spc_gguf_tensor {
    const char *name;
    uint32_t type;          /* enum spc_type */
    uint32_t n_dims;
    int64_t ne[4];          /* ne[0] is the contiguous dimension; unused dims are 1 */
    uint64_t offset;        /* from the start of the data section */
    uint64_t size;          /* bytes */
    const void *data;       /* inside the mapping */
};

/* Opens and validates a GGUF v2/v3 file over mmap. Malformed input gives SPC_ERR_FORMAT. */
int spc_gguf_open(struct spc_gguf **out, const char *path);
/* Same over a caller buffer (not copied; it must outlive the handle). */
int spc_gguf_open_memory(struct spc_gguf **out, const void *buf, size_t size);
void spc_gguf_close(struct spc_gguf *g);

uint32_t spc_gguf_version(const struct spc_gguf *g);
int64_t spc_gguf_n_kv(const struct spc_gguf *g);
const char *spc_gguf_key(const struct spc_gguf *g, int64_t i);
int spc_gguf_find(const struct spc_gguf *g, const char *key);      /* index or -1 */
/* Type of value i (SPC_GGUF_TYPE_COUNT for an index out of range). */
enum spc_gguf_type spc_gguf_kv_type(const struct spc_gguf *g, int64_t i);
/* For arrays: the element type and count. */
enum spc_gguf_type spc_gguf_arr_type(const struct spc_gguf *g, int64_t i);
uint64_t spc_gguf_arr_n(const struct spc_gguf *g, int64_t i);
/* Scalars converted to the asked kind; SPC_ERR_INVALID when the stored type does not fit. */
int spc_gguf_get_int(const struct spc_gguf *g, const char *key, int64_t *out);
int spc_gguf_get_float(const struct spc_gguf *g, const char *key, double *out);
int spc_gguf_get_str(const struct spc_gguf *g, const char *key, const char **out, size_t *len);
/* Writes a human-readable rendering of value i (arrays abbreviated); snprintf rule. */
int spc_gguf_kv_format(const struct spc_gguf *g, int64_t i, char *buf, size_t cap);

int64_t spc_gguf_n_tensors(const struct spc_gguf *g);
const struct spc_gguf_tensor *spc_gguf_tensor(const struct spc_gguf *g, int64_t i);
const struct spc_gguf_tensor *spc_gguf_find_tensor(const struct spc_gguf *g, const char *name);

const char *spc_type_name(uint32_t type);   /* "?" for unknown */

/* ---- models ----------------------------------------------------------------------------- */

struct spc_model;
struct spc_vocab;

/* Loads llama and qwen2 GGUF models (weights stay mmapped). */
int spc_model_load(struct spc_model **out, const char *path);
void spc_model_free(struct spc_model *m);

const struct spc_gguf *spc_model_gguf(const struct spc_model *m);
const struct spc_vocab *spc_model_vocab(const struct spc_model *m);
const char *spc_model_arch(const struct spc_model *m);
int spc_model_n_vocab(const struct spc_model *m);   /* rows of the output layer */
int spc_model_n_ctx_train(const struct spc_model *m);
int spc_model_n_layer(const struct spc_model *m);
int spc_model_n_embd(const struct spc_model *m);
/* Bytes of weights read by one forward pass of one position. */
uint64_t spc_model_weight_bytes(const struct spc_model *m);

/* ---- tokenizer -------------------------------------------------------------------------- */

int spc_vocab_n_tokens(const struct spc_vocab *v);
int32_t spc_vocab_bos(const struct spc_vocab *v);      /* -1 when none */
int32_t spc_vocab_eos(const struct spc_vocab *v);
int spc_vocab_add_bos(const struct spc_vocab *v);      /* 1 if the model wants BOS prepended */
int spc_vocab_is_eog(const struct spc_vocab *v, int32_t tok);   /* end of generation */
const char *spc_vocab_token_text(const struct spc_vocab *v, int32_t tok);  /* raw vocab string */
int32_t spc_vocab_find(const struct spc_vocab *v, const char *text);       /* -1 if absent */

/* Tokenizes len bytes of UTF-8 text. parse_special: strings of control and user-defined tokens
 * become those tokens. Returns the number of tokens needed (write at most cap), or a negative
 * status (SPC_ERR_INVALID on invalid UTF-8). */
int spc_tokenize(const struct spc_vocab *v, const char *text, size_t len, int add_bos,
                 int parse_special, int32_t *out, int cap);
/* The bytes of one token (control tokens render only when special is set); snprintf rule,
 * not NUL-terminated when it fills cap exactly. Negative status for an invalid id. */
int spc_token_to_piece(const struct spc_vocab *v, int32_t tok, int special, char *buf,
                       int cap);

/* Streaming detokenizer: holds back incomplete UTF-8 sequences so every chunk it returns is
 * valid UTF-8 on its own. */
struct spc_detok {
    const struct spc_vocab *vocab;
    int special;
    char pending[8];
    int n_pending;
};
void spc_detok_init(struct spc_detok *d, const struct spc_vocab *v, int special);
/* Appends the text of tok to out (cap bytes); returns bytes written or needed, snprintf rule. */
int spc_detok_push(struct spc_detok *d, int32_t tok, char *out, int cap);
/* Flushes what is held back (invalid bytes become U+FFFD). */
int spc_detok_flush(struct spc_detok *d, char *out, int cap);

/* Chat templates. */
struct spc_chat_msg {
    const char *role;       /* "system", "user", "assistant" */
    const char *content;
};
/* Renders messages with the model's template family (ChatML for llama/qwen2 models), optionally
 * opening an assistant turn. No default system message is inserted. snprintf rule. */
int spc_chat_apply(const struct spc_model *m, const struct spc_chat_msg *msgs, int n,
                   int add_assistant, char *buf, size_t cap);

/* ---- contexts and the forward pass ------------------------------------------------------ */

enum spc_kv_type { SPC_KV_F32 = 0, SPC_KV_F16 = 1 };

struct spc_ctx_params {
    int n_ctx;          /* positions per sequence (0: the model's training context) */
    int n_seq;          /* sequences, each with its own KV cache */
    int n_batch;        /* most positions in one forward call */
    int n_logits;       /* most positions with logits in one forward call */
    int n_threads;
    int kv_type;        /* enum spc_kv_type */
    int logits_vocab;   /* > 0: logits only for tokens [0, logits_vocab) (rounded up to 16), the
                           others read -inf; 0: all. For drafters: BPE ids are roughly in order of
                           frequency, and the output matrix is a large part of a small model. */
};
struct spc_ctx_params spc_ctx_default_params(void);

struct spc_ctx;
struct spc_gen;
int spc_ctx_new(struct spc_ctx **out, const struct spc_model *m, const struct spc_ctx_params *p);
void spc_ctx_free(struct spc_ctx *ctx);
int spc_ctx_n_ctx(const struct spc_ctx *ctx);
/* Bytes of the context's KV cache (K and V, every sequence), allocated at creation. */
size_t spc_ctx_kv_bytes(const struct spc_ctx *ctx);

/*
 * A batch of positions, possibly of several sequences, with an explicit attention structure.
 * Position i belongs to sequence seq[i] (all 0 when seq is NULL). It attends to its sequence's
 * committed KV prefix, to itself, and to its ancestors in the batch: parent[i] is the batch index
 * of an earlier position of the same sequence, or -1 for one that hangs directly off the prefix.
 * parent == NULL means a causal chain per sequence (each position's parent is the previous
 * position of its sequence in the batch). The RoPE position is prefix length + depth in the tree.
 * So a prompt, a chain of drafts and a token tree are all evaluated by the same code.
 * logits[i] != 0 asks for position i's logits (logits == NULL: the last position only).
 * Every position's K/V is appended to its sequence's cache in batch order; roll back with
 * spc_kv_truncate or keep a subset with spc_kv_compact.
 */
struct spc_batch {
    int n;
    const int32_t *token;
    const int32_t *seq;
    const int32_t *parent;
    const uint8_t *logits;
};
int spc_forward(struct spc_ctx *ctx, const struct spc_batch *b);
/* Logits (n_vocab floats) of batch position i of the last forward call; NULL if not asked. */
const float *spc_ctx_logits(const struct spc_ctx *ctx, int i);

int spc_kv_len(const struct spc_ctx *ctx, int seq);
/* The tokens whose K/V the cache of seq holds, spc_kv_len of them (valid until the next call that
 * changes the cache): what a prompt cache compares a new prompt against. */
const int32_t *spc_kv_tokens(const struct spc_ctx *ctx, int seq);
/* Rolls sequence seq back to its first n positions. */
int spc_kv_truncate(struct spc_ctx *ctx, int seq, int n);
/* Keeps positions start + keep[0..n_keep) (strictly increasing) as start..start+n_keep-1 and
 * drops the rest after start: a tree's accepted path becomes the committed prefix. */
int spc_kv_compact(struct spc_ctx *ctx, int seq, int start, const int32_t *keep, int n_keep);
/* Drops positions start..start+n-1 of seq (their K/V, e.g. the middle of a long context a drafter
 * need not attend to); later slots move down and keep their positions, and new tokens continue
 * after the last kept position, so RoPE stays consistent (K is stored rotated). */
int spc_kv_evict(struct spc_ctx *ctx, int seq, int start, int n);
/* The position of each slot of seq, spc_kv_len of them (slot i holds position i unless evicted). */
const int32_t *spc_kv_positions(const struct spc_ctx *ctx, int seq);
/* Saves the first n slots of seq (tokens, positions, K/V) to path (written to path.tmp, then
 * renamed); spc_kv_load replaces seq's cache with a saved one. A file saved with another model file
 * (by its fingerprint) or KV type is refused (SPC_ERR_INVALID), one longer than the context gives
 * SPC_ERR_CONTEXT, a damaged one SPC_ERR_FORMAT, a missing one SPC_ERR_NOTFOUND; the sequence is left
 * empty if the load failed after it began reading the rows. Prompt caching across runs (the
 * prefilled prompt of a long document is loaded instead of forwarded again). */
int spc_kv_save(const struct spc_ctx *ctx, int seq, int n, const char *path);
int spc_kv_load(struct spc_ctx *ctx, int seq, const char *path);

/* ---- sampling --------------------------------------------------------------------------- */

struct spc_sampler_params {
    float temp;         /* <= 0: greedy */
    int top_k;          /* <= 0: off */
    float top_p;        /* >= 1: off */
    float min_p;        /* <= 0: off */
    uint64_t seed;
};
struct spc_sampler_params spc_sampler_default_params(void);

struct spc_sampler;
int spc_sampler_new(struct spc_sampler **out, const struct spc_sampler_params *p, int n_vocab);
void spc_sampler_free(struct spc_sampler *s);
/* The final distribution after temperature, top-k, top-p and min-p: *n_out entries sorted by
 * descending probability, summing to 1. Pointers stay valid until the next call on s. Greedy
 * gives one entry with probability 1. */
int spc_sampler_dist(struct spc_sampler *s, const float *logits, const int32_t **ids,
                     const float **probs, int *n_out);
/* Draws a token from the final distribution (argmax when greedy). */
int32_t spc_sampler_sample(struct spc_sampler *s, const float *logits);
/* A uniform draw in [0,1) from the sampler's generator. */
double spc_sampler_uniform(struct spc_sampler *s);

int32_t spc_argmax(const float *logits, int n);

/* ---- speculative decoding ---------------------------------------------------------------- */

/*
 * A generator runs requests on a target model, plain or speculative: each step a drafter proposes
 * up to K tokens, the target evaluates them in one batched pass, verification keeps a prefix and
 * adds the target's own next token, and both KV caches roll back to what was kept. Greedy
 * verification (sampling.temp <= 0) gives exactly the tokens of plain greedy decoding; with
 * temperature, speculative sampling keeps the target's distribution exactly.
 *
 *     struct spc_gen_params gp = spc_gen_default_params();
 *     gp.method = SPC_SPEC_PLD;
 *     struct spc_gen *g;
 *     spc_gen_new(&g, model, &gp);
 *     struct spc_gen_request rq = { .prompt = toks, .n_prompt = n, .n_predict = 256 };
 *     struct spc_gen_result res;
 *     spc_gen_run(g, &rq, NULL, NULL, &res);      // res.text, res.tokens, spc_gen_stats(g)
 *
 * A generator owns its contexts (target, and the drafter's) and, like a context, belongs to one
 * thread at a time; nothing is allocated inside the draft-verify loop. Consecutive requests reuse
 * the KV cache of their longest common prefix (prompt caching).
 */
enum spc_spec_method { SPC_SPEC_NONE = 0, SPC_SPEC_DRAFT = 1, SPC_SPEC_PLD = 2, SPC_SPEC_NGRAM = 3, SPC_SPEC_SELFSPEC = 4,
                       SPC_SPEC_MEMORY = 5 };
#define SPC_SPEC_NMETHODS 6
/* What a model drafter attends to (the target always keeps everything): full, the first sinks
 * and the last window positions, or those plus the memory: the chunks of the evicted middle that
 * the target attended to most (MASW, memory-augmented sliding window). */
enum spc_draft_kv { SPC_DRAFT_KV_FULL = 0, SPC_DRAFT_KV_WINDOW = 1, SPC_DRAFT_KV_MASW = 2 };
/* How masw scores a chunk from the target's attention: the probability mass it receives (all heads
 * and positions), or the sum over heads and positions of the largest probability one gives it. */
enum spc_draft_score { SPC_DRAFT_SCORE_MASS = 0, SPC_DRAFT_SCORE_PEAK = 1 };
/* What masw's draft model prefills of a long prompt: every position (its cache evicting as it goes),
 * or only what its cache and store will hold: the sinks, the best-scored chunks and the last two
 * windows' worth of positions. */
enum spc_draft_prefill { SPC_DRAFT_PREFILL_FULL = 0, SPC_DRAFT_PREFILL_SPARSE = 1 };
/* How the memory drafter decides the draft length of a step. */
enum spc_draft_policy { SPC_POLICY_FIXED = 0, SPC_POLICY_THRESHOLD = 1, SPC_POLICY_ADAPTIVE = 2 };
int spc_draft_policy_from_name(const char *name);     /* "fixed", "threshold", "adaptive"; -1 if unknown */
const char *spc_draft_policy_name(int policy);         /* "?" if unknown */
#define SPC_SPEC_KMAX 32        /* most tokens drafted in one step */
int spc_spec_method_from_name(const char *name);      /* "none", "draft", ...; -1 if unknown */
const char *spc_spec_method_name(int method);          /* "?" if unknown */

struct spc_gen_params {
    int method;                 /* enum spc_spec_method */
    int draft_max;              /* K: most tokens drafted in one step, 1..SPC_SPEC_KMAX */
    int draft_min;              /* a proposal shorter than this is dropped (a plain step) */
    float draft_p_min;          /* model drafters stop when their next token's probability is lower */
    int adaptive;               /* 1: each step drafts the k <= K that maximizes the expected tokens
                                   per unit of time, from the acceptance and pass times measured so
                                   far (k = 0: a plain step); 0: always up to K */
    struct spc_ctx_params ctx;  /* the target's context; n_logits is raised to draft_max + 1 */
    struct spc_ctx *target_ctx; /* or a context of the target to use (not owned; it may be shared by
                                   generators used one at a time: each keeps the common prefix) */
    struct spc_sampler_params sampling;
    const struct spc_model *draft_model;    /* SPC_SPEC_DRAFT: same vocabulary as the target */
    int lookup_min, lookup_max; /* pld, ngram: n-gram lengths matched, longest first */
    int ngram_min_count;        /* ngram: a continuation seen fewer times is not proposed */
    float ngram_min_share;      /* ngram: ... or one that is a smaller share of what followed */
    const char *ngram_cache;    /* ngram: earlier generations' table, loaded if present, saved by
                                   spc_gen_save (NULL: kept in memory only) */
    const char *ngram_corpus;   /* ngram: a text or token file counted into a static table (NULL: none) */
    int draft_policy;           /* memory: enum spc_draft_policy (default adaptive) */
    float draft_threshold;      /* threshold policy: stop when the estimated probability that the
                                   whole draft is accepted falls below this */
    const char *memory_file;    /* memory: earlier requests, loaded if present, saved by spc_gen_save */
    const char *memory_corpus;  /* memory: a text file, or a token file ("SPCTOK01", u64 n, n int32) */
    int memory_max;             /* memory: most tokens of earlier requests kept (oldest evicted) */
    unsigned memory_sources;    /* memory: bit 0 the request, 1 earlier requests, 2 the corpus */
    int draft_vocab;            /* draft, selfspec: the drafter's logits_vocab (0: every token) */
    int draft_kv;               /* draft, selfspec: enum spc_draft_kv (default full) */
    int draft_sinks;            /* window: first positions always kept (attention sinks; default 4) */
    int draft_window;           /* window, masw: most recent positions kept (default 1024, >= 64) */
    int draft_memory;           /* masw: positions of evicted chunks brought back (default 512) */
    int draft_refresh;          /* masw, draft model: retrieved positions re-forwarded per catch-up pass (default 16) */
    float draft_refresh_share;  /* masw, draft model: the most re-forwarding may add to the drafting time, as
                                   a share of it, measured (default 0.2; 1: no limit) */
    int draft_store;            /* masw, draft model: positions of evicted chunks whose K/V are kept to bring
                                   back without re-forwarding (default 2048; 0: none) */
    int draft_score;            /* masw: how a chunk is scored from the target's attention (enum
                                   spc_draft_score) */
    int draft_prefill;          /* masw, draft model: enum spc_draft_prefill (default sparse) */
    int draft_tree;             /* memory, adaptive policy: 1 (default) proposes a token tree where
                                   several continuations are plausible; 0: chains only */
    int memory_model;           /* memory: 0 alone; SPC_SPEC_DRAFT or SPC_SPEC_SELFSPEC: hybrid, the
                                   model drafts the steps where the memory is not worth verifying */
    const char *skip_layers;    /* selfspec: "auto" (search) or layers to skip, e.g. "3,5,7-9" */
    const int32_t *calib;       /* selfspec search text (NULL: the first request's prompt) */
    int n_calib;
};
struct spc_gen_params spc_gen_default_params(void);

struct spc_gen_stats {
    int n_prompt, n_gen;        /* tokens in; tokens emitted */
    int n_prompt_cached;        /* prompt tokens whose KV was kept from the previous request */
    int n_steps;                /* target passes after the prompt (one per draft-verify step) */
    int n_drafted, n_accepted;  /* draft tokens verified; of those accepted */
    int n_checked;              /* drafts verification reached: accepted + the first rejection */
    int drafted_at[SPC_SPEC_KMAX], accepted_at[SPC_SPEC_KMAX];  /* by draft position */
    int passes_by_k[SPC_SPEC_KMAX + 1];      /* target passes over k + 1 positions */
    double verify_s_by_k[SPC_SPEC_KMAX + 1]; /* their total time */
    int n_draft_calls;          /* propose calls that returned tokens */
    int n_tree_steps;           /* steps that verified a token tree (not a chain); drafted_at and
                                   accepted_at then count tree nodes by depth */
    double t_prompt, t_draft, t_verify, t_total;   /* seconds; t_total = prompt + generation */
    double t_setup;             /* one-time drafter setup in this request (selfspec search), not in t_total */
    double alpha;               /* n_accepted / n_drafted (0 when nothing was drafted) */
    double alpha_cond;          /* n_accepted / n_checked: the per-token acceptance of the standard model */
    double tau;                 /* tokens committed per target pass */
    long n_reforward;           /* masw with a draft model: evicted positions forwarded again into the
                                   drafter's cache (retrieved chunks the store did not hold) */
    double t_reforward;         /* the time they added to the drafting passes (within t_draft) */
};

struct spc_gen_request {
    const int32_t *prompt;      /* the prompt's tokens (BOS included if wanted) */
    int n_prompt;
    int n_predict;              /* most tokens to emit */
    const char *const *stop;    /* stop strings: output ends before the first one */
    int n_stop;
};

/* Streaming: called with each piece of text that is final (held back while it may be the start
 * of a stop string). A nonzero return ends the request. */
typedef int (*spc_piece_fn)(const char *text, size_t len, void *ud);

struct spc_gen_result {
    const int32_t *tokens;      /* emitted tokens; valid until the next call on the generator */
    int n_tokens;
    const char *text;           /* emitted text, NUL-terminated; same lifetime */
    size_t text_len;
    const char *stop;           /* "eog", "length", "stop", "context" or "callback" */
};

int spc_gen_new(struct spc_gen **out, const struct spc_model *target, const struct spc_gen_params *p);
void spc_gen_free(struct spc_gen *g);
int spc_gen_run(struct spc_gen *g, const struct spc_gen_request *rq, spc_piece_fn cb, void *ud,
                struct spc_gen_result *res);
/* Statistics of the last spc_gen_run. */
void spc_gen_stats(const struct spc_gen *g, struct spc_gen_stats *out);
/* The drafter's configuration, e.g. "skip 3,5,9 (auto: ...)"; "" for none. */
const char *spc_gen_drafter_info(struct spc_gen *g);
/* The next request's model drafter starts from an empty cache instead of keeping the K/V of the
 * prefix its prompt shares with the last one (measurements that must not depend on request order);
 * what lookup drafters learned stays, as does the target's cache. */
void spc_gen_forget_drafter_cache(struct spc_gen *g);
/* Saves what must persist across runs (the ngram drafter's table of earlier generations). */
int spc_gen_save(struct spc_gen *g);
/* The target's context (e.g. to measure it); owned by the generator. */
struct spc_ctx *spc_gen_ctx(struct spc_gen *g);

/* SPC_OK if a drafter with vocabulary d can propose tokens for a target with vocabulary t (same
 * tokenizer type and BOS/EOS, sizes within 128, same text for every shared id); otherwise
 * SPC_ERR_INVALID with the first difference in spc_errmsg(). */
int spc_vocab_check_compatible(const struct spc_vocab *t, const struct spc_vocab *d);
/* Layers the context's forward pass skips (skip[il] != 0), for self-speculation; NULL: none.
 * Changing the set empties the KV cache (it was computed with the old one). */
int spc_ctx_set_layer_skip(struct spc_ctx *ctx, const uint8_t *skip, int n_layer);

#ifdef __cplusplus
}
#endif
#endif /* SPECULA_H */
