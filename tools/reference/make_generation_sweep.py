#!/usr/bin/env python3
"""Writes a randomized generate() sweep that Blip.Engine's GenerationSweepTests compare against.

    tools/reference/py tools/reference/make_generation_sweep.py [--out DIR] [--count N] [--seed S] [--only I ...]

Draws N (default 200) option combinations from a fixed seed (--seed S; the committed fixture keeps the default, 20260)
over the tiny models of Blip.Engine.Tests/Fixtures/tiny/ and the inputs of make_generation_fixtures.py (images,
images4, prompt, question): greedy, sampling, beam search and beam sampling; max_length or max_new_tokens (tight ones
included: equal to or just past the prompt; long ones up to and past the decoder's 64 positions), min_length,
min_new_tokens, no_repeat_ngram_size, repetition_penalty (below 1 too), length_penalty (negative and 0 too),
early_stopping, num_return_sequences, temperature, top_k, top_p. Every 12th draw is then pushed past the edge of a
range, the edges (EDGES) taken in turn: mostly values or combinations transformers refuses. Every 12th other one gets
a transformers option that changes the ids but that Blip.Engine does not implement (UNSUPPORTED, in turn), recorded as
the case's "unsupported": Blip.Engine must refuse it (an ArgumentException naming it), not ignore it. Each case runs
transformers' generate(); a ValueError it raises (or an IndexError, past the decoder's positions) is recorded as the
case's "refused" (Blip.Engine must then throw an ArgumentException; a RuntimeError of torch.multinomial is
recorded the same way), else its returned ids (and the beam
sequences_scores). Sampling cases call torch.manual_seed(case seed) right before generate().
Output (default Blip.Engine.Tests/Fixtures/generation/): sweep.json, one case per line; a beam score that is NaN or
infinite is written as the string "NaN", "Infinity" or "-Infinity" (bare NaN is not JSON). Seeded and single-threaded:
a second run writes a byte-identical file. Fixtures/generation/nonfinite/sweep.json is `--seed 777 --count 954 --only
953`: the one case of 3,000 drawn (1,500 each with seeds 777 and 4242) whose beam scores are not finite: all NaN, as
exponential_decay_length_penalty adds an infinite penalty to the end token's -inf (min_length) score, and the NaN wins
the top-k; Blip.Engine refuses that option. (The same sum makes seed 4242's sweep.953, a sampling case, fail in
torch.multinomial.)
"""
import argparse
import json
import math
import random
import sys
from pathlib import Path

import torch
import transformers

from make_generation_fixtures import load_inputs_and_models

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "Blip.Engine.Tests" / "Fixtures" / "generation"
SWEEP_SEED = 20260
DEFAULT_COUNT = 200
POSITIONS = 64  # max_position_embeddings of the tiny text config


def prompt_length(inputs, what: str) -> int:
    """Length of the ids the decoder starts from: [bos] alone, or the prompt without its last column."""
    return inputs["captioning.input_ids"].shape[1] - 1 if what == "prompt" else 1


def draw_lengths(rng: random.Random, kwargs: dict, prompt: int) -> None:
    """max_length or max_new_tokens (or both, or neither: transformers' default), tight ones often, long ones up to
    and past the tiny decoder's 64 positions; min_length/min_new_tokens."""
    r = rng.random()
    if r >= 0.94:  # to the tiny decoder's 64 positions (65 ids fit) and one past them
        total = POSITIONS + rng.choice([0, 1, 2])
        kwargs.update(max_length=total) if rng.random() < 0.5 else kwargs.update(max_new_tokens=total - prompt)
    if r < 0.45 or 0.85 <= r < 0.9:
        kwargs["max_length"] = prompt + rng.choice([0, 1, 2, rng.randint(3, 18), rng.randint(3, 18), rng.randint(3, 18)])
    if 0.45 <= r < 0.9:
        kwargs["max_new_tokens"] = rng.choice([1, 2, rng.randint(3, 16), rng.randint(3, 16), rng.randint(17, 40)])
    top = prompt + kwargs["max_new_tokens"] if "max_new_tokens" in kwargs else kwargs.get("max_length", prompt + 20)
    if rng.random() < 0.3:
        kwargs["min_length"] = rng.randint(0, top + 2)
    if rng.random() < 0.2:
        kwargs["min_new_tokens"] = rng.randint(0, top - prompt + 2)


