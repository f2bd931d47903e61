#!/usr/bin/env python3
"""Writes the mixed-length batch fixtures: transformers on batches whose texts differ a lot in length.

    tools/reference/py tools/reference/make_batch_fixtures.py [--out DIR]
    tools/reference/py tools/reference/make_batch_fixtures.py --dtype bfloat16     # -> Fixtures/bf16/batch/

Reads the tiny models of Blip.Engine.Tests/Fixtures/tiny/ (make_fixtures.py) and its images rgb.png and rgba.png
(both PNG, so every decoder reads the same pixels), and runs them the way a user would: BlipProcessor (PIL image
backend, tokenizer padding=True, i.e. right padding to the longest, no truncation) and the model classes. Every
batch is also run one text at a time ("alone"), so a test can check both "equals transformers' batch" and, where
transformers is batch-invariant, "batch == alone". Output (default Blip.Engine.Tests/Fixtures/batch/):
expected.safetensors (names in expected.json "tensors"), expected.json (texts, calls, facts found on the way) and
left_tokenizer/{config,json}/ (the tiny tokenizer saved to pad and truncate on the left, two ways).

  itm.*      ITM logits (use_itm_head=True) of each text with each image, and ITC cosines (use_itm_head=False)
  caption.*  teacher-forced logits and losses of padded caption batches: labels = input_ids (transformers'
             default), pads -100, and the original BLIP recipe (bos first, pads and prompt -100, smoothing 0.1)
  prompt.*   captioning generate() with prompts of different lengths in one batch (greedy and beam 3)
  vqa.*      VQA generate() with questions of different lengths in one batch (greedy and beam 3), and the
             teacher-forced answer loss/logits with answers of different lengths
  left.*     a folder whose tokenizer pads (and truncates) on the left: its tokens, ITM/ITC and caption loss

With --dtype bfloat16 the same batches run on the models loaded with dtype=torch.bfloat16 (pixel_values cast to
bfloat16), for the bfloat16 accuracy tests (issue #4); the default DIR is then Blip.Engine.Tests/Fixtures/bf16/batch/,
floating outputs are stored as float32, and the left-padding tokenizers are read from the float32 fixtures'
left_tokenizer/ rather than written again.

Logits are stored for the first LOGIT_COLUMNS vocabulary columns only, with the logsumexp of every row over the
whole vocabulary (keeps the folder small; together they pin each row). Seeded, single-threaded, deterministic:
a second run writes byte-identical files.
"""
import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F
import transformers
from PIL import Image
from safetensors.torch import save_file
from transformers import (
    BertTokenizer,
    BlipForConditionalGeneration,
    BlipForImageTextRetrieval,
    BlipForQuestionAnswering,
    BlipImageProcessorPil,
    BlipProcessor,
)

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "Blip.Engine.Tests" / "Fixtures" / "tiny"
DEFAULT_OUT = REPO / "Blip.Engine.Tests" / "Fixtures" / "batch"
DEFAULT_OUT_BF16 = REPO / "Blip.Engine.Tests" / "Fixtures" / "bf16" / "batch"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
IMAGES = ["rgb.png", "rgba.png"]
LOGIT_COLUMNS = 48

# Words outside the tiny vocabulary (e.g. "with", "red") become [UNK], as unknown words do with the real one.
LONG = ("a woman and a dog sitting together on the beach, how many dogs are there? two dogs are running "
        "on the beach with a woman. what colour is the umbrella? dark blue, ok!")  # 33 words, 41 ids with [CLS] and [SEP]
TOO_LONG = LONG + " " + LONG  # 80 ids > max_position_embeddings 64 (the processor does not truncate)

