#!/usr/bin/env python3
"""llamacpp_spec.py: llama.cpp's speculative mode that llama-cpp-python exposes (prompt lookup,
LlamaPromptLookupDecoding) beside plain decoding, on the same prompts as `specula bench --prompts`.

    ~/.cache/specula/refvenv/bin/python bench/llamacpp_spec.py MODEL.gguf --prompts FILE.jsonl
        [--category C[,C]] [--limit N] [-n N] [--draft-max K] [--ngram-max N] [--threads 2]
        [--specula-json SPECULA.json] [--out NAME]

Prompts are read and formatted as specula does (Spec-Bench first turn / GSM8K question through the
ChatML template; HumanEval raw), greedy, up to n tokens. Time is measured from the first streamed
token to the last, so the prompt's prefill is excluded as in specula's tokens/s. With
--specula-json (the JSON of `specula bench --prompts` on the same prompts), it adds the ratio
specula / llama.cpp per method pair (none vs plain, pld vs prompt lookup). Writes NAME.md and
NAME.json when --out is given. Not a dependency of the build or the tests.

What cannot be compared here: llama-cpp-python has no draft-model, n-gram-cache or self-
speculative decoding API (those live in llama.cpp's C++ examples and server), so only `none` and
`pld` have a llama.cpp counterpart.
"""
import argparse, json, sys, time

import llama_cpp
from llama_cpp.llama_speculative import LlamaPromptLookupDecoding


def load_prompts(path, cats, limit):
    out, per = [], {}
    for line in open(path, encoding="utf-8"):
        if not line.strip():
            continue
        d = json.loads(line)
        if "turns" in d:
            text, chat = d["turns"][0], True
        elif "prompt" in d:
            text, chat = d["prompt"], False
        else:
            text, chat = d["question"], True
        cat = d.get("category") or ("humaneval" if "humaneval" in path else "gsm8k" if "gsm8k" in path else "all")
        if cats and cat not in cats:
            continue
        if per.get(cat, 0) >= limit:
            continue
        per[cat] = per.get(cat, 0) + 1
        if chat:  # ChatML, no default system message: what specula's --chat does for these models
            text = "<|im_start|>user\n" + text + "<|im_end|>\n<|im_start|>assistant\n"
        out.append((cat, text))
    return out


def run(llm, text, n):
    t_first, t_end, pieces = None, None, []
    for chunk in llm.create_completion(text, max_tokens=n, temperature=0.0, top_k=1, stream=True):
        now = time.perf_counter()
        if t_first is None:
            t_first = now
        t_end = now
        pieces.append(chunk["choices"][0]["text"])
    out = "".join(pieces)
    n_tok = len(llm.tokenize(out.encode("utf-8"), add_bos=False, special=True)) if out else 0
    return out, n_tok, (t_end - t_first) if t_first is not None else 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--prompts", required=True)
    ap.add_argument("--category", default="")
    ap.add_argument("--limit", type=int, default=10)
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("--draft-max", type=int, default=3)
    ap.add_argument("--ngram-max", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("-c", type=int, default=4096)
    ap.add_argument("--specula-json")
    ap.add_argument("--out")
    a = ap.parse_args()
    cats = [c for c in a.category.split(",") if c]
    prompts = load_prompts(a.prompts, cats, a.limit)
    common = dict(n_ctx=a.c, n_threads=a.threads, n_threads_batch=a.threads, verbose=False)
    plain = llama_cpp.Llama(a.model, **common)
    pld = llama_cpp.Llama(a.model, draft_model=LlamaPromptLookupDecoding(num_pred_tokens=a.draft_max,
                                                                          max_ngram_size=a.ngram_max), **common)
    agg, failed = {}, {}
    for name in ("plain", "prompt_lookup"):
        for c in [c for c, _ in prompts] + ["all"]:
            agg[(name, c)] = {"n": 0, "tokens": 0, "seconds": 0.0, "identical": 0}
    for i, (cat, text) in enumerate(prompts):
        got = {}
        for name, llm in (("plain", plain), ("prompt_lookup", pld)):
            llm.reset()
            try:
                got[name] = run(llm, text, a.n)
            except Exception as e:  # llama-cpp-python's Python-side drafting can fail on long prompts
                print(f"[{i + 1}/{len(prompts)}] {cat}: {name} failed: {type(e).__name__}: {e}", file=sys.stderr)
                failed.setdefault(name, []).append(i)
        if len(got) < 2:            # a prompt counts only when both modes ran
            continue
        same = got["plain"][0] == got["prompt_lookup"][0]
        row = []
        for name, (out, n_tok, dt) in got.items():
            for c in (cat, "all"):
                s = agg[(name, c)]
                s["n"] += 1
                s["tokens"] += max(n_tok - 1, 0)
                s["seconds"] += dt
                if name == "prompt_lookup":
                    s["identical"] += same
            row.append(f"{name} {max(n_tok - 1, 0) / dt if dt > 0 else 0:.1f} t/s")
        print(f"[{i + 1}/{len(prompts)}] {cat:14s} " + " ".join(row) + ("" if same else " (text differs)"),
              file=sys.stderr, flush=True)
    spec = None
    if a.specula_json:
        spec = json.load(open(a.specula_json))
    rows, res = [], {"model": a.model, "prompts_file": a.prompts, "n_predict": a.n, "draft_max": a.draft_max,
                     "ngram_max": a.ngram_max, "threads": a.threads, "llama_cpp_python": llama_cpp.__version__,
                     "failed_prompts": failed, "categories": []}
    cats_seen = sorted({c for (_, c), v in agg.items() if c != "all" and v["n"]}) + ["all"]
    for c in cats_seen:
        p, l = agg[("plain", c)], agg[("prompt_lookup", c)]
        tp = p["tokens"] / p["seconds"] if p["seconds"] else 0
        tl = l["tokens"] / l["seconds"] if l["seconds"] else 0
        entry = {"category": c, "n_prompts": p["n"], "plain_tokens_per_s": tp, "prompt_lookup_tokens_per_s": tl,
                 "prompt_lookup_speedup": tl / tp if tp else None, "prompt_lookup_identical_text": l["identical"]}
        if spec:
            by = {m["method"]: {x["category"]: x for x in m["categories"]} for m in spec["methods"]}
            sn, sp = by.get("none", {}).get(c), by.get("pld", {}).get(c)
            entry["specula_none_vs_plain"] = sn["tokens_per_s"] / tp if sn and tp else None
            entry["specula_pld_vs_prompt_lookup"] = sp["tokens_per_s"] / tl if sp and tl else None
            entry["specula_pld_speedup"] = sp["speedup"] if sp else None
        res["categories"].append(entry)
        f = lambda v: "-" if v is None else f"{v:.3f}"
        rows.append(f"| {c} | {p['n']} | {tp:.2f} | {tl:.2f} | {f(entry['prompt_lookup_speedup'])} | "
                    f"{l['identical']}/{l['n']} | {f(entry.get('specula_none_vs_plain'))} | "
                    f"{f(entry.get('specula_pld_speedup'))} | {f(entry.get('specula_pld_vs_prompt_lookup'))} |")
    md = ("| category | prompts | llama.cpp plain t/s | llama.cpp prompt-lookup t/s | llama.cpp speedup | same text | "
          "specula none / llama.cpp plain | specula pld speedup | specula pld / llama.cpp prompt-lookup |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n" + "\n".join(rows) + "\n")
    print(md)
    if a.out:
        open(a.out + ".md", "w").write(md)
        json.dump(res, open(a.out + ".json", "w"), indent=1)


if __name__ == "__main__":
    sys.exit(main())