def draw_processors(rng: random.Random, kwargs: dict) -> None:
    if rng.random() < 0.3:
        kwargs["no_repeat_ngram_size"] = rng.randint(1, 4)
    if rng.random() < 0.3:
        kwargs["repetition_penalty"] = rng.choice([0.5, 0.8, 0.95, 1.0, 1.2, 1.5, 2.5])


def draw_sampling(rng: random.Random, kwargs: dict) -> None:
    kwargs["do_sample"] = True
    if rng.random() < 0.5:
        kwargs["temperature"] = rng.choice([0.05, 0.3, 0.7, 1.3, 2.0])
    if rng.random() < 0.5:
        kwargs["top_k"] = rng.choice([0, 1, 2, 5, 20, 2000])  # 2000: more than the tiny vocabulary
    if rng.random() < 0.5:
        kwargs["top_p"] = rng.choice([0.3, 0.6, 0.9, 0.99])


def draw_beams(rng: random.Random, kwargs: dict) -> None:
    beams = kwargs["num_beams"] = rng.randint(2, 5)
    if rng.random() < 0.5:
        kwargs["length_penalty"] = rng.choice([-1.0, -0.5, 0.0, 0.5, 1.5, 2.0])
    if rng.random() < 0.6:
        kwargs["early_stopping"] = rng.choice([True, False, "never"])
    if rng.random() < 0.4:
        kwargs["num_return_sequences"] = rng.randint(1, beams)


EDGES = ["return", "max_new_tokens", "repetition_penalty", "top_k", "temperature", "top_p"]


def push_past_edge(kwargs: dict, edge: str) -> None:
    """num_return_sequences past num_beams (or > 1 for greedy), max_new_tokens 0, repetition_penalty 0, top_k -1,
    temperature 0 (all refused by transformers) or top_p 0 (accepted by transformers, whose message says > 0)."""
    beams = kwargs.get("num_beams", 1)
    if edge == "return":
        kwargs["num_return_sequences"] = beams + 1 if beams > 1 else 2
        kwargs["do_sample"] = beams > 1 and kwargs.get("do_sample", False)
    elif edge == "max_new_tokens":
        kwargs.pop("max_length", None)
        kwargs["max_new_tokens"] = 0
    elif edge == "repetition_penalty":
        kwargs["repetition_penalty"] = 0.0
    else:
        kwargs["do_sample"] = True
        kwargs[edge] = dict(top_k=-1, temperature=0.0, top_p=0.0)[edge]


# key, value, whether it needs do_sample
UNSUPPORTED = [("typical_p", 0.9, True), ("bad_words_ids", [[229]], False), ("min_p", 0.1, True),
               ("suppress_tokens", [229, 444], False), ("epsilon_cutoff", 0.01, True), ("forced_eos_token_id", 102, False),
               ("begin_suppress_tokens", [229], False), ("renormalize_logits", True, False),
               ("encoder_repetition_penalty", 1.5, False), ("exponential_decay_length_penalty", [2, 1.5], False)]


def draw_case(rng: random.Random, inputs, edge: str | None, unsupported: tuple | None) -> dict:
    model = "vqa" if rng.random() < 0.25 else "captioning"
    what = "question" if model == "vqa" else rng.choice(["images", "images", "images4", "prompt", "prompt"])
    kwargs: dict = {}
    mode = rng.random()
    if mode < 0.35:
        draw_beams(rng, kwargs)
        if rng.random() < 0.3:
            draw_sampling(rng, kwargs)
    elif mode < 0.65:
        draw_sampling(rng, kwargs)
        if rng.random() < 0.3:
            kwargs["num_return_sequences"] = rng.randint(2, 3)
    if mode >= 0.35 and rng.random() < 0.15:  # beam-only flags without beams: transformers warns and ignores them
        kwargs.update(num_beams=1, length_penalty=rng.choice([-1.0, 2.0]), early_stopping=rng.choice([True, "never"]))
    if mode >= 0.65 and rng.random() < 0.15:  # sampling-only flags without sampling: the same
        kwargs.update(do_sample=False, temperature=0.5, top_k=3, top_p=0.5)
    draw_lengths(rng, kwargs, prompt_length(inputs, what))
    draw_processors(rng, kwargs)
    if edge is not None:
        push_past_edge(kwargs, edge)
    case = dict(model=model, inputs=what, kwargs=kwargs)
    if unsupported is not None:
        key, value, sample = unsupported
        kwargs[key] = value
        kwargs["do_sample"] = kwargs.get("do_sample", False) or sample
        case["unsupported"] = key
    if kwargs.get("do_sample"):
        case["seed"] = rng.randrange(1, 2**31)
    return case


