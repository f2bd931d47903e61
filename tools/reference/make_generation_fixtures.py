#!/usr/bin/env python3
"""Writes the extra generate() cases that Blip.Engine's generation tests compare against.

    tools/reference/py tools/reference/make_generation_fixtures.py [--out DIR]

Uses the tiny models of Blip.Engine.Tests/Fixtures/tiny/ (written by make_fixtures.py) and the inputs of
its expected.safetensors (pixel_values, captioning.input_ids/attention_mask, vqa.input_ids/attention_mask),
plus two images derived from those for a batch of four. Output (default Blip.Engine.Tests/Fixtures/generation/):
expected.safetensors (for each case NAME: NAME = the returned ids, NAME.scores = beam sequences_scores
where beam search ran) and expected.json (each case's model, inputs and kwargs); config_cases.json: what
generate(pixel_values, generation_config=GenerationConfig.from_pretrained(folder)) of the tiny captioning model makes
of generation_config.json texts whose float fields hold ints, bools, strings or values out of range, whose int fields
hold floats or bools, whose token ids are no ints, and whose list fields are empty (CONFIG_CASES).
Seeded and single-threaded: a second run writes byte-identical files.
"""
import argparse
import json
import tempfile
from pathlib import Path

import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import BlipForConditionalGeneration, BlipForQuestionAnswering, GenerationConfig

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