ITM_TEXTS = [
    "dog",                  # one word
    LONG,
    "",                     # [CLS] [SEP] only
    "[PAD] [SEP] [DEC]",    # special tokens written in the text: ids 0, 102, 1038 with attention 1
    "?!",
    "naïve résumé — ok?",
]
CAPTIONS = ["dog", LONG, "", "a [PAD] dog"]
CAPTION_IMAGES = [0, 1, 0, 1]  # index into IMAGES per caption
BLIP_PROMPT = "a photography of "
PROMPTS = ["a", "a woman and a dog sitting together on the beach, two dogs are running on", ""]
PROMPT_IMAGES = [0, 1, 0]
QUESTIONS = ["dogs?", LONG, "", "how many dogs are there?"]
ANSWERS = ["two", "dark blue umbrella, ok", "", "two dogs"]
QUESTION_IMAGES = [0, 1, 0, 1]

GENERATE = {
    "prompt.greedy": dict(max_new_tokens=8, num_beams=1, do_sample=False),
    "prompt.beam3": dict(max_new_tokens=6, num_beams=3, do_sample=False),
    "vqa.greedy": dict(max_length=10, num_beams=1, do_sample=False),
    "vqa.beam3": dict(max_length=8, num_beams=3, do_sample=False),
}


def load_processor(tokenizer_folder: Path) -> BlipProcessor:
    """BlipProcessor with the tiny models' PIL image processor (the fixtures' pixels) and the tokenizer as saved in
    tokenizer_folder."""
    tok = BertTokenizer.from_pretrained(str(tokenizer_folder))
    return BlipProcessor(image_processor=BlipImageProcessorPil.from_pretrained(str(TINY / "retrieval")), tokenizer=tok)


def tokenize(processor, texts, padding_side="right"):
    enc = processor(text=texts, padding=True, padding_side=padding_side, return_tensors="pt")
    assert "token_type_ids" not in enc
    return enc["input_ids"], enc["attention_mask"]


def lse_and_columns(logits: torch.Tensor):
    return torch.logsumexp(logits, dim=-1), logits[..., :LOGIT_COLUMNS]


