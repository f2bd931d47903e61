#!/usr/bin/env python3
"""What transformers itself computes in bfloat16, for Blip.Engine's bfloat16 accuracy tests (issue #4).

    tools/reference/py tools/reference/make_bf16_fixtures.py [--out DIR]        # tiny models (committed)
    tools/reference/py tools/reference/make_bf16_fixtures.py --fullsize         # + .fullsize/ (not committed)

Tiny: loads the tiny models of Blip.Engine.Tests/Fixtures/tiny/ with dtype=torch.bfloat16 and runs, on the
inputs of tiny/expected.safetensors, the forwards and every generate() case whose float32 results the
fixtures already hold (tiny/ GENERATE of make_fixtures.py and generation/ CASES of
make_generation_fixtures.py). Writes DIR/expected.safetensors (default Blip.Engine.Tests/Fixtures/bf16/):
  captioning.logits, vqa.decoder_logits, retrieval.itm_logits, retrieval.itm_text_hidden,
  retrieval.itc_cosine, retrieval.text_embeds                                         (bf16, stored as float32)
  gen.NAME                                                                            (ids of case NAME in bf16)
and DIR/expected.json (case names, versions, how each was called). The tests compare Blip.Engine in bf16 with
the float32 fixtures and use these to know how far transformers' own bf16 is from its float32.

--fullsize also writes .fullsize/<name>/bf16.safetensors for the full-size random checkpoints of parity_full:
  captioning-large: fp32.greedy20, fp32.beam3, bf16.greedy20, bf16.beam3 (ids), bf16.logits (the forward of
  expected.safetensors in bf16); itm-large-flickr: bf16.itm_logits, bf16.itc_cosine.
Single-threaded and seeded (sampling cases call torch.manual_seed(1234) as the float32 fixtures did).
"""
import argparse
import json
import sys
from pathlib import Path

import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import BlipForConditionalGeneration, BlipForImageTextRetrieval, BlipForQuestionAnswering

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures  # noqa: E402
import make_generation_fixtures as gen_fixtures  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "Blip.Engine.Tests" / "Fixtures" / "tiny"
DEFAULT_OUT = REPO / "Blip.Engine.Tests" / "Fixtures" / "bf16"
BF16 = torch.bfloat16


def load(cls, folder: Path):
    return cls.from_pretrained(str(folder), dtype=BF16).eval()


@torch.no_grad()
def tiny_forwards(tiny: dict, out: dict) -> None:
    pv = tiny["pixel_values"].to(BF16)
    cap = load(BlipForConditionalGeneration, TINY / "captioning")
    out["captioning.logits"] = cap(pixel_values=pv, input_ids=tiny["captioning.decoder_input_ids"],
                                   attention_mask=tiny["captioning.attention_mask"]).logits
    ret = load(BlipForImageTextRetrieval, TINY / "retrieval")
    ids, mask = tiny["retrieval.input_ids"], tiny["retrieval.attention_mask"]
    itm = ret(input_ids=ids, pixel_values=pv, attention_mask=mask, use_itm_head=True)
    itc = ret(input_ids=ids, pixel_values=pv, attention_mask=mask, use_itm_head=False)
    out.update({"retrieval.itm_logits": itm.itm_score, "retrieval.itm_text_hidden": itm.question_embeds,
                "retrieval.itc_cosine": itc.itm_score, "retrieval.text_embeds": itc.question_embeds})
    vqa = load(BlipForQuestionAnswering, TINY / "vqa")
    dec = make_fixtures.Capture(vqa.text_decoder)
    vqa(input_ids=tiny["vqa.input_ids"], pixel_values=pv, attention_mask=tiny["vqa.attention_mask"],
        labels=tiny["vqa.labels"].clone())
    dec.close()
    out["vqa.decoder_logits"] = dec.out.logits