# generation_config.json texts (each also gets "max_length": 8) on the two fixture images. transformers reads the file
# as Python's json does (2 is an int, 2.0 and 2e0 floats) and checks nothing at load: generate() refuses a value only
# where a logits processor takes it, and only there (sampling warpers only with do_sample; temperature and repetition
# penalty only when != 1.0, as a float; top_p only below 1.0, through float()).
# UNSUPPORTED marks a case where transformers applies an option Blip.Engine does not implement (it must refuse the file).
SAMPLE, BEAMS, BEAM_SAMPLE = '"do_sample": true', '"num_beams": 2', '"num_beams": 2, "do_sample": true'
UNSUPPORTED = "unsupported"
CONFIG_CASES = [
    ("temperature", "2", SAMPLE), ("temperature", "2", BEAM_SAMPLE), ("temperature", "2", ""), ("temperature", "2", BEAMS),
    ("temperature", "1", SAMPLE), ("temperature", "0", SAMPLE), ("temperature", "-1", ""), ("temperature", "2.0", SAMPLE),
    ("temperature", "2e0", SAMPLE), ("temperature", "true", SAMPLE), ("temperature", '"2.0"', ""),
    ("repetition_penalty", "2", ""), ("repetition_penalty", "2", BEAMS), ("repetition_penalty", "2", SAMPLE),
    ("repetition_penalty", "1", ""), ("repetition_penalty", "2.0", ""), ("repetition_penalty", "2E0", BEAMS),
    ("top_p", "0", SAMPLE), ("top_p", "1", SAMPLE), ("top_p", "2", SAMPLE), ("top_p", "1.5", SAMPLE),
    ("top_p", "1.5", BEAM_SAMPLE), ("top_p", "-0.5", SAMPLE), ("top_p", "-0.5", ""), ("top_p", "0.5", BEAM_SAMPLE),
    ("length_penalty", "2", BEAMS), ("length_penalty", "-1", BEAMS), ("length_penalty", "0", BEAMS),
    ("length_penalty", "2", SAMPLE), ("length_penalty", "false", BEAMS),
    ("typical_p", "1", SAMPLE), ("typical_p", "1.5", SAMPLE), ("typical_p", "0.9", ""), ("typical_p", "0.9", SAMPLE, UNSUPPORTED),
    ("epsilon_cutoff", "0", SAMPLE), ("epsilon_cutoff", "1.5", SAMPLE), ("epsilon_cutoff", "0.01", BEAMS),
    ("epsilon_cutoff", "0.01", BEAM_SAMPLE, UNSUPPORTED), ("eta_cutoff", "2", SAMPLE), ("eta_cutoff", "0.01", ""),
    ("min_p", "0.1", ""), ("min_p", "0.1", SAMPLE, UNSUPPORTED), ("top_h", "0.5", BEAMS), ("top_h", "0.5", SAMPLE, UNSUPPORTED),
    ("encoder_repetition_penalty", "1", ""), ("encoder_repetition_penalty", "2", "", UNSUPPORTED),
    ("encoder_repetition_penalty", "1.5", "", UNSUPPORTED), ("guidance_scale", "1", ""), ("guidance_scale", "2.0", SAMPLE, UNSUPPORTED),
    ("diversity_penalty", "0.5", BEAMS), ("diversity_penalty", "1", ""), ("num_beam_groups", "2", ""),
    ("num_beam_groups", "2", BEAMS, UNSUPPORTED),
    # Bools and strings in float fields: a bool is 0 or 1 to Python, a string passes until a processor takes it.
    ("temperature", "false", SAMPLE), ("temperature", '"2.0"', SAMPLE), ("repetition_penalty", "true", ""),
    ("repetition_penalty", "false", ""), ("repetition_penalty", '"2.0"', ""), ("top_p", '"0.9"', SAMPLE), ("top_p", '"0.9"', ""),
    ("top_p", "true", SAMPLE), ("top_p", "false", SAMPLE), ("length_penalty", "true", BEAMS), ("length_penalty", '"2.0"', BEAMS),
    ("length_penalty", '"2.0"', ""),
    # Floats and bools in int fields: loaded as they are; generate() fails where a processor checks for an int or a float
    # reaches a tensor size, and compares them elsewhere (a float max_length stops at its ceiling).
    ("top_k", "5.0", SAMPLE), ("top_k", "5.0", ""), ("top_k", "5.0", BEAM_SAMPLE), ("top_k", "5.0", BEAMS), ("top_k", "5e0", SAMPLE),
    ("top_k", "5.5", SAMPLE), ("top_k", "0.0", SAMPLE), ("top_k", "true", SAMPLE), ("top_k", "false", SAMPLE), ("top_k", "true", ""),
    ("num_beams", "2.0", ""), ("num_beams", "2.0", SAMPLE), ("num_beams", "1.5", ""), ("num_beams", "1.0", ""),
    ("num_beams", "1.0", SAMPLE), ("num_beams", "1.0", SAMPLE + ', "num_return_sequences": 2'), ("num_beams", "true", ""),
    ("num_beams", "false", ""), ("num_beams", "0.0", ""),
    ("max_length", "6.0", ""), ("max_length", "6e0", ""), ("max_length", "6.5", ""), ("max_length", "6.5", SAMPLE),
    ("max_length", "6.0", BEAMS), ("max_length", "6.5", BEAMS), ("max_length", "6.5", BEAMS + ', "max_new_tokens": 3'),
    ("max_length", "true", ""), ("max_length", "false", ""),
    ("max_new_tokens", "6.0", ""), ("max_new_tokens", "5.5", ""), ("max_new_tokens", "0.5", ""), ("max_new_tokens", "6.0", BEAMS),
    ("max_new_tokens", "true", ""), ("max_new_tokens", "false", ""), ("max_new_tokens", "0.0", ""),
    ("min_length", "6.0", ""), ("min_length", "6.0", BEAMS), ("min_length", "0.0", ""), ("min_length", "true", ""),
    ("min_length", "false", ""), ("min_length", "6.0", '"min_new_tokens": 2'),
    ("min_new_tokens", "5.0", ""), ("min_new_tokens", "0.0", ""), ("min_new_tokens", "-1.0", ""), ("min_new_tokens", "true", ""),
    ("min_new_tokens", "false", ""),
    ("no_repeat_ngram_size", "2.0", ""), ("no_repeat_ngram_size", "2.0", BEAMS), ("no_repeat_ngram_size", "0.0", ""),
    ("no_repeat_ngram_size", "true", ""), ("no_repeat_ngram_size", "false", ""),
    ("num_return_sequences", "1.0", ""), ("num_return_sequences", "1.0", SAMPLE), ("num_return_sequences", "1.0", BEAMS),
    ("num_return_sequences", "2.0", SAMPLE), ("num_return_sequences", "2.0", BEAMS), ("num_return_sequences", "true", ""),
    ("num_return_sequences", "false", ""), ("num_return_sequences", "false", SAMPLE), ("num_return_sequences", "0.0", ""),
    # Token ids: BLIP passes its own eos and pad to generate(), over the file's; GenerationConfig compares pad_token_id with 0
    # at load, and generate() makes tensors of bos and decoder_start.
    ("pad_token_id", "5.0", ""), ("pad_token_id", "true", ""), ("pad_token_id", '"x"', ""), ("pad_token_id", "[0]", ""),
    ("bos_token_id", "5.5", ""), ("bos_token_id", "true", ""), ("bos_token_id", '"x"', ""), ("bos_token_id", "[[5]]", ""),
    ("bos_token_id", "[[1], [1, 2]]", ""), ("bos_token_id", '{"a": 1}', ""), ("decoder_start_token_id", "5.0", ""),
    ("decoder_start_token_id", "false", ""), ("decoder_start_token_id", '"x"', ""), ("decoder_start_token_id", "[]", ""),
    ("eos_token_id", "5.0", ""), ("eos_token_id", "true", ""), ("eos_token_id", '"x"', ""),
    # Empty lists: only the suppress processors take one as "nothing to do".
    ("bad_words_ids", "[]", ""), ("bad_words_ids", "[[]]", ""), ("bad_words_ids", "[]", BEAMS), ("suppress_tokens", "[]", ""),
    ("suppress_tokens", "[]", BEAMS), ("begin_suppress_tokens", "[]", ""), ("sequence_bias", "[]", ""), ("sequence_bias", "{}", ""),
    ("exponential_decay_length_penalty", "[]", ""), ("stop_strings", "[]", ""), ("force_words_ids", "[]", ""),
    ("constraints", "[]", ""), ("dola_layers", "[]", ""), ("forced_bos_token_id", "[]", "", UNSUPPORTED),
    ("forced_eos_token_id", "[]", ""), ("max_time", "[]", ""), ("penalty_alpha", "[]", ""), ("prompt_lookup_num_tokens", "[]", ""),
    ("watermarking_config", "[]", ""), ("min_p", "[]", SAMPLE), ("top_h", "[]", SAMPLE),
    # Ints at and below 0: num_return_sequences 0 or less is one sequence per input without beams (inputs are expanded by
    # max(num_beams, it)); min_new_tokens below 0 gives a min_length below the input's length (nothing forbidden), still
    # replacing min_length; a float one is refused where it plus the input's length (1 here) is above 0.
    ("num_return_sequences", "0", ""), ("num_return_sequences", "0", SAMPLE), ("num_return_sequences", "0", BEAMS),
    ("num_return_sequences", "-1", ""), ("num_return_sequences", "-1.0", SAMPLE), ("num_return_sequences", "-1", BEAMS),
    ("num_return_sequences", "false", BEAMS),
    ("min_new_tokens", "-1", ""), ("min_new_tokens", "-1", BEAMS), ("min_new_tokens", "-3", '"min_length": 6'),
    ("min_new_tokens", "-1.0", '"min_length": 6'), ("min_new_tokens", "-2.5", BEAMS), ("min_new_tokens", "-0.5", ""),
]