def real_rows(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """x [B,T,...] at the positions where mask [B,T] is 1, row-major: [R,...]."""
    return x[mask.bool()]


# ---------------------------------------------------------------- image-text matching
def run_itm(model, processor, pixels, t, facts):
    ids, mask = tokenize(processor, ITM_TEXTS)
    n = len(ITM_TEXTS)
    t["itm.input_ids"], t["itm.attention_mask"] = ids, mask
    itm, itm_alone = [], []
    for m in range(pixels.shape[0]):
        pv = pixels[m:m + 1].expand(n, -1, -1, -1)
        itm.append(model(input_ids=ids, pixel_values=pv, attention_mask=mask, use_itm_head=True).itm_score)
        rows = []
        for text in ITM_TEXTS:
            i, a = tokenize(processor, [text])
            rows.append(model(input_ids=i, pixel_values=pixels[m:m + 1], attention_mask=a, use_itm_head=True).itm_score[0])
        itm_alone.append(torch.stack(rows))
    t["itm.itm_logits"], t["itm.itm_logits_alone"] = torch.stack(itm), torch.stack(itm_alone)  # [M,N,2]
    itc = model(input_ids=ids, pixel_values=pixels, attention_mask=mask, use_itm_head=False).itm_score  # [M,N]
    cols = []
    for text in ITM_TEXTS:
        i, a = tokenize(processor, [text])
        cols.append(model(input_ids=i, pixel_values=pixels, attention_mask=a, use_itm_head=False).itm_score[:, 0])
    t["itm.itc"], t["itm.itc_alone"] = itc, torch.stack(cols, dim=1)
    text_embeds = model.text_encoder(input_ids=ids, attention_mask=mask).last_hidden_state
    t["itm.text_feat"] = F.normalize(model.text_proj(text_embeds[:, 0, :]), dim=-1)
    too_long, _ = tokenize(processor, [TOO_LONG])
    try:
        model(input_ids=too_long, pixel_values=pixels[:1], use_itm_head=True)
        error = None
    except (IndexError, RuntimeError) as e:
        error = type(e).__name__
    facts["itm"] = {
        "texts": ITM_TEXTS, "images": IMAGES,
        "itm_logits": "[M images, N texts, 2]: for image m, model(input_ids=itm.input_ids [N,T], pixel_values=image m "
                      "repeated N times, attention_mask=itm.attention_mask, use_itm_head=True).itm_score",
        "itm_logits_alone": "same, each text tokenized and scored alone (batch of 1)",
        "itc": "[M,N]: model(input_ids, pixel_values [M images], attention_mask, use_itm_head=False).itm_score "
               "= image_feat @ text_feat.T",
        "itc_alone": "[M,N]: column n from text n tokenized alone",
        "text_feat": "[N,E]: normalize(text_proj(text_encoder(input_ids, attention_mask)[:,0]))",
        "batch_invariant": bool(torch.allclose(t["itm.itm_logits"], t["itm.itm_logits_alone"], atol=1e-5)
                                and torch.allclose(itc, t["itm.itc_alone"], atol=1e-5)),
        "special_tokens_in_text": "'[PAD] [SEP] [DEC]' tokenizes to ids %s with attention %s: a written [PAD] is a "
                                  "real token (id 0, attended)" % (tokenize(processor, [ITM_TEXTS[3]])[0][0].tolist(),
                                                                   tokenize(processor, [ITM_TEXTS[3]])[1][0].tolist()),
        "too_long": {"text": TOO_LONG, "tokens": too_long.shape[1],
                     "max_position_embeddings": model.config.text_config.max_position_embeddings,
                     "transformers_raises": error,
                     "note": "BlipProcessor does not truncate (no truncation/max_length in its defaults), so a text "
                             "over max_position_embeddings reaches the position embedding and fails there"},
    }


# ---------------------------------------------------------------- a tokenizer that pads and truncates on the left
def left_tokenizer_folders(out: Path) -> dict[str, Path]:
    return {"config": out / "left_tokenizer" / "config", "json": out / "left_tokenizer" / "json"}


def save_left_tokenizers(out: Path) -> dict[str, Path]:
    """The tiny tokenizer saved with padding_side/truncation_side "left" in tokenizer_config.json (config/), and with
    only tokenizer.json's padding and truncation set to the left (json/), as transformers writes both."""
    folders = left_tokenizer_folders(out)
    tok = BertTokenizer.from_pretrained(str(TINY / "retrieval"), padding_side="left", truncation_side="left")
    tok.save_pretrained(str(folders["config"]))
    tok = BertTokenizer.from_pretrained(str(TINY / "retrieval"))
    tok.backend_tokenizer.enable_padding(direction="left", pad_id=tok.pad_token_id, pad_token=tok.pad_token)
    tok.backend_tokenizer.enable_truncation(max_length=512, direction="left")
    tok.save_pretrained(str(folders["json"]))
    for folder in folders.values():
        for name in ("is_local", "local_files_only"):  # this machine's loading flags, not settings
            path = folder / "tokenizer_config.json"
            config = json.loads(path.read_text(encoding="utf-8"))
            config.pop(name, None)
            path.write_text(json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
        again = BertTokenizer.from_pretrained(str(folder))
        assert (again.padding_side, again.truncation_side) == ("left", "left"), folder
    return folders


def run_left(models, pixels, folders, t, facts):
    """ITM/ITC and the captioning loss with texts padded on the left, as transformers pads for such a folder."""
    model = models["retrieval"]
    for label, folder in folders.items():
        processor = load_processor(folder)
        ids, mask = tokenize(processor, ITM_TEXTS, padding_side=processor.tokenizer.padding_side)
        t[f"left.{label}.input_ids"], t[f"left.{label}.attention_mask"] = ids, mask
        t[f"left.{label}.truncated"] = torch.tensor(processor.tokenizer(LONG, truncation=True, max_length=12).input_ids)
    processor = load_processor(folders["config"])
    ids, mask = t["left.config.input_ids"], t["left.config.attention_mask"]
    n = len(ITM_TEXTS)
    t["left.itm_logits"] = torch.stack([model(input_ids=ids, pixel_values=pixels[m:m + 1].expand(n, -1, -1, -1),
                                              attention_mask=mask, use_itm_head=True).itm_score
                                        for m in range(pixels.shape[0])])
    t["left.itc"] = model(input_ids=ids, pixel_values=pixels, attention_mask=mask, use_itm_head=False).itm_score
    captioning = models["captioning"]
    c_ids, c_mask = tokenize(processor, CAPTIONS, padding_side="left")
    out = captioning(pixel_values=pixels[CAPTION_IMAGES], input_ids=c_ids, attention_mask=c_mask, labels=c_ids)
    t["left.caption.input_ids"], t["left.caption.attention_mask"] = c_ids, c_mask
    t["left.caption.loss"] = out.loss.reshape(1)
    facts["left"] = {
        "folders": {k: str(v.relative_to(REPO)) for k, v in folders.items()},
        "config": "BertTokenizer.from_pretrained(tiny, padding_side='left', truncation_side='left').save_pretrained: "
                  "tokenizer_config.json names both sides",
        "json": "backend_tokenizer.enable_padding(direction='left') and enable_truncation(max_length=512, "
                "direction='left'), then save_pretrained: only tokenizer.json's padding/truncation name the side; "
                "transformers takes them as padding_side/truncation_side",
        "tensors": "left.<folder>.{input_ids,attention_mask}: processor(text=itm texts, padding=True) with the folder's "
                   "tokenizer (left-padded); left.<folder>.truncated: tokenizer(LONG, truncation=True, max_length=12) "
                   "(content cut from the left, [CLS] and [SEP] kept); left.itm_logits [M,N,2] / left.itc [M,N] as "
                   "itm.* with the left-padded ids (positions 0.. from column 0, pads included, so the scores differ "
                   "from right padding); left.caption.*: the captions left-padded, loss with labels = input_ids",
    }


# ---------------------------------------------------------------- captioning, teacher-forced
def caption_recipe(processor, recipe, captions):
    tok = processor.tokenizer
    texts = captions
    if recipe == "blip":  # BLIP's datasets: prompt + caption; the trainer keeps a caption already starting with it
        texts = [c if c.lower().startswith(BLIP_PROMPT.lower()) else BLIP_PROMPT + c for c in captions]
    ids, mask = tokenize(processor, texts)
    ids = ids.clone()
    if recipe == "hf":
        return texts, ids, mask, ids.clone(), 0.0
    if recipe == "masked":  # the usual fine-tuning recipe: labels[labels == pad_token_id] = -100
        return texts, ids, mask, ids.masked_fill(ids == tok.pad_token_id, -100), 0.0
    # original BLIP (blip_decoder.forward): [CLS] -> [DEC]; decoder_targets = input_ids.masked_fill(input_ids ==
    # pad_token_id, -100); then the prompt is masked. Masking by id also ignores a [PAD] written in the text
    # (attention 1), unlike masking where attention_mask is 0.
    ids[:, 0] = tok.bos_token_id
    labels = ids.masked_fill(ids == tok.pad_token_id, -100)
    prompt_length = len(tok(BLIP_PROMPT).input_ids) - 1
    labels[:, :prompt_length] = -100
    return texts, ids, mask, labels, 0.1


def caption_loss(logits, labels, smoothing, reduction="mean"):
    v = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, v), labels[:, 1:].reshape(-1), ignore_index=-100,
                           label_smoothing=smoothing, reduction=reduction)


