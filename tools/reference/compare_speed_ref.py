#!/usr/bin/env python3
"""The transformers side of tools/reference/compare_speed: runs the speed workloads in one process and prints
one JSON object per line (the same schema as tools/SpeedHarness, the Blip.Engine side).

    tools/reference/py tools/reference/compare_speed_ref.py --model DIR --family caption|itm \
        --threads 2 --repeat 2 [--only NAME ...] [--device cpu|cuda]

Lines: {"kind": "sample", "workload": NAME, "seconds": S, ...} per timed run, {"kind": "fact", ...} for the
matmul/bandwidth limits, and a final {"kind": "process", "peak_rss_bytes": ..., "load_seconds": ...}.
Workloads mirror tools/SpeedHarness/Workloads.cs one for one; keep them in step.
"""
import argparse
import json
import resource
import sys
import time
from pathlib import Path

import torch
from PIL import Image
from transformers import (BertTokenizer, BlipForConditionalGeneration, BlipForImageTextRetrieval,
                          BlipImageProcessorPil)


def emit(**kw):
    print(json.dumps(kw), flush=True)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(name, repeat, fn, device, limit=None, **extra):
    """With limit, each sample also carries the fp32 matmul rate measured just before it (see Emit.Timed)."""
    for _ in range(repeat):
        if limit is not None:
            extra["matmul_gflops"] = limit()
        sync(device)
        t = time.perf_counter()
        fn()
        sync(device)
        emit(kind="sample", workload=name, seconds=time.perf_counter() - t, **extra)


def matmul_gflops(device):
    """fp32 matmul GFLOP/s now: median of 3 timed 2048^3 products after one untimed."""
    n = 2048
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    times = []
    for _ in range(3):
        sync(device)
        t = time.perf_counter()
        a @ b
        sync(device)
        times.append(time.perf_counter() - t)
    return 2 * n ** 3 / sorted(times)[1] / 1e9