# The float fields Blip.Engine implements; a bool or a string in one is refused whatever transformers does with it.
FLOAT_FIELDS = {"temperature", "top_p", "repetition_penalty", "length_penalty"}
# Files transformers accepts that Blip.Engine refuses on purpose: (key, value, mode) -> why.
ENGINE_REFUSES = {
    ("num_return_sequences", "-1", BEAMS): "transformers slices the beams by it and returns num_beams - 1 sequences per "
                                           "input; Blip.Engine refuses a negative num_return_sequences with beams",
}

def engine_refuses(key: str, value: str, mode: str, accepted: bool) -> str | None:
    """Why Blip.Engine refuses a file transformers accepted: a bool or a string in a float field (transformers reads a
    bool as 0 or 1 and ignores a string unless a processor takes it), or an ENGINE_REFUSES case; None otherwise (also
    where transformers refuses the file itself)."""
    if not accepted:
        return None
    if key in FLOAT_FIELDS and value[0] not in "-0123456789":
        return ("transformers accepts it (a bool is 0 or 1 to it, a string is ignored where no processor takes it); "
                "Blip.Engine refuses a float field that holds no JSON number")
    return ENGINE_REFUSES.get((key, value, mode))


# generation_config.json texts (each also gets "max_length": 8) run with generate() keyword arguments over the file, as
# user code switches sampling or beams on, or sets a value, after loading: (key, value, mode, kwargs[, UNSUPPORTED]).
# generate() copies the file's config and updates it with the kwargs before it reads anything, so the file's value
# is refused or applied by the final search (the int temperature 2 with do_sample=True, typical_p with do_sample=True,
# num_beam_groups with num_beams=3), and a kwarg replaces the file's value (temperature=1.5 samples).
KWARGS_CASES = [
    ("temperature", "2", "", dict(do_sample=True)), ("temperature", "2", "", dict(do_sample=True, temperature=1.5)),
    ("temperature", "2", BEAMS, dict(do_sample=True)), ("temperature", "2", "", dict(num_beams=3)),
    ("temperature", "2", SAMPLE, dict(temperature=1.5)), ("temperature", "2", SAMPLE, dict(do_sample=False)),
    ("typical_p", "0.5", "", dict(do_sample=True), UNSUPPORTED), ("typical_p", "0.5", "", dict(num_beams=3)),
    ("min_p", "0.1", BEAMS, dict(do_sample=True), UNSUPPORTED), ("eta_cutoff", "0.01", "", dict(do_sample=True), UNSUPPORTED),
    ("num_beam_groups", "2", "", dict(num_beams=3), UNSUPPORTED), ("num_beam_groups", "2", "", dict(do_sample=True)),
    ("num_beam_groups", "2", BEAMS, dict(num_beams=1)),
    ("top_k", "5.0", "", dict(do_sample=True)), ("top_k", "5.0", "", dict(do_sample=True, top_k=5)),
    ("top_k", "0.0", "", dict(do_sample=True)), ("top_k", "true", "", dict(do_sample=True)),
    ("top_k", "5.0", SAMPLE, dict(top_k=5)),
    ("max_length", "6.5", "", dict(num_beams=3)), ("max_length", "6.5", "", dict(num_beams=3, max_length=7)),
    ("max_new_tokens", "3.5", "", dict(num_beams=3)), ("max_new_tokens", "3.5", "", dict(num_beams=3, max_new_tokens=4)),
    ("num_return_sequences", "0", "", dict(num_beams=3)), ("num_return_sequences", "1.0", "", dict(num_beams=3)),
    ("num_return_sequences", "0", "", dict(num_beams=3, num_return_sequences=2)),
]
# Files with kwargs that transformers accepts and Blip.Engine refuses on purpose: the file's own search is judged when
# the file is read, so a refusal there is not lifted by options set in code later.
KWARGS_ENGINE_REFUSES = ("Blip.Engine judges the file against its own do_sample and num_beams when it reads it (as "
                         "transformers would judge generate(generation_config=...) without kwargs), before code can "
                         "change them")