def run_captions(model, processor, pixels, t, facts):
    pv = pixels[CAPTION_IMAGES]
    recipes = {}
    for recipe in ("hf", "masked", "blip"):
        texts, ids, mask, labels, smoothing = caption_recipe(processor, recipe, CAPTIONS)
        p = f"caption.{recipe}."
        model.text_decoder.label_smoothing = smoothing
        out = model(pixel_values=pv, input_ids=ids, attention_mask=mask, labels=labels)
        model.text_decoder.label_smoothing = 0.0
        torch.testing.assert_close(out.loss, caption_loss(out.logits, labels, smoothing), rtol=0, atol=0)
        nll = caption_loss(out.logits, labels, 0.0, reduction="none").view(ids.shape[0], -1)  # [B,T-1], 0 where -100
        lse, cols = lse_and_columns(out.logits)
        t.update({p + "input_ids": ids, p + "attention_mask": mask, p + "labels": labels,
                  p + "loss": out.loss.reshape(1), p + "nll": nll, p + "logsumexp": lse, p + "logits_head": cols})
        # Each caption alone: logits at its real positions, in row-major order of the batch's mask.
        alone_lse, alone_cols, alone_nll = [], [], []
        for b, text in enumerate(texts):
            _, i, a, lab, _ = caption_recipe(processor, recipe, [text])  # the prompt is already there: kept
            o = model(pixel_values=pv[b:b + 1], input_ids=i, attention_mask=a)
            l, c = lse_and_columns(o.logits)
            alone_lse.append(l[0])
            alone_cols.append(c[0])
            alone_nll.append(caption_loss(o.logits, lab, 0.0, reduction="none"))
        t[p + "logsumexp_alone"] = torch.cat(alone_lse)
        t[p + "logits_head_alone"] = torch.cat(alone_cols)
        t[p + "nll_alone"] = torch.cat(alone_nll)
        assert t[p + "logsumexp_alone"].shape[0] == int(mask.sum())
        recipes[recipe] = {"texts": texts, "label_smoothing": smoothing, "loss": float(out.loss)}
    facts["caption"] = {
        "captions": CAPTIONS, "images": [IMAGES[i] for i in CAPTION_IMAGES], "blip_prompt": BLIP_PROMPT,
        "recipes": recipes,
        "call": "model(pixel_values, input_ids, attention_mask, labels) with text_decoder.label_smoothing set to "
                "the recipe's; loss = CE(logits[:, :-1], labels[:, 1:], ignore -100, mean)",
        "hf": "labels = input_ids (transformers' default: pads counted)",
        "masked": "labels = input_ids with -100 where input_ids == pad_token_id (the padding, and the [PAD] written in "
                  "'a [PAD] dog', whose attention is 1)",
        "blip": "original BLIP: texts = prompt + caption, input_ids[:,0] = bos, labels = input_ids with -100 where "
                "input_ids == pad_token_id (a [PAD] written in the text too), first len(prompt ids)-1 labels -100, "
                "smoothing 0.1",
        "nll": "[B,T-1] per-token CE without smoothing, 0 where the label is -100",
        "logsumexp": "[B,T] logsumexp of each row's logits over the whole vocabulary",
        "logits_head": f"[B,T,{LOGIT_COLUMNS}] logits[..., :{LOGIT_COLUMNS}]",
        "*_alone": "each caption run alone (batch of 1), its positions concatenated in row-major order of the "
                   "batch's attention_mask ([R,...]); nll_alone: [sum(T_b - 1)]",
    }


