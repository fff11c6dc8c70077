#!/usr/bin/env python3
"""Upper bound on what any lookup drafter (prompt lookup, n-gram, suffix memory) can give.

Reads `specula bench --outputs FILE` (each prompt's tokens and plain decoding's output) and replays
greedy decoding with an oracle drafter: at every step it looks at every earlier occurrence of the
last committed token (or of the last n tokens, --min-match n) in the text a lookup drafter can
search (earlier prompts and outputs of the run, this prompt, this output so far), takes the
continuation that verification would accept furthest, and drafts exactly the accepted tokens, so
no drafted token is ever wasted. A token tree holding that continuation costs at least as much,
and a real drafter chooses without knowing the answer, so no lookup drafter over these sources
commits more per pass. Draft cost is taken as zero; the pass over m + 1 positions costs v(m), the
measured verification cost curve (`specula bench -m MODEL --kmax K --json` gives it).

    bench/lookup_oracle.py OUT.jsonl --vk VK.json [--kmax 8] [--min-match 1] [--compare BENCH.json]

Prints per category: tau (tokens per pass) and the speedup bound sum(tokens) / sum(v(m)); with
--compare, the measured speedups of a `specula bench --json` run over the same prompts beside it.
"""
import argparse
import json
import sys

import numpy as np


def load_vk(path, kmax):
    d = json.load(open(path))
    v = d.get("verify_cost")
    if not v:
        sys.exit("lookup_oracle: %s has no verify_cost (a `specula bench -m MODEL --kmax K --json` file)" % path)
    if len(v) < kmax + 1:
        sys.exit("lookup_oracle: %s has v(k) up to k = %d; run the bench with --kmax %d" % (path, len(v) - 1, kmax))
    v = [float(x) for x in v[:kmax + 1]]
    return v


def fit_vk(path, kmax):
    """v(k) as it was in a `specula bench --prompts --json` run: each category's one-position pass time
    from `none`, then least squares of every other row's verify seconds over its passes by k. Draft
    lengths no row used often enough are extrapolated linearly from the last two fitted ones."""
    d = json.load(open(path))
    t0 = {}
    for m in d["methods"]:
        if m["method"] == "none":
            for c in m["categories"]:
                t0[c["category"]] = c["verify_s"] / sum(c["passes_by_k"])
    if not t0:
        sys.exit("lookup_oracle: %s has no `none` rows to fit v(k) from" % path)
    rows, rhs = [], []
    for m in d["methods"]:
        for c in m["categories"]:
            if m["method"] != "none" and c["category"] != "all" and c["category"] in t0:
                rows.append(c["passes_by_k"])
                rhs.append(c["verify_s"] / t0[c["category"]])
    width = max(len(r) for r in rows)
    A = np.array([r + [0] * (width - len(r)) for r in rows], dtype=float)
    used = A.sum(axis=0) >= 50                 # passes of that length over the whole run
    n_fit = int(np.argmin(used)) if not used.all() else width
    x = np.linalg.lstsq(A[:, :n_fit], np.array(rhs), rcond=None)[0]  # the rare longer passes are left out
    v = [1.0] + [float(max(x[k], 1.0)) for k in range(1, n_fit)]
    while len(v) < kmax + 1:
        v.append(v[-1] + max(v[-1] - v[-2], 0.0))
    print("v(k) fitted from %s over k < %d (extrapolated beyond): %s" % (path, n_fit, " ".join("%.3f" % y for y in v[:kmax + 1])))
    return v[:kmax + 1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outputs")
    ap.add_argument("--vk", help="JSON of `specula bench -m MODEL --kmax K --json`")
    ap.add_argument("--vk-from", help="fit v(k) from a `specula bench --prompts --json` run's passes by k")
    ap.add_argument("--kmax", type=int, default=8)
    ap.add_argument("--min-match", type=int, default=1)
    ap.add_argument("--no-history", action="store_true", help="search this prompt and output only")
    ap.add_argument("--compare", help="a `specula bench --json` over the same prompts")
    a = ap.parse_args()
    K, n_min = a.kmax, a.min_match
    if not a.vk and not a.vk_from:
        sys.exit("lookup_oracle: give --vk or --vk-from")
    v = load_vk(a.vk, K) if a.vk else fit_vk(a.vk_from, K)
    recs = [json.loads(l) for l in open(a.outputs) if l.strip()]
    hist = np.zeros(0, dtype=np.int64)   # earlier prompts and outputs, separated by -2
    per = {}
    ar = np.arange(K)
    for r in recs:
        prompt = np.array(r["prompt"], dtype=np.int64)
        out = np.array(r["output"], dtype=np.int64)
        base = np.concatenate([hist, [-2], prompt]) if not a.no_history else prompt.copy()
        text = np.concatenate([base, out, np.full(K + 1, -1, dtype=np.int64)])
        nb = len(base)
        p, passes, cost, accepted = 0, 0, 0.0, 0
        while p < len(out):
            end = nb + p                        # text[:end] is committed; out[p] comes next
            want = min(K, len(out) - p - 1)     # the last token is always the pass's own
            m = 0
            if want > 0 and end >= n_min:
                key = text[end - n_min:end]
                cand = np.nonzero(text[:end - 1] == key[-1])[0]
                for q in range(1, n_min):
                    cand = cand[cand - q >= 0]
                    cand = cand[text[cand - q] == key[-1 - q]]
                if len(cand):
                    w = text[(cand + 1)[:, None] + ar[None, :want]]
                    # a continuation may not read past the committed text
                    w = np.where((cand + 1)[:, None] + ar[None, :want] < end, w, -1)
                    eq = w == out[p:p + want][None, :]
                    m = int(np.cumprod(eq, axis=1).sum(axis=1).max())
            passes += 1
            cost += v[m]
            accepted += m
            p += m + 1
        c = per.setdefault(r["category"], [0, 0, 0.0, 0])
        c[0] += len(out)
        c[1] += passes
        c[2] += cost
        c[3] += accepted
        if not a.no_history:
            hist = np.concatenate([hist, [-2], prompt, [-3], out])
    meas = {}
    if a.compare:
        for mth in json.load(open(a.compare))["methods"]:
            for c in mth["categories"]:
                meas.setdefault(c["category"], {})[mth["method"]] = c["speedup"]
    names = sorted({m for c in meas.values() for m in c if m != "none"})
    print("| category | tokens | tau | bound | " + " | ".join(names) + " |")
    print("| --- | ---: | ---: | ---: |" + " ---: |" * len(names))
    sb, sm = [], {n: [] for n in names}
    for cat, (n, passes, cost, acc) in per.items():
        b = n / cost
        sb.append(b)
        row = "| %s | %d | %.2f | %.3f |" % (cat, n, n / passes, b)
        for nm in names:
            x = meas.get(cat, {}).get(nm)
            if x is not None and cat != "all":
                sm[nm].append(x)
            row += " %s |" % ("%.3f" % x if x is not None else "-")
        print(row)
    row = "| **mean over categories** | | | %.3f |" % (sum(sb) / len(sb))
    for nm in names:
        row += " %.3f |" % (sum(sm[nm]) / len(sm[nm]) if sm[nm] else float("nan"))
    print(row)


if __name__ == "__main__":
    main()