def run_config(model, inputs, text: str, kwargs: dict) -> dict:
    """transformers' generate() of the tiny captioning model's two images with the generation_config.json text and the
    kwargs over it: ids (and beam scores), or the first line of its refusal."""
    case, beams = {}, kwargs["num_beams"] > 1 if "num_beams" in kwargs else '"num_beams": 2' in text
    try:
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "generation_config.json").write_text(text, encoding="utf-8")
            config = GenerationConfig.from_pretrained(folder)
        if kwargs.get("do_sample", config.do_sample):
            case["seed"] = SAMPLE_SEED
            torch.manual_seed(SAMPLE_SEED)
        with torch.no_grad():
            out = model.generate(inputs["pixel_values"], generation_config=config, return_dict_in_generate=True,
                                 output_scores=beams, **kwargs)
        case["ids"] = out.sequences.tolist()
        if beams:
            case["scores"] = [float(s) for s in out.sequences_scores.to(torch.float32)]
    except (ValueError, TypeError, IndexError, ZeroDivisionError, AttributeError, RuntimeError) as e:
        case["refused"] = f"{type(e).__name__}: {str(e).splitlines()[0]}"
    return case


def config_text(key: str, value: str, mode: str) -> str:
    length = '"max_length": 8' if key != "max_length" else ""
    return "{" + ", ".join(x for x in [length, mode, f'"{key}": {value}'] if x) + "}"