# ---------------------------------------------------------------- generate()
def rows(ids: torch.Tensor) -> list[list[int]]:
    return ids.tolist()


def generate_alone(fn, n):
    """Runs fn(i) -> [1,L] for each i and pads the rows into one [n, max L] tensor with -1 (never an id)."""
    outs = [fn(i)[0] for i in range(n)]
    width = max(o.shape[0] for o in outs)
    res = torch.full((n, width), -1, dtype=torch.int64)
    for i, o in enumerate(outs):
        res[i, :o.shape[0]] = o
    return res


def generate_three_ways(model, processor, pv, texts, prefix, t):
    """The GENERATE cases under prefix: texts as one right-padded batch, each text alone, and one left-padded batch.
    Writes prefix.{input_ids,attention_mask} and prefix.left.* into t and returns (ids, mask, the cases' facts)."""
    ids, mask = tokenize(processor, texts)
    t[f"{prefix}.input_ids"], t[f"{prefix}.attention_mask"] = ids, mask
    left_ids, left_mask = tokenize(processor, texts, padding_side="left")
    t[f"{prefix}.left.input_ids"], t[f"{prefix}.left.attention_mask"] = left_ids, left_mask
    gen = {}
    for key, kwargs in GENERATE.items():
        if not key.startswith(prefix + "."):
            continue
        # Clones: the captioning model's generate() writes bos into input_ids[:, 0].
        res = model.generate(pixel_values=pv, input_ids=ids.clone(), attention_mask=mask.clone(), **kwargs)

        def one(i, kwargs=kwargs):
            i_ids, i_mask = tokenize(processor, [texts[i]])
            return model.generate(pixel_values=pv[i:i + 1], input_ids=i_ids, attention_mask=i_mask, **kwargs)

        alone = generate_alone(one, len(texts))
        left = model.generate(pixel_values=pv, input_ids=left_ids.clone(), attention_mask=left_mask.clone(), **kwargs)
        t[key], t[key + ".alone"], t[key + ".left"] = res, alone, left
        gen[key] = {"kwargs": kwargs, "shape": list(res.shape), "batch": rows(res), "alone": rows(alone),
                    "left": rows(left)}
    return ids, mask, gen