def generate(models, inputs, case):
    model = models[case["model"]]
    what, kwargs = case["inputs"], case["kwargs"]
    extra = dict(return_dict_in_generate=True, output_scores=kwargs.get("num_beams", 1) > 1)
    if "seed" in case:
        torch.manual_seed(case["seed"])
    with torch.no_grad():
        if what == "question":
            return model.generate(input_ids=inputs["vqa.input_ids"].clone(), pixel_values=inputs["pixel_values"],
                                  attention_mask=inputs["vqa.attention_mask"].clone(), **kwargs, **extra)
        if what == "prompt":
            return model.generate(inputs["pixel_values"], input_ids=inputs["captioning.input_ids"].clone(),
                                  attention_mask=inputs["captioning.attention_mask"].clone(), **kwargs, **extra)
        return model.generate(inputs["pixel_values4" if what == "images4" else "pixel_values"], **kwargs, **extra)


def run_case(models, inputs, case) -> dict:
    """The case with its outcome: "ids" (and "scores" for beam search), or "refused" with transformers' message."""
    try:
        out = generate(models, inputs, case)
    # IndexError: positions past max_position_embeddings; RuntimeError: torch.multinomial on a row of probabilities
    # that is not finite (an unsupported option such as exponential_decay_length_penalty can make every score inf).
    except (ValueError, IndexError, RuntimeError) as e:
        return dict(case, refused=f"{type(e).__name__}: {str(e).splitlines()[0]}")
    result = dict(case, ids=out.sequences.tolist())
    if case["kwargs"].get("num_beams", 1) > 1:
        result["scores"] = [json_float(float(s)) for s in out.sequences_scores.to(torch.float32)]
    return result


def json_float(x: float):
    """x, or for NaN and the infinities the strings "NaN", "Infinity", "-Infinity" (System.Text.Json's named literals):
    json.dumps would write them bare, which is not JSON."""
    return x if math.isfinite(x) else "NaN" if math.isnan(x) else "Infinity" if x > 0 else "-Infinity"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT)
    parser.add_argument("--seed", type=int, default=SWEEP_SEED,
                        help="the draw's seed; another one gives a wider search (the committed fixture keeps the default)")
    parser.add_argument("--only", type=int, nargs="+", metavar="I",
                        help="run and write only these draws (by index; the others are still drawn, so each keeps the "
                             "case it has in the whole sweep): a small fixture of a few cases found in a wide one")
    args = parser.parse_args()
    torch.set_num_threads(1)  # bit-identical floats across runs and core counts (not across CPUs: see README.md)
    transformers.logging.set_verbosity_error()
    inputs, models = load_inputs_and_models()
    rng = random.Random(args.seed)
    lines = []
    for i in range(args.count):
        name = f"sweep.{i:03d}"
        edge = EDGES[i // 12 % len(EDGES)] if i % 12 == 11 else None
        unsupported = UNSUPPORTED[i // 12 % len(UNSUPPORTED)] if i % 12 == 5 else None
        case = draw_case(rng, inputs, edge, unsupported)
        if args.only is not None and i not in args.only:
            continue
        result = run_case(models, inputs, case)
        print(name, json.dumps(result["kwargs"], sort_keys=True), result.get("refused") or result["ids"][0])
        lines.append(f"    {json.dumps(name)}: {json.dumps(result, sort_keys=True, allow_nan=False)}")
    meta = dict(sweep_seed=args.seed, count=args.count, torch_threads=1,
                versions=dict(torch=torch.__version__, transformers=transformers.__version__),
                notes="Inputs as make_generation_fixtures.py (pixel_values4 = cat(pv, pv[:1].flip(3), -0.5 * pv[1:2])). "
                      "A case holds ids (returned sequences) and, with num_beams > 1, scores (sequences_scores); "
                      "or refused (the first line of transformers' ValueError or IndexError). A case with unsupported names an option "
                      "Blip.Engine must refuse (transformers' own outcome is kept beside it). Sampling cases call "
                      "torch.manual_seed(seed) right before generate().")
    if args.only is not None:
        meta["only"] = sorted(args.only)
    head = json.dumps(meta, indent=2, sort_keys=True)[:-2]  # reopen the object to append "cases"
    text = head + ',\n  "cases": {\n' + ",\n".join(lines) + "\n  }\n}\n"
    json.loads(text, parse_constant=lambda c: sys.exit(f"sweep.json: {c} is not JSON"))  # the file must stay valid JSON
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sweep.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