def config_cases(models, inputs) -> list[str]:
    """One JSON line per CONFIG_CASES entry, then per KWARGS_CASES entry: the file's text (and kwargs), and
    transformers' ids (and beam scores) or its refusal."""
    model, lines = models["captioning"], []
    for i, (key, value, mode, *unsupported) in enumerate(CONFIG_CASES):
        text = config_text(key, value, mode)
        case = dict(config=text, field=key)
        if unsupported:
            case["unsupported"] = key
        case.update(run_config(model, inputs, text, {}))
        if (why := engine_refuses(key, value, mode, "ids" in case)) is not None:
            case["engine_refuses"] = why
        print(f"config.{i:02d}", text, case.get("refused") or case["ids"][0])
        lines.append(f"    {json.dumps(f'config.{i:02d}')}: {json.dumps(case, sort_keys=True, allow_nan=False)}")
    for i, (key, value, mode, kwargs, *unsupported) in enumerate(KWARGS_CASES):
        text = config_text(key, value, mode)
        case = dict(config=text, field=key, kwargs=kwargs)
        if unsupported:
            case["unsupported"] = key
        case.update(run_config(model, inputs, text, kwargs))
        if "ids" in case and "refused" in run_config(model, inputs, text, {}):
            case["engine_refuses"] = KWARGS_ENGINE_REFUSES
        print(f"kwargs.{i:02d}", text, kwargs, case.get("refused") or case["ids"][0])
        lines.append(f"    {json.dumps(f'kwargs.{i:02d}')}: {json.dumps(case, sort_keys=True, allow_nan=False)}")
    return lines


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
    head = json.dumps(dict(sample_seed=SAMPLE_SEED, torch_threads=1, versions=meta["versions"],
                           notes="Each case's config is a generation_config.json text; transformers ran "
                                 "generate(pixel_values, generation_config=GenerationConfig.from_pretrained(folder), "
                                 "return_dict_in_generate=True) on the tiny captioning model's two images (after "
                                 "torch.manual_seed(seed) where it samples): ids (and beam scores), or refused (the "
                                 "first line of its ValueError, TypeError, IndexError, ZeroDivisionError, AttributeError or "
                                 "RuntimeError). "
                                 "engine_refuses: why Blip.Engine refuses the file (a ConfigException naming field) "
                                 "although transformers accepted it; "
                                 "unsupported: transformers applies an option Blip.Engine does not implement, which "
                                 "it must refuse the same way."),
                      indent=2, sort_keys=True)[:-2]
    text = head + ',\n  "cases": {\n' + ",\n".join(config_cases(models, inputs)) + "\n  }\n}\n"
    json.loads(text)
    (args.out / "config_cases.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