def run_prompts(model, processor, pixels, t, facts):
    _, _, gen = generate_three_ways(model, processor, pixels[PROMPT_IMAGES], PROMPTS, "prompt", t)
    facts["prompt"] = {
        "prompts": PROMPTS, "images": [IMAGES[i] for i in PROMPT_IMAGES],
        "padding_side": processor.tokenizer.padding_side,
        "call": "model.generate(pixel_values, input_ids=prompt.input_ids, attention_mask=prompt.attention_mask, "
                "**kwargs); .alone: each prompt tokenized and generated alone, rows padded with -1",
        "what_generate_does": "input_ids[:,0] = bos; the last column of input_ids and attention_mask dropped (the "
                              "longest prompt's [SEP]; shorter rows keep their [SEP] and their pads inside the prompt); "
                              "position_ids = cumsum(mask)-1 with 0 at pads, each new token = last position + 1, so a "
                              "padded row continues from position 1 after its pads",
        "batch_invariant": "no: transformers' batch differs from alone for the padded rows (see batch vs alone)",
        "left": "prompt.left.*: the same prompts tokenized with padding_side='left' (what transformers' warning "
                "recommends); generate() then writes bos over the first column (a pad for the shorter rows, masked), "
                "so those rows start from their [CLS]; positions cumsum(mask)-1 start at 0 at the first real token",
        "generate": gen,
    }


