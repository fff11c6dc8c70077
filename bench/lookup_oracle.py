#!/usr/bin/env python3
"""Upper bound on what any lookup drafter (prompt lookup, n-gram, suffix memory) can give.

Reads `specula bench --outputs FILE` (each prompt's tokens and plain decoding's output) and replays
greedy decoding with an oracle drafter. At every position it knows the longest continuation any
lookup could give: over every earlier occurrence of the last committed token (or of the last n
tokens, --min-match n) in the text a lookup drafter can search (earlier prompts and outputs of the
run, this prompt, this output so far), the one verification accepts furthest. It drafts only
tokens that will be accepted, so none is ever wasted, and chooses each step's length by dynamic
programming so that the whole output costs the least. A token tree holding those continuations
costs at least as much, and a real drafter chooses without knowing the answer, so no lookup
drafter over these sources commits more per unit of cost. Draft cost is taken as zero; the pass
over m + 1 positions costs v(m), the measured verification cost curve (`specula bench -m MODEL
--kmax K --json` gives it, or --vk-from fits it from a prompt-set run).

With --model-preds (a draft model's teacher-forced greedy predictions along the same outputs,
`specula score --out`), a step may also draft with that model, before or after the lookup tokens:
a greedy draft model started at position p is accepted for as many positions as its predictions
match the output from p on. Each model-drafted token costs --draft-cost one-position target
passes; the catching up on tokens the model did not draft is taken as free. That bounds a hybrid
of the model and the lookups.

With --stop P it replays a policy without hindsight instead: each step drafts the lookup's proposal
(--choice recent or likely) where the last --min-match tokens occur earlier (all of it with
--lookup-waste, else only its accepted part), else the model while its probability of the next token
(`specula score` writes it) is >= P, taken to stop right after its first wrong token.

    bench/lookup_oracle.py OUT.jsonl --vk VK.json [--kmax 8] [--min-match 1] [--compare BENCH.json]
                           [--choice best|recent|likely] [--model-preds PREDS.jsonl --draft-cost C]
                           [--stop P [--lookup-waste]]

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
    ap.add_argument("--choice", choices=["best", "recent", "likely"], default="best",
                    help="best: the continuation verification accepts furthest (hindsight); recent: the most "
                    "recent occurrence of the longest matching suffix, as a suffix structure proposes it; likely: token by "
                    "token the continuation most occurrences of that suffix take")
    ap.add_argument("--stop", type=float, help="replay a policy without hindsight instead of the bound: "
                    "the lookup's proposal where there is one, else the model while its probability is >= STOP")
    ap.add_argument("--lookup-waste", action="store_true", help="with --stop: lookups draft their whole proposal")
    ap.add_argument("--no-history", action="store_true", help="search this prompt and output only")
    ap.add_argument("--compare", help="a `specula bench --json` over the same prompts")
    ap.add_argument("--model-preds", help="`specula score --out` of a draft model along the same outputs: "
                    "the bound then covers drafting with that model beside the lookups")
    ap.add_argument("--draft-cost", type=float, help="with --model-preds: the model's cost per drafted token, "
                    "in one-position target passes (its drafting is otherwise free)")
    a = ap.parse_args()
    K, n_min = a.kmax, a.min_match
    if not a.vk and not a.vk_from:
        sys.exit("lookup_oracle: give --vk or --vk-from")
    v = load_vk(a.vk, K) if a.vk else fit_vk(a.vk_from, K)
    recs = [json.loads(l) for l in open(a.outputs) if l.strip()]
    preds = None
    if a.model_preds:
        lines = [json.loads(l) for l in open(a.model_preds) if l.strip()]
        preds = [x["pred"] for x in lines]
        probs = [x.get("prob") for x in lines]
        if a.stop is not None and any(q is None for q in probs):
            sys.exit("lookup_oracle: --stop needs the probabilities of a `specula score` that writes them")
        if len(preds) != len(recs) or any(len(q) != len(r["output"]) for q, r in zip(preds, recs)):
            sys.exit("lookup_oracle: %s does not match %s line by line" % (a.model_preds, a.outputs))
        if a.draft_cost is None:
            sys.exit("lookup_oracle: --model-preds needs --draft-cost")
    if a.stop is not None and a.choice == "best":
        sys.exit("lookup_oracle: --stop replays a real proposal: give --choice recent or likely")
    hist = np.zeros(0, dtype=np.int64)   # earlier prompts and outputs, separated by -2
    per = {}
    ar = np.arange(K)
    for ri, r in enumerate(recs):
        prompt = np.array(r["prompt"], dtype=np.int64)
        out = np.array(r["output"], dtype=np.int64)
        n = len(out)
        base = np.concatenate([hist, [-2], prompt]) if not a.no_history else prompt.copy()
        text = np.concatenate([base, out, np.full(K + 1, -1, dtype=np.int64)])
        nb = len(base)
        # look[p]: the longest lookup continuation that verification accepts when out[:p] is committed
        look = np.zeros(n + 1, dtype=np.int64)
        prop = np.zeros(n + 1, dtype=np.int64)     # how long the proposal is (recent, likely)
        for p in range(n):
            end = nb + p                        # text[:end] is committed; out[p] comes next
            want = min(K, n - p - 1)            # the last token is always the pass's own
            if want > 0 and end >= n_min:
                key = text[end - n_min:end]
                cand = np.nonzero(text[:end - 1] == key[-1])[0]
                for q in range(1, n_min):
                    cand = cand[cand - q >= 0]
                    cand = cand[text[cand - q] == key[-1 - q]]
                if len(cand) and a.choice != "best":
                    # what a suffix structure proposes: the most recent occurrence of the longest
                    # matching suffix (up to 32 tokens), cut where verification would reject it
                    q = n_min
                    while q < 32 and end - 1 - q >= 0:
                        nxt = cand[cand - q >= 0]
                        nxt = nxt[text[nxt - q] == text[end - 1 - q]]
                        if not len(nxt):
                            break
                        cand, q = nxt, q + 1
                    if a.choice == "recent":
                        cand = cand[-1:]
                    else:
                        # likeliest: token by token, the continuation most of the occurrences still
                        # consistent with the chain so far take (ties: the most recent)
                        chain = []
                        for d in range(want):
                            pos = cand + 1 + d
                            pos = pos[pos < end]
                            if not len(pos):
                                break
                            toks = text[pos]
                            vals, first_rev, counts = np.unique(toks[::-1], return_index=True, return_counts=True)
                            best = np.lexsort((first_rev, -counts))[0]
                            tok = vals[best]
                            chain.append(tok)
                            cand = cand[(cand + 1 + d < end) & (text[np.minimum(cand + 1 + d, len(text) - 1)] == tok)]
                        m = 0
                        while m < len(chain) and chain[m] == out[p + m]:
                            m += 1
                        look[p], prop[p] = m, len(chain)
                        continue
                if len(cand):
                    w = text[(cand + 1)[:, None] + ar[None, :want]]
                    # a continuation may not read past the committed text
                    w = np.where((cand + 1)[:, None] + ar[None, :want] < end, w, -1)
                    eq = w == out[p:p + want][None, :]
                    look[p] = int(np.cumprod(eq, axis=1).sum(axis=1).max())
                    prop[p] = int((w[-1] >= 0).sum()) if a.choice == "recent" else look[p]
        # run[p]: how many model predictions from p on match the output (a greedy draft model's accepted run)
        run = np.zeros(n + 1, dtype=np.int64)
        if preds is not None:
            hit = np.array(preds[ri], dtype=np.int64) == out
            for p in range(n - 1, -1, -1):
                run[p] = run[p + 1] + 1 if hit[p] else 0
        # cost[p]: the least verification (+ drafting) cost to commit out[p:], over every step the
        # drafters allow: j lookup tokens then t model tokens, or t model tokens then j lookup tokens
        # (j + t <= K, never past the output's last token, which is always a pass's own)
        INF = float("inf")
        cost = [0.0] * (n + 1)
        steps = [0] * (n + 1)
        for p in range(n - 1, -1, -1) if a.stop is None else ():
            best, bs = INF, 0
            cap = min(K, n - p - 1)
            opts = set()
            for j in range(0, min(look[p], cap) + 1):
                opts.add((j, 0))
                if preds is not None:
                    for t in range(1, min(run[p + j], cap - j) + 1):
                        opts.add((j, t))
            if preds is not None:
                for t in range(1, min(run[p], cap) + 1):
                    for j in range(0, min(look[p + t], cap - t) + 1):
                        opts.add((j, t))
            for j, t in opts:
                c = v[j + t] + (a.draft_cost * t if t else 0.0) + cost[p + j + t + 1]
                if c < best:
                    best, bs = c, steps[p + j + t + 1] + 1
            cost[p], steps[p] = best, bs
        if a.stop is not None:
            # no hindsight: a step drafts the lookup's proposal when there is one (all of it with
            # --lookup-waste, else only what is accepted), else the model while its probability of
            # each next token is >= --stop (taken to stop after its first wrong token)
            p, steps[0], cost[0] = 0, 0, 0.0
            while p < n:
                cap = min(K, n - p - 1)
                acc, dc = 0, v[0]
                if prop[p] > 0 and cap > 0:
                    j = min(prop[p] if a.lookup_waste else look[p], cap)
                    acc, dc = min(look[p], j), v[j]
                elif preds is not None and cap > 0:
                    t = 0
                    while t < cap and probs[ri][p + t] >= a.stop:
                        t += 1
                        if preds[ri][p + t - 1] != out[p + t - 1]:
                            break
                    acc, dc = min(run[p], t), v[t] + a.draft_cost * t
                steps[0] += 1
                cost[0] += dc
                p += acc + 1
        c = per.setdefault(r["category"], [0, 0, 0.0])
        c[0] += n
        c[1] += steps[0]
        c[2] += cost[0]
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
    for cat, (n, passes, cost) in per.items():
        b = n / cost
        sb.append(b)
        row = "| %s | %d | %.2f | %.3f |" % (cat, n, n / passes, b)
        for nm in names:
            x = meas.get(cat, {}).get(nm)
            if x is not None:
                sm[nm].append(x)
            row += " %s |" % ("%.3f" % x if x is not None else "-")
        print(row)
    row = "| **mean over categories** | | | %.3f |" % (sum(sb) / len(sb))
    for nm in names:
        row += " %.3f |" % (sum(sm[nm]) / len(sm[nm]) if sm[nm] else float("nan"))
    print(row)


if __name__ == "__main__":
    main()
