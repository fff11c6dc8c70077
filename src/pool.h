/*
 * pool.h: a persistent thread pool. spc__pool_run(pool, fn, arg) runs fn(arg, ith, nth) on every
 * thread (the caller is thread 0) and returns when all are done. Workers spin briefly on an atomic
 * generation counter, then sleep on a condition variable, so the many tiny steps of decoding do not
 * pay a futex round trip each. No thread is created per operation. Depends on: base.
 */
#ifndef SPC_POOL_H
#define SPC_POOL_H

#include "base.h"

struct spc_pool;
typedef void (*spc_task_fn)(void *arg, int ith, int nth);

int spc__pool_new(struct spc_pool **out, int n_threads);
void spc__pool_free(struct spc_pool *p);
int spc__pool_size(const struct spc_pool *p);
void spc__pool_run(struct spc_pool *p, spc_task_fn fn, void *arg);

#endif
