#!/usr/bin/env python3
"""Writes the extra generate() cases that Blip.Engine's generation tests compare against.

    tools/reference/py tools/reference/make_generation_fixtures.py [--out DIR]

Uses the tiny models of Blip.Engine.Tests/Fixtures/tiny/ (written by make_fixtures.py) and the inputs of
its expected.safetensors (pixel_values, captioning.input_ids/attention_mask, vqa.input_ids/attention_mask),
plus two images derived from those for a batch of four. Output (default Blip.Engine.Tests/Fixtures/generation/):
expected.safetensors (for each case NAME: NAME = the returned ids, NAME.scores = beam sequences_scores
where beam search ran) and expected.json (each case's model, inputs and kwargs). Seeded and single-threaded:
a second run writes byte-identical files.
"""
import argparse
import json
from pathlib import Path

import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import BlipForConditionalGeneration, BlipForQuestionAnswering

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "Blip.Engine.Tests" / "Fixtures" / "tiny"
DEFAULT_OUT = REPO / "Blip.Engine.Tests" / "Fixtures" / "generation"
SAMPLE_SEED = 1234

# name -> (model, inputs, kwargs). inputs: "images" (2 fixture images), "prompt" (captioning prompts),
# "images4" (the 2 fixture images + 2 derived from them), "question" (vqa questions).
CASES = {
    "captioning.greedy_ngram2": ("captioning", "images", dict(max_length=20, no_repeat_ngram_size=2)),
    "captioning.greedy_min8": ("captioning", "images", dict(max_length=20, min_length=8)),
    "captioning.greedy_prompt_max_new6": ("captioning", "prompt", dict(max_new_tokens=6)),
    "captioning.greedy_batch4": ("captioning", "images4", dict(max_length=20)),
    "captioning.beam3_batch4": ("captioning", "images4", dict(max_length=16, num_beams=3, min_length=4)),
    "captioning.beam4_return2_lp05": ("captioning", "images", dict(max_length=15, num_beams=4, num_return_sequences=2,
                                                                   length_penalty=0.5)),
    "captioning.beam3_early_true": ("captioning", "images", dict(max_length=20, num_beams=3, early_stopping=True)),
    "captioning.beam3_never_lp2": ("captioning", "images", dict(max_length=20, num_beams=3, early_stopping="never",
                                                                length_penalty=2.0)),
    "captioning.beam3_prompt_ngram2": ("captioning", "prompt", dict(max_new_tokens=10, num_beams=3,
                                                                    no_repeat_ngram_size=2)),
    "captioning.sample_seed": ("captioning", "images", dict(max_length=20, do_sample=True, temperature=0.7,
                                                            top_k=20, top_p=0.9)),
    "captioning.sample_plain_return2": ("captioning", "images", dict(max_length=12, do_sample=True,
                                                                     num_return_sequences=2)),
    "captioning.beam3_sample": ("captioning", "images", dict(max_length=14, num_beams=3, do_sample=True, top_k=30)),
    "captioning.beam3_return3_early_lp15": ("captioning", "prompt", dict(max_new_tokens=9, num_beams=3,
                                                                         num_return_sequences=3, early_stopping=True,
                                                                         length_penalty=1.5, min_length=14)),
    "vqa.beam3": ("vqa", "question", dict(max_length=10, num_beams=3)),
    "vqa.greedy_rep13": ("vqa", "question", dict(max_length=10, repetition_penalty=1.3)),
    "vqa.beam3_return3": ("vqa", "question", dict(max_length=10, num_beams=3, num_return_sequences=3)),
}


def more_images(pixel_values: torch.Tensor) -> torch.Tensor:
    """Two more images derived from the fixture's (mirrored; dimmed and inverted), so nothing large is stored."""
    return torch.cat([pixel_values[:1].flip(3), -0.5 * pixel_values[1:2]], dim=0)


def load_inputs_and_models():
    """The tiny fixture's pixels (2, and 4 with more_images), prompts and questions, and its captioning and VQA models;
    what make_generation_sweep.py runs on too."""
    tiny = load_file(str(TINY / "expected.safetensors"))
    inputs = {k: tiny[k] for k in ["pixel_values", "captioning.input_ids", "captioning.attention_mask",
                                   "vqa.input_ids", "vqa.attention_mask"]}
    inputs["pixel_values4"] = torch.cat([inputs["pixel_values"], more_images(inputs["pixel_values"])], dim=0)
    models = {"captioning": BlipForConditionalGeneration.from_pretrained(str(TINY / "captioning")).eval(),
              "vqa": BlipForQuestionAnswering.from_pretrained(str(TINY / "vqa")).eval()}
    return inputs, models


def run_case(models, inputs, name, case):
    model_name, what, kwargs = case
    model = models[model_name]
    beams = kwargs.get("num_beams", 1) > 1
    extra = dict(return_dict_in_generate=True, output_scores=beams)
    if kwargs.get("do_sample"):
        torch.manual_seed(SAMPLE_SEED)
    with torch.no_grad():
        if what == "question":
            out = model.generate(input_ids=inputs["vqa.input_ids"].clone(), pixel_values=inputs["pixel_values"],
                                 attention_mask=inputs["vqa.attention_mask"].clone(), **kwargs, **extra)
        elif what == "prompt":
            out = model.generate(inputs["pixel_values"], input_ids=inputs["captioning.input_ids"].clone(),
                                 attention_mask=inputs["captioning.attention_mask"].clone(), **kwargs, **extra)
        else:
            out = model.generate(inputs["pixel_values4" if what == "images4" else "pixel_values"], **kwargs, **extra)
    tensors = {name: out.sequences.to(torch.int64).contiguous()}
    if beams:
        tensors[name + ".scores"] = out.sequences_scores.to(torch.float32).contiguous()
    meta = dict(model=model_name, inputs=what, kwargs=kwargs, shape=list(out.sequences.shape))
    if kwargs.get("do_sample"):
        meta["seed"] = f"torch.manual_seed({SAMPLE_SEED}) right before generate()"
    return tensors, meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    torch.set_num_threads(1)  # bit-identical floats across runs and core counts (not across CPUs: see README.md)
    inputs, models = load_inputs_and_models()
    tensors, cases = {}, {}
    for name, case in CASES.items():
        t, meta = run_case(models, inputs, name, case)
        tensors.update(t)
        cases[name] = meta
        print(name, t[name].tolist())
    args.out.mkdir(parents=True, exist_ok=True)
    save_file(dict(sorted(tensors.items())), str(args.out / "expected.safetensors"))
    meta = dict(cases=cases, sample_seed=SAMPLE_SEED, torch_threads=1,
                versions=dict(torch=torch.__version__, transformers=transformers.__version__),
                notes="pixel_values4 = cat(pv, pv[:1].flip(3), -0.5 * pv[1:2]) with pv the tiny pixel_values. "
                      "Beam cases also store NAME.scores (sequences_scores). Sampling cases call "
                      "torch.manual_seed(sample_seed) right before generate().")
    (args.out / "expected.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