def run_vqa(model, processor, pixels, t, facts):
    pv = pixels[QUESTION_IMAGES]
    ids, mask, gen = generate_three_ways(model, processor, pv, QUESTIONS, "vqa", t)
    # Teacher-forced: answers of different lengths as labels, captured at the decoder.
    labels, labels_mask = tokenize(processor, ANSWERS)
    captured = {}

    def keep(_module, _args, output):
        captured["logits"] = output.logits  # returns None: the output is left as it is

    hook = model.text_decoder.register_forward_hook(keep)
    out = model(input_ids=ids, pixel_values=pv, attention_mask=mask, labels=labels.clone())
    hook.remove()
    lse, cols = lse_and_columns(captured["logits"])
    t.update({"vqa.labels": labels, "vqa.labels_attention_mask": labels_mask, "vqa.loss": out.loss.reshape(1),
              "vqa.answer_logsumexp": lse, "vqa.answer_logits_head": cols})
    facts["vqa"] = {
        "questions": QUESTIONS, "answers": ANSWERS, "images": [IMAGES[i] for i in QUESTION_IMAGES],
        "call": "model.generate(input_ids=vqa.input_ids, pixel_values, attention_mask=vqa.attention_mask, **kwargs); "
                ".alone: each question tokenized and answered alone, rows padded with -1; .left: the questions "
                "tokenized with padding_side='left' (vqa.left.*): the question encoder's positions are 0.. from "
                "the first column, pads included, so left padding moves the real tokens' positions",
        "what_generate_does": "the question encoder masks the question's padding; the decoder starts from [[bos]] and "
                              "cross-attends to question_embeds with an ALL-ONES mask, so padded question positions "
                              "are attended: a padded question's answer differs from the question alone",
        "forward": "model(input_ids, pixel_values, attention_mask, labels=vqa.labels): decoder input = labels, "
                   "causal only (answer pads attended), cross-attention to question_embeds: the question mask is "
                   "passed as encoder_attention_mask but BlipTextAttention never hands it to the cross-attention, "
                   "so question pads are attended here too; answer_* captured by a hook on text_decoder",
        "generate": gen,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, help=f"default {DEFAULT_OUT.relative_to(REPO)}, or "
                    f"{DEFAULT_OUT_BF16.relative_to(REPO)} with --dtype bfloat16")
    ap.add_argument("--dtype", choices=DTYPES, default="float32")
    args = ap.parse_args()
    dtype = DTYPES[args.dtype]
    torch.manual_seed(0)
    torch.set_num_threads(1)  # bit-identical floats across runs and core counts (not across CPUs: see README.md)
    torch.use_deterministic_algorithms(True)
    out: Path = (args.out or (DEFAULT_OUT if dtype == torch.float32 else DEFAULT_OUT_BF16)).resolve()
    out.mkdir(parents=True, exist_ok=True)
    models = {"retrieval": BlipForImageTextRetrieval, "captioning": BlipForConditionalGeneration,
              "vqa": BlipForQuestionAnswering}
    models = {k: cls.from_pretrained(str(TINY / k), dtype=dtype).eval() for k, cls in models.items()}
    processor = load_processor(TINY / "retrieval")
    images = [Image.open(TINY / "images" / name) for name in IMAGES]
    for im in images:
        im.load()
    pixels = processor(images=images, return_tensors="pt")["pixel_values"].to(dtype)
    t: dict[str, torch.Tensor] = {}
    facts: dict = {}
    with torch.no_grad():
        run_itm(models["retrieval"], processor, pixels, t, facts)
        run_captions(models["captioning"], processor, pixels, t, facts)
        run_prompts(models["captioning"], processor, pixels, t, facts)
        run_vqa(models["vqa"], processor, pixels, t, facts)
        folders = save_left_tokenizers(out) if dtype == torch.float32 else left_tokenizer_folders(DEFAULT_OUT)
        run_left(models, pixels, folders, t, facts)
    t = {k: v.detach().contiguous().to(torch.int64 if v.dtype in (torch.int32, torch.int64) else torch.float32)
         for k, v in t.items()}
    save_file(dict(sorted(t.items())), str(out / "expected.safetensors"))
    meta = {
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__},
        "dtype": args.dtype + ("" if dtype == torch.float32 else " (from_pretrained(dtype=torch.bfloat16); pixel_values "
                               "cast to bfloat16; floating outputs stored as float32)"),
        "torch_threads": 1, "logit_columns": LOGIT_COLUMNS, "images": IMAGES,
        "tokenizer": {"padding": "True (longest)", "padding_side": processor.tokenizer.padding_side,
                      "truncation": "none (BlipProcessor's default)",
                      "model_max_length": processor.tokenizer.model_max_length},
        **facts,
        "tensors": {k: {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", "")} for k, v in sorted(t.items())},
    }
    (out / "expected.json").write_text(json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                                       encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
