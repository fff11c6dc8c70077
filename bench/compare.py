#!/usr/bin/env python3
"""compare.py: specula and llama.cpp side by side on the same GGUF files, in one run.

    python3 bench/compare.py [--models smollm2-135m,qwen2.5-coder-1.5b] [-t 2] [-r 5] [--pp 512]
                             [--tg 128] [--kmax 16] [--ref-python PATH] [--out bench/results/NAME]

For each model in turn it runs `build/specula bench` and then, when the llama.cpp reference venv
exists (~/.cache/specula/refvenv/bin/python, or --ref-python), bench/llamacpp_ref.py on the GGUF
that specula resolved, so the two measure the same file under the same machine conditions. Writes
NAME.md (tables) and NAME.json (per model: specula's bench fields, llama.cpp's tokens/s and the
ratios specula / llama.cpp; null where llama.cpp is unavailable). Standard library only.
"""
import argparse, datetime, json, os, platform, shlex, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REF = Path.home() / ".cache/specula/refvenv/bin/python"


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_specula(a, model):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "bench.json")
        cmd = [str(a.specula), "bench", "-m", model, "-t", str(a.threads), "-r", str(a.reps),
               "--pp", str(a.pp), "--tg", str(a.tg), "--kmax", str(a.kmax), "--json", out]
        print("$", shlex.join(cmd), file=sys.stderr, flush=True)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        if p.returncode != 0:
            sys.exit(f"compare.py: specula bench failed on {model} (exit {p.returncode})")
        print(p.stdout, file=sys.stderr)
        with open(out) as f:
            return json.load(f)


def run_llamacpp(a, gguf):
    """llama.cpp's {pp_tok_per_s, tg_tok_per_s, ...}, or (None, reason)."""
    if not a.ref_python.exists():
        return None, f"llama.cpp reference venv not found ({a.ref_python})"
    cmd = [str(a.ref_python), str(ROOT / "bench/llamacpp_ref.py"), gguf, "--threads", str(a.threads),
           "--pp", str(a.pp), "--tg", str(a.tg), "--reps", str(a.reps)]
    print("$", shlex.join(cmd), file=sys.stderr, flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    lines = p.stdout.strip().splitlines()
    if p.returncode != 0 or not lines:
        return None, f"llamacpp_ref.py failed (exit {p.returncode})"
    return json.loads(lines[-1]), None


def ratio(x, y):
    return x / y if x is not None and y else None


def fmt(v, spec=".1f"):
    return "n/a" if v is None else format(v, spec)


def markdown(header, rows):
    md = ["# specula vs llama.cpp", "",
          f"- command: `{header['command']}`", f"- date: {header['date']}",
          f"- cpu: {header['cpu_model']}, {header['n_threads']} threads",
          f"- llama.cpp: {header['llamacpp']}", "",
          f"| model | params | pp{header['pp']} specula | llama.cpp | ratio | tg{header['tg']} specula"
          " | llama.cpp | ratio | tg % of roofline | pp % of fp32 peak |",
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        md.append(f"| {r['model']} | {r['n_params'] / 1e6:.1f} M | {r['pp_tok_per_s']:.1f} | "
                  f"{fmt(r['llamacpp_pp_tok_per_s'])} | {fmt(r['pp_vs_llamacpp'], '.2f')} | "
                  f"{r['tg_tok_per_s']:.1f} | {fmt(r['llamacpp_tg_tok_per_s'])} | "
                  f"{fmt(r['tg_vs_llamacpp'], '.2f')} | {r['tg_roofline_pct']:.1f} | {r['pp_pct_of_peak']:.1f} |")
    kmax = header["kmax"]
    md += ["", "Verify cost v(k) = time(k+1 positions) / time(1 position), after a 64-token prefix:", "",
           "| model | " + " | ".join(f"k={k}" for k in range(kmax + 1)) + " |",
           "| --- |" + " ---: |" * (kmax + 1)]
    for r in rows:
        md.append(f"| {r['model']} | " + " | ".join(f"{v:.2f}" for v in r["verify_cost"]) + " |")
    md += ["", "Roofline: tg bound = memory read bandwidth / weight bytes per token; pp GFLOP/s counts "
           "2 flops per matmul weight per token.", "",
           "| model | mem GB/s | weight MB | tg bound t/s | fp32 peak GFLOP/s | pp GFLOP/s |",
           "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        md.append(f"| {r['model']} | {r['mem_bw_gbs']:.1f} | {r['weight_bytes'] / 1e6:.1f} | "
                  f"{r['tg_bound_tok_per_s']:.1f} | {r['peak_gflops']:.1f} | {r['pp_gflops']:.1f} |")
    return "\n".join(md) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="smollm2-135m,qwen2.5-coder-1.5b")
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("-r", "--reps", type=int, default=5)
    ap.add_argument("--pp", type=int, default=512)
    ap.add_argument("--tg", type=int, default=128)
    ap.add_argument("--kmax", type=int, default=16)
    ap.add_argument("--specula", type=Path, default=ROOT / "build/specula")
    ap.add_argument("--ref-python", type=Path, default=DEFAULT_REF)
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/compare")
    a = ap.parse_args()
    if not a.specula.exists():
        sys.exit(f"compare.py: {a.specula} not found (run make)")

    rows, notes = [], set()
    for model in a.models.split(","):
        r = run_specula(a, model)
        ref, why = run_llamacpp(a, r["model_path"])
        if why:
            notes.add(why)
            print(f"compare.py: {why}; llama.cpp fields are null", file=sys.stderr)
        r["llamacpp_pp_tok_per_s"] = ref and ref["pp_tok_per_s"]
        r["llamacpp_tg_tok_per_s"] = ref and ref["tg_tok_per_s"]
        r["llama_cpp_python"] = ref and ref.get("llama_cpp_python")
        r["pp_vs_llamacpp"] = ratio(r["pp_tok_per_s"], r["llamacpp_pp_tok_per_s"])
        r["tg_vs_llamacpp"] = ratio(r["tg_tok_per_s"], r["llamacpp_tg_tok_per_s"])
        rows.append(r)

    versions = sorted({r["llama_cpp_python"] for r in rows if r["llama_cpp_python"]})
    header = {"command": shlex.join([sys.executable] + sys.argv),
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "cpu_model": cpu_model(), "n_threads": a.threads, "reps": a.reps, "pp": a.pp, "tg": a.tg,
              "kmax": a.kmax,
              "llamacpp": "; ".join((["llama-cpp-python " + ", ".join(versions)] if versions else [])
                                    + sorted(notes)) or "not run"}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    md = markdown(header, rows)
    Path(str(a.out) + ".md").write_text(md)
    Path(str(a.out) + ".json").write_text(json.dumps({**header, "models": rows}, indent=2) + "\n")
    print(md)
    print(f"wrote {a.out}.md and {a.out}.json", file=sys.stderr)


if __name__ == "__main__":
    main()
