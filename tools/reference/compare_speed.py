#!/usr/bin/env python3
"""Driver of tools/reference/compare_speed (host python, standard library only): runs the same workloads in
transformers (compare_speed_ref.py in the reference) and in Blip.Engine (tools/SpeedHarness), alternating
processes round by round at the same thread count, and prints a Markdown report: medians, the ratio
reference/engine, achieved vision GFLOP/s against the fp32 matmul of the same process, floors for captioning,
peak RSS, load time, and the load average around every process.

    tools/reference/compare_speed [--rounds 2] [--repeat 2] [--threads 2] [--quick] [--bf16] [--device cuda]
                                  [--only WORKLOAD ...] [--engine-only] [--out FILE]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CAPTION = REPO / ".fullsize" / "blip-image-captioning-large"
ITM = REPO / ".fullsize" / "blip-itm-large-flickr"
ENGINE = REPO / "tools" / "SpeedHarness" / "bin" / "Release" / "net10.0" / "SpeedHarness.dll"
CAPTION_WORK = ["preprocess", "vision_b1", "vision_b8", "decoder_step", "greedy20", "beam3", "greedy20_b8"]
ITM_WORK = ["itm_pair", "itc_1000", "rank_1000"]
QUICK_SKIP = {"vision_b8", "greedy20_b8"}

# ViT-L/16 at 384 px: S=577 tokens, C=1024, I=4096, 24 layers, 16x16 patches of 3 channels.
S, C, I, L, P = 577, 1024, 4096, 24, 16
VISION_FLOP = L * (2 * S * C * (4 * C + 2 * I) + 4 * S * S * C) + 2 * (S - 1) * 3 * P * P * C
# Decoder (BERT-base, 12 layers, vocab 30524): cross-attention K/V of the image, once; weights read per step.
CROSS_KV_FLOP = 12 * 2 * 2 * S * C * 768
STEP_WEIGHT_BYTES = 4 * (12 * (6 * 768 * 768 + 2 * 768 * 3072) + 30524 * 768 + 768 * 768)


def loadavg():
    return os.getloadavg()[0]


def captions(n):
    """1,000 distinct, deterministic captions of 8-14 words (same texts on both sides)."""
    who = ["a man", "a woman", "a dog", "two children", "a cat", "an old man", "a girl", "a group of people",
           "a horse", "a young boy"]
    does = ["sitting on", "running along", "standing next to", "playing near", "walking across", "lying on",
            "looking at", "jumping over", "riding along", "waiting by"]
    where = ["a sandy beach", "a busy street", "a wooden bench", "the green grass", "a snowy hill",
             "a small boat", "the kitchen table", "a red car", "the river bank", "a tall building"]
    return [f"{who[i % 10]} {does[(i // 10) % 10]} {where[(i // 100) % 10]} in the {['morning', 'evening'][i % 2]}"
            for i in range(n)]


def run(cmd, env=None):
    before = loadavg()
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit(f"compare_speed: {' '.join(map(str, cmd))} failed with {p.returncode}")
    lines = [json.loads(x) for x in p.stdout.splitlines() if x.startswith("{")]
    return {"lines": lines, "load_before": before, "load_after": loadavg(), "wall": wall}


def side_cmds(a, family, model, texts):
    common = ["--model", str(model), "--family", family, "--threads", str(a.threads), "--repeat", str(a.repeat),
              "--device", a.device]
    only = [w for w in (CAPTION_WORK if family == "caption" else ITM_WORK)
            if (not a.only or w in a.only) and not (a.quick and w in QUICK_SKIP)] + ["limits"]
    common += ["--texts", texts, "--itc-batch", str(a.itc_batch), "--only", *only]
    ref = [str(REPO / "tools" / "reference" / "py"), str(REPO / "tools" / "reference" / "compare_speed_ref.py"), *common]
    eng = ["dotnet", str(ENGINE), *common]
    sides = {}
    if not a.engine_only:
        sides["transformers"] = ref
    sides["engine"] = eng
    if a.bf16 and family == "caption":
        sides["engine-bf16"] = eng + ["--dtype", "bfloat16"]
    return sides


def collect(results):
    """{side: {"samples": {workload: [s...]}, "facts": {name: [v...]}, "process": [dict...], "loads": [..]}}"""
    out = {}
    for side, runs in results.items():
        d = out.setdefault(side, {"samples": {}, "facts": {}, "shares": {}, "paired": {}, "process": [], "loads": [],
                                  "info": None})
        for r in runs:
            d["loads"] += [r["load_before"], r["load_after"]]
            for x in r["lines"]:
                if x["kind"] == "sample":
                    d["samples"].setdefault(x["workload"], []).append(x["seconds"] / x.get("images", 1))
                    if "matmul_gflops" in x:  # the limit measured just before this sample
                        per_image = x["seconds"] / x.get("images", 1)
                        d["paired"].setdefault(x["workload"], []).append((per_image, x["matmul_gflops"]))
                        if x["workload"].startswith("vision"):
                            share = VISION_FLOP / per_image / 1e9 / x["matmul_gflops"]
                            d["shares"].setdefault(x["workload"], []).append(share)
                elif x["kind"] == "fact":
                    d["facts"].setdefault(x["name"], []).append(x["value"])
                elif x["kind"] == "process":
                    d["process"].append(x)
                elif x["kind"] == "info":
                    d["info"] = x
    return out


def med(xs):
    return statistics.median(xs) if xs else None


def fmt(x, unit="s"):
    if x is None:
        return "—"
    if unit == "s":
        return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"
    return f"{x:.1f}"


def report(a, data, started, ended):
    sides = list(data)
    eng, ref = "engine", "transformers"
    lines = [f"Machine: {os.uname().nodename}, {os.cpu_count()} CPUs, `{cpu_model()}`; threads {a.threads}; "
             f"device {a.device}; rounds {a.rounds} × repeat {a.repeat}; ITC batch {a.itc_batch}; {started} → {ended} UTC.", ""]
    lines.append("| workload (per image) | " + " | ".join(sides) + (" | ratio transformers/engine |" if ref in data else " |"))
    lines.append("|---" * (len(sides) + 1 + (ref in data)) + "|")
    for w in CAPTION_WORK + ITM_WORK:
        row = [med(data[s]["samples"].get(w, [])) for s in sides]
        if all(v is None for v in row):
            continue
        ratio = ""
        if ref in data:
            r, e = med(data[ref]["samples"].get(w, [])), med(data[eng]["samples"].get(w, []))
            ratio = f" | {r / e:.2f}×" if r and e else " | —"
        lines.append(f"| {w} | " + " | ".join(fmt(v) for v in row) + ratio + " |")
    lines.append("")
    lines.append("| process | " + " | ".join(sides) + " |")
    lines.append("|---" * (len(sides) + 1) + "|")
    for fam in ("caption", "itm"):
        for key, label, conv in (("load_seconds", f"load {fam} (s)", lambda v: f"{v:.2f}"),
                                 ("peak_rss_bytes", f"peak RSS {fam} (GB)", lambda v: f"{v / 1e9:.2f}"),
                                 ("weight_bytes", f"weights {fam} (GB)", lambda v: f"{v / 1e9:.2f}")):
            vals = [med([p[key] for p in data[s]["process"] if p["family"] == fam]) for s in sides]
            if any(v is not None for v in vals):
                lines.append(f"| {label} | " + " | ".join("—" if v is None else conv(v) for v in vals) + " |")
    for fact in ("matmul_fp32_gflops", "matmul_fp32_matmul_gflops", "matmul_fp32_onednn_gflops", "matmul_bf16_gflops",
                 "linear_bf16_gflops", "read_bandwidth_gbs"):
        vals = [med(data[s]["facts"].get(fact, [])) for s in sides]
        if any(v is not None for v in vals):
            lines.append(f"| {fact} | " + " | ".join(fmt(v, "") for v in vals) + " |")
    for w, n in (("vision_b1", 1), ("vision_b8", 1)):
        vals = []
        for s in sides:
            mm, label = limit_of(s, data[s]["facts"])
            t = med(data[s]["samples"].get(w, []))
            vals.append(f"{VISION_FLOP / t / 1e9:.0f} ({100 * VISION_FLOP / t / 1e9 / mm:.0f}% of {label})" if t and mm else "—")
        lines.append(f"| {w} GFLOP/s (share of the end-of-process matmul) | " + " | ".join(vals) + " |")
        # The matmul timed beside each vision sample is fp32: no share for a bf16 side.
        shares = [[] if is_bf16(s) else data[s]["shares"].get(w, []) for s in sides]
        if any(shares):
            lines.append(f"| {w}: median share of the matmul timed just before each sample (n) | " + " | ".join(
                f"{100 * med(x):.0f}% ({len(x)})" if x else "—" for x in shares) + " |")
    lines.append("| load average (1 min) min–max | " + " | ".join(
        f"{min(data[s]['loads']):.2f}–{max(data[s]['loads']):.2f}" for s in sides) + " |")
    lines += ["", *derived(data, sides)]
    return "\n".join(lines)


def is_bf16(side):
    return side.endswith("-bf16")


def limit_of(side, facts):
    """The compute limit a side's model runs at, and its name: the fp32 matmul (the faster of its routes), or for bf16
    the faster of the bf16 1024³ matmul and the bf16 linear of ViT-L's fc1 shape (SpeedHarness's
    Limits.BFloat16Gflops: the unpacked linear alone understates a CPU whose model runs on packed weights)."""
    if not is_bf16(side):
        return med(facts.get("matmul_fp32_gflops", [])), "fp32 matmul"
    rates = [r for r in (med(facts.get("matmul_bf16_gflops", [])), med(facts.get("linear_bf16_gflops", []))) if r]
    return (max(rates) if rates else None), "bf16 GEMM"


def derived(data, sides):
    out = []
    for s in sides:
        d = data[s]
        mm, label = limit_of(s, d["facts"])
        bw = med(d["facts"].get("read_bandwidth_gbs", []))
        step_bytes = STEP_WEIGHT_BYTES // 2 if is_bf16(s) else STEP_WEIGHT_BYTES
        g, b3 = med(d["samples"].get("greedy20", [])), med(d["samples"].get("beam3", []))
        if mm and bw and g:
            floor = (VISION_FLOP + CROSS_KV_FLOP) / mm / 1e9 + 19 * step_bytes / bw / 1e9
            out.append(f"- {s}: greedy20 floor {floor:.2f} s (vision + cross K/V at {mm:.0f} GFLOP/s ({label}), 19 steps × "
                       f"{step_bytes / 1e6:.0f} MB at {bw:.1f} GB/s); measured {g:.2f} s = {g / floor:.2f}× floor"
                       + (f"; beam3 {b3:.2f} s = {b3 / floor:.2f}× the same floor" if b3 else ""))
            # The same floor with the fp32 matmul timed just before each sample instead of the end-of-process one
            # (fp32 sides only: the paired limit is an fp32 matmul).
            paired = {w: [t / ((VISION_FLOP + CROSS_KV_FLOP) / m / 1e9 + 19 * step_bytes / bw / 1e9)
                          for t, m in d["paired"].get(w, [])] for w in ("greedy20", "beam3")} if not is_bf16(s) else {}
            if paired.get("greedy20"):
                out.append(f"- {s}: against the matmul timed just before each sample: greedy20 "
                           f"{med(paired['greedy20']):.2f}× floor (n={len(paired['greedy20'])})"
                           + (f", beam3 {med(paired['beam3']):.2f}× (n={len(paired['beam3'])})" if paired["beam3"] else ""))
        fp32 = med(data.get("engine", {}).get("samples", {}).get("greedy20", []))
        if is_bf16(s) and g and fp32:
            out.append(f"- {s}: greedy20 {fp32 / g:.2f}× faster than the engine in fp32 ({fp32:.2f} s)")
        gb8 = med(d["samples"].get("greedy20_b8", []))
        if g and gb8:
            out.append(f"- {s}: greedy20 batch 8 {gb8:.2f} s per image, {g / gb8:.2f}× faster per image than batch 1")
        itm, rank = med(d["samples"].get("itm_pair", [])), med(d["samples"].get("rank_1000", []))
        ref_itm = med(data.get("transformers", d)["samples"].get("itm_pair", [])) or itm
        if rank and ref_itm:   # --only without itm_pair: nothing to compare the ranking with
            out.append(f"- {s}: rank 1,000 texts {rank:.2f} s; every pair through transformers' ITM would take "
                       f"1000 × {ref_itm:.2f} s = {1000 * ref_itm:.0f} s → {1000 * ref_itm / rank:.0f}× faster")
    return out


def cpu_model():
    try:
        return next(x.split(":", 1)[1].strip() for x in open("/proc/cpuinfo") if x.startswith("model name"))
    except (OSError, StopIteration):
        return "unknown CPU"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="skip the batch-8 workloads")
    ap.add_argument("--bf16", action="store_true", help="also run the engine in bfloat16 (captioning)")
    ap.add_argument("--engine-only", action="store_true")
    ap.add_argument("--families", nargs="+", default=["caption", "itm"])
    ap.add_argument("--only", nargs="*", default=[])
    ap.add_argument("--itc-batch", type=int, default=250, help="texts per text-encoder call in itc_1000/rank_1000 (both sides)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out")
    a = ap.parse_args()
    texts = "/tmp/blip-compare-speed-texts.json"
    Path(texts).write_text(json.dumps(captions(1000)))
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    results = {}
    for rnd in range(a.rounds):
        for family, model in (("caption", CAPTION), ("itm", ITM)):
            if family not in a.families:
                continue
            sides = list(side_cmds(a, family, model, texts).items())
            if rnd % 2:
                sides.reverse()  # alternate who goes first
            for side, cmd in sides:
                sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] round {rnd + 1} {family} {side} (load {loadavg():.2f})\n")
                results.setdefault(side, []).append(run(cmd))
    text = report(a, collect(results), started, time.strftime("%Y-%m-%d %H:%M", time.gmtime()))
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n\n<details><summary>raw</summary>\n\n```json\n"
                               + json.dumps({s: [r["lines"] for r in rs] for s, rs in results.items()}) + "\n```\n</details>\n")


if __name__ == "__main__":
    main()