@torch.no_grad()
def tiny_generation(tiny: dict, out: dict) -> dict:
    """Every generate() case of the float32 fixtures, in bf16: tiny/ GENERATE and generation/ CASES."""
    models = {"captioning": load(BlipForConditionalGeneration, TINY / "captioning"),
              "vqa": load(BlipForQuestionAnswering, TINY / "vqa")}
    pv = tiny["pixel_values"].to(BF16)
    calls = {}
    for name, kwargs in make_fixtures.GENERATE.items():
        if name == "vqa.generate":
            ids = models["vqa"].generate(input_ids=tiny["vqa.input_ids"].clone(), pixel_values=pv,
                                         attention_mask=tiny["vqa.attention_mask"].clone(), **kwargs)
        elif name.endswith("greedy_prompt"):
            ids = models["captioning"].generate(pixel_values=pv, input_ids=tiny["captioning.input_ids"].clone(),
                                                attention_mask=tiny["captioning.attention_mask"].clone(), **kwargs)
        else:
            ids = models["captioning"].generate(pixel_values=pv, **kwargs)
        out["gen." + name] = ids
        calls[name] = {"fp32_ids_in": "tiny/expected.safetensors", "kwargs": kwargs}
    inputs = {k: tiny[k] for k in ["captioning.input_ids", "captioning.attention_mask",
                                   "vqa.input_ids", "vqa.attention_mask"]}
    inputs["pixel_values"] = pv
    inputs["pixel_values4"] = torch.cat([pv, gen_fixtures.more_images(pv)], dim=0)
    for name, case in gen_fixtures.CASES.items():
        t, meta = gen_fixtures.run_case(models, inputs, name, case)
        out["gen." + name] = t[name]
        calls[name] = {"fp32_ids_in": "generation/expected.safetensors", "kwargs": meta["kwargs"]}
    return calls


@torch.no_grad()
def fullsize(root: Path) -> None:
    cap_dir = root / "blip-image-captioning-large"
    exp = load_file(str(cap_dir / "expected.safetensors"))
    pv = exp["pixel_values"]
    t = {}
    fp32 = BlipForConditionalGeneration.from_pretrained(str(cap_dir)).eval()
    t["fp32.greedy20"] = fp32.generate(pixel_values=pv, max_length=20)
    t["fp32.beam3"] = fp32.generate(pixel_values=pv, max_length=20, num_beams=3)
    del fp32
    bf = load(BlipForConditionalGeneration, cap_dir)
    t["bf16.greedy20"] = bf.generate(pixel_values=pv.to(BF16), max_length=20)
    t["bf16.beam3"] = bf.generate(pixel_values=pv.to(BF16), max_length=20, num_beams=3)
    t["bf16.logits"] = bf(pixel_values=pv.to(BF16), input_ids=exp["captioning.input_ids"],
                          attention_mask=exp["captioning.attention_mask"]).logits
    del bf
    write(t, cap_dir / "bf16.safetensors")
    itm_dir = root / "blip-itm-large-flickr"
    exp = load_file(str(itm_dir / "expected.safetensors"))
    bf = load(BlipForImageTextRetrieval, itm_dir)
    ids, mask, pv = exp["retrieval.input_ids"], exp["retrieval.attention_mask"], exp["pixel_values"].to(BF16)
    write({"bf16.itm_logits": bf(input_ids=ids, pixel_values=pv, attention_mask=mask, use_itm_head=True).itm_score,
           "bf16.itc_cosine": bf(input_ids=ids, pixel_values=pv, attention_mask=mask, use_itm_head=False).itm_score},
          itm_dir / "bf16.safetensors")


def write(tensors: dict, path: Path) -> None:
    t = {k: v.contiguous().to(torch.float32 if v.is_floating_point() else torch.int64) for k, v in tensors.items()}
    save_file(dict(sorted(t.items())), str(path))
    for k, v in sorted(t.items()):
        print(path.name, k, list(v.shape), v.tolist() if not v.is_floating_point() else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--fullsize", action="store_true", help="also the full-size random checkpoints of .fullsize/")
    args = ap.parse_args()
    torch.set_num_threads(1)  # bit-identical floats across runs
    tiny = load_file(str(TINY / "expected.safetensors"))
    out: dict = {}
    tiny_forwards(tiny, out)
    calls = tiny_generation(tiny, out)
    args.out.mkdir(parents=True, exist_ok=True)
    write(out, args.out / "expected.safetensors")
    meta = {"dtype": "bfloat16 (from_pretrained(dtype=torch.bfloat16); pixel_values cast to bf16)",
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__}, "torch_threads": 1,
            "forwards": "as the tiny float32 fixtures (make_fixtures.py), outputs stored as float32",
            "generate": calls}
    (args.out / "expected.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if args.fullsize:
        torch.set_num_threads(2)
        fullsize(REPO / ".fullsize")


if __name__ == "__main__":
    main()