def peak_rss():
    # ru_maxrss is KiB on Linux; VmHWM is the same number, but this works where /proc is absent.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def limits(device, repeat):
    n = 2048
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    best = []
    for _ in range(max(3, repeat)):
        sync(device)
        t = time.perf_counter()
        a @ b
        sync(device)
        best.append(time.perf_counter() - t)
    best.sort()
    emit(kind="fact", name="matmul_fp32_gflops", value=2 * n ** 3 / best[len(best) // 2] / 1e9)
    if device.type == "cpu":
        x = torch.ones(256 * 1024 * 1024 // 4 * 4, dtype=torch.float32)  # 1 GiB
        x.sum()
        times = []
        for _ in range(3):
            t = time.perf_counter()
            x.sum()
            times.append(time.perf_counter() - t)
        times.sort()
        emit(kind="fact", name="read_bandwidth_gbs", value=x.numel() * 4 / times[1] / 1e9)
        del x


def caption_workloads(model, folder, device, repeat, only):
    proc = BlipImageProcessorPil(size={"height": 384, "width": 384})
    image_path = str(Path(folder) / "image.png")

    def pre():
        return proc(images=[Image.open(image_path)], return_tensors="pt")["pixel_values"]
    pv1 = pre().to(device)
    pv8 = pv1.repeat(8, 1, 1, 1)
    gen = dict(max_length=20, min_length=20, do_sample=False)
    run = {
        "preprocess": lambda: pre(),
        "vision_b1": lambda: model.vision_model(pixel_values=pv1),
        "vision_b8": lambda: model.vision_model(pixel_values=pv8),
        "decoder_step": None,
        "greedy20": lambda: model.generate(pixel_values=pv1, num_beams=1, **gen),
        "beam3": lambda: model.generate(pixel_values=pv1, num_beams=3, **gen),
        "greedy20_b8": lambda: model.generate(pixel_values=pv8, num_beams=1, **gen),
    }
    for name, fn in run.items():
        if only and name not in only:
            continue
        if name == "decoder_step":
            decoder_step(model, pv1, device, repeat)
            continue
        count = 1 if name.endswith("b8") else 5 * repeat if name == "preprocess" else repeat  # as SpeedHarness
        timed(name, count, fn, device, images=8 if name.endswith("b8") else 1,
              limit=(lambda: matmul_gflops(device)) if name.startswith("vision") or name in ("greedy20", "beam3") else None)


def decoder_step(model, pv1, device, repeat):
    image = model.vision_model(pixel_values=pv1)[0]
    ids = torch.tensor([[30522, 1037, 3861, 1997, 1037]], device=device)
    out = model.text_decoder(input_ids=ids, encoder_hidden_states=image, use_cache=True)
    cache, length = out.past_key_values, ids.shape[1]
    nxt = torch.tensor([[2158]], device=device)
    for _ in range(repeat + 1):  # the first step of a fresh cache is a warm-up
        sync(device)
        t = time.perf_counter()
        out = model.text_decoder(input_ids=nxt, encoder_hidden_states=image, past_key_values=cache, use_cache=True,
                                 attention_mask=torch.ones(1, length + 1, dtype=torch.long, device=device))
        out.logits[:, -1].argmax(-1)
        sync(device)
        cache, length = out.past_key_values, length + 1
        emit(kind="sample", workload="decoder_step", seconds=time.perf_counter() - t, images=1)


def itm_workloads(model, folder, device, repeat, only, texts, itc_batch):
    tok = BertTokenizer(vocab_file=str(Path(folder) / "vocab.txt"), do_lower_case=True)
    proc = BlipImageProcessorPil(size={"height": 384, "width": 384})
    pv = proc(images=[Image.open(Path(folder) / "image.png")], return_tensors="pt")["pixel_values"].to(device)
    pair = tok([texts[0]], return_tensors="pt", padding=True).to(device)
    enc = tok(texts, return_tensors="pt", padding=True).to(device)
    image = model.vision_model(pixel_values=pv)[0]

    def itm_pair():  # transformers' class, one pair, as a user calls it
        return model(input_ids=pair.input_ids, pixel_values=pv, attention_mask=pair.attention_mask, use_itm_head=True)

    def itc_features(image_embeds):
        image_feat = torch.nn.functional.normalize(model.vision_proj(image_embeds[:, 0]), dim=-1)
        feats = []
        for s in range(0, len(texts), itc_batch):
            q = model.text_encoder(input_ids=enc.input_ids[s:s + itc_batch],
                                   attention_mask=enc.attention_mask[s:s + itc_batch])[0]
            feats.append(torch.nn.functional.normalize(model.text_proj(q[:, 0]), dim=-1))
        return image_feat @ torch.cat(feats).t()

    def rank():  # ITC over 1,000 texts, then ITM on the best 16, the image encoded once
        image_embeds = model.vision_model(pixel_values=pv)[0]
        top = itc_features(image_embeds)[0].topk(16).indices
        q = model.text_encoder(input_ids=enc.input_ids[top], attention_mask=enc.attention_mask[top],
                               encoder_hidden_states=image_embeds.expand(16, -1, -1))[0]
        return model.itm_head(q[:, 0]).softmax(-1)[:, 1]
    run = {"itm_pair": itm_pair, "itc_1000": lambda: itc_features(image), "rank_1000": rank}
    for name, fn in run.items():
        if not only or name in only:
            timed(name, repeat, fn, device, images=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--family", choices=["caption", "itm"], required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--only", nargs="*", default=[])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--texts", help="JSON list of the 1,000 captions to rank (itm family)")
    ap.add_argument("--itc-batch", type=int, default=250, help="texts per text-encoder call in itc_1000/rank_1000")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    emit(kind="info", side="transformers", torch=torch.__version__, threads=torch.get_num_threads(),
         config=torch.__config__.parallel_info().splitlines()[:4])
    cls = BlipForConditionalGeneration if a.family == "caption" else BlipForImageTextRetrieval
    with torch.inference_mode():
        t = time.perf_counter()
        model = cls.from_pretrained(a.model).to(device).eval()
        load = time.perf_counter() - t
        rss_loaded = peak_rss()
        if a.family == "caption":
            caption_workloads(model, a.model, device, a.repeat, a.only)
        else:
            itm_workloads(model, a.model, device, a.repeat, a.only, json.loads(Path(a.texts).read_text()),
                          a.itc_batch)
        peak = peak_rss()  # before the limits, whose 1 GiB buffer is not the model's
        if not a.only or "limits" in a.only:
            limits(device, a.repeat)
    emit(kind="process", family=a.family, load_seconds=load, rss_after_load_bytes=rss_loaded, peak_rss_bytes=peak,
         weight_bytes=sum(p.numel() * p.element_size() for p in model.parameters()))


if __name__ == "__main__":
    main()
