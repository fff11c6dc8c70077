/*
 * pool.c: see pool.h. One job at a time; the generation counter publishes a job, the pending
 * counter tells the caller when every worker has finished it.
 */
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

struct spc_pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    spc_task_fn fn;
    void *arg;
    atomic_uint gen;
    atomic_int pending;
    atomic_bool stop;
    atomic_int sleepers;
};

struct worker_arg { struct spc_pool *p; int ith; };

static void *worker(void *va) {
    struct spc_pool *p = ((struct worker_arg *)va)->p;
    int ith = ((struct worker_arg *)va)->ith;
    spc__free(va);
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen &&
               !atomic_load(&p->stop)) {
            if (++spins < 20000) {
                if (spins < 4000) {
#if defined(__x86_64__)
                    __builtin_ia32_pause();
#endif
                } else {
                    sched_yield();
                }
                continue;
            }
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop)) pthread_cond_wait(&p->cv, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
            spins = 0;
        }
        if (atomic_load(&p->stop)) return NULL;
        seen = g;
        p->fn(p->arg, ith, p->n);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel);
    }
}

int spc__pool_new(struct spc_pool **out, int n_threads) {
    if (n_threads < 1) n_threads = 1;
    struct spc_pool *p = spc__calloc(1, sizeof *p);
    if (!p) return spc__err(SPC_ERR_NOMEM, "pool: out of memory");
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->threads = spc__calloc((size_t)n_threads, sizeof *p->threads);
    if (!p->threads) {
        spc__pool_free(p);
        return spc__err(SPC_ERR_NOMEM, "pool: out of memory");
    }
    for (int i = 1; i < n_threads; i++) {
        struct worker_arg *wa = spc__alloc(sizeof *wa);
        if (!wa) {
            p->n = i;
            spc__pool_free(p);
            return spc__err(SPC_ERR_NOMEM, "pool: out of memory");
        }
        wa->p = p;
        wa->ith = i;
        if (pthread_create(&p->threads[i], NULL, worker, wa) != 0) {
            spc__free(wa);
            p->n = i;
            spc__pool_free(p);
            return spc__err(SPC_ERR_NOMEM, "pool: cannot create thread %d", i);
        }
    }
    *out = p;
    return SPC_OK;
}

void spc__pool_free(struct spc_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    spc__free(p->threads);
    spc__free(p);
}

int spc__pool_size(const struct spc_pool *p) { return p ? p->n : 1; }

void spc__pool_run(struct spc_pool *p, spc_task_fn fn, void *arg) {
    if (!p || p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store(&p->pending, p->n - 1);
    atomic_fetch_add(&p->gen, 1);   /* seq_cst: ordered before the sleepers check */
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    fn(arg, 0, p->n);
    /* spin briefly, then yield: on an oversubscribed machine the worker we wait for may need our core */
    for (int spins = 0; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; spins++) {
        if (spins < 4000) {
#if defined(__x86_64__)
            __builtin_ia32_pause();
#endif
        } else {
            sched_yield();
        }
    }
}
