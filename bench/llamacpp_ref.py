#!/usr/bin/env python3
"""llamacpp_ref.py: llama.cpp's speed on the same GGUF, for side-by-side comparison with specula.

Run with the reference venv that scripts/gen-fixtures.py uses (llama-cpp-python built from source):
    ~/.cache/specula/refvenv/bin/python bench/llamacpp_ref.py MODEL.gguf [--threads 2] [--pp 512] [--tg 128] [--reps 3]
Prints one JSON object: median prompt tokens/s over a pp-token prompt and median generated tokens/s
over tg greedy tokens. Only the llm.eval calls are timed (the argmax is not), so what Python adds is
the call and the copy of one row of logits per token. Not a dependency of the build or the tests.
"""
import argparse, json, statistics, sys, time

import llama_cpp
import numpy as np


def last_argmax(llm, n_vocab):
    ptr = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
    return int(np.argmax(np.ctypeslib.as_array(ptr, shape=(n_vocab,))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pp", type=int, default=512)
    ap.add_argument("--tg", type=int, default=128)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    llm = llama_cpp.Llama(a.model, n_ctx=a.pp + a.tg + 16, n_batch=a.pp, n_ubatch=a.pp, n_threads=a.threads,
                          n_threads_batch=a.threads, logits_all=False, verbose=False)
    n_vocab = llm.n_vocab()
    rng = np.random.default_rng(0)
    pps, tgs = [], []
    for _ in range(a.reps):
        prompt = [int(t) for t in rng.integers(100, min(n_vocab, 30000), a.pp)]
        # prompt processing
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(prompt)
        pps.append(a.pp / (time.perf_counter() - t0))
        # generation: one token per decode, greedy
        llm.reset()
        llm.eval(prompt[:8])
        tok = last_argmax(llm, n_vocab)
        spent = 0.0
        for _ in range(a.tg):
            t0 = time.perf_counter()
            llm.eval([tok])
            spent += time.perf_counter() - t0
            tok = last_argmax(llm, n_vocab)
        tgs.append(a.tg / spent)
    print(json.dumps({"model": a.model, "threads": a.threads, "pp": a.pp, "tg": a.tg,
                      "pp_tok_per_s": statistics.median(pps), "tg_tok_per_s": statistics.median(tgs),
                      "llama_cpp_python": llama_cpp.__version__}))


if __name__ == "__main__":
    sys.exit(main())
