#!/usr/bin/env python3
"""Writes the tiny BLIP test fixtures that Blip.Engine's tests compare against.

    tools/reference/setup
    tools/reference/py tools/reference/make_fixtures.py [--out DIR] [--bert-vocab FILE]

Output (default Blip.Engine.Tests/Fixtures/tiny/): three tiny random BLIP models in Hub layout
(captioning/, retrieval/, vqa/), three generated images (images/), and the outputs of Hugging Face
transformers on them (expected.safetensors + expected.json). The file contract is in
tools/reference/README.md. Seeded and single-threaded: a second run writes byte-identical files.
"""
import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import PIL
import safetensors
import torch
import transformers
from PIL import Image, ImageDraw
from safetensors.torch import load_file, save_file
from transformers import (
    AutoImageProcessor,
    BertTokenizer,
    BlipConfig,
    BlipForConditionalGeneration,
    BlipForImageTextRetrieval,
    BlipForQuestionAnswering,
    BlipImageProcessorPil,
    BlipProcessor,
)

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "Blip.Engine.Tests" / "Fixtures" / "tiny"
# ../shared/data beside the checkout, as the tests read it; a fixed /work path broke clones elsewhere.
DEFAULT_BERT_VOCAB = REPO.parent / "shared" / "data" / "bert-base-uncased-vocab.txt"
SEED = 20240611

CAPTION_PROMPTS = ["a photography of", "Café déjà vu: a dog, running!"]
ITM_TEXTS = ["A woman and a dog sitting together on a beach.", "naïve résumé — ok?"]
VQA_QUESTIONS = ["How many dogs are there?", "What colour is the café's umbrella?"]
VQA_ANSWERS = ["two", "dark blue umbrella"]
ALL_TEXTS = CAPTION_PROMPTS + ITM_TEXTS + VQA_QUESTIONS + VQA_ANSWERS

VISION = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
              image_size=384, patch_size=16, layer_norm_eps=1e-5)
TEXT = dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96,
            max_position_embeddings=64, sep_token_id=102, pad_token_id=0)
IMAGE_TEXT_HIDDEN = 16

GENERATE = {  # name -> (model, kwargs); prompts/questions are added where noted
    "captioning.generate.greedy": dict(max_length=20, num_beams=1, do_sample=False),
    "captioning.generate.greedy_prompt": dict(max_length=20, num_beams=1, do_sample=False),
    "captioning.generate.beam3": dict(max_length=20, min_length=5, num_beams=3, do_sample=False),
    "captioning.generate.beam3_rep": dict(max_length=20, num_beams=3, repetition_penalty=1.5, do_sample=False),
    "vqa.generate": dict(max_length=20, num_beams=1, do_sample=False),
}


# ---------------------------------------------------------------- vocabulary and processor
def build_vocab(bert_vocab: Path) -> list[str]:
    """First 1000 real entries, then every real wordpiece the fixture texts need, then [DEC], [ENC]."""
    real_lines = bert_vocab.read_text(encoding="utf-8").splitlines()
    real = BertTokenizer(vocab=str(bert_vocab), do_lower_case=True)
    vocab = real_lines[:1000]
    seen = set(vocab)
    for text in ALL_TEXTS:
        for piece in real.tokenize(text):
            if piece not in seen:
                assert piece in real_lines, piece
                vocab.append(piece)
                seen.add(piece)
    assert vocab[0] == "[PAD]" and vocab[100:104] == ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    return vocab + ["[DEC]", "[ENC]"], real


def build_processor(vocab: list[str], real: BertTokenizer) -> BlipProcessor:
    tok = BertTokenizer(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True,
                        bos_token="[DEC]", additional_special_tokens=["[ENC]"], model_max_length=512)
    for text in ALL_TEXTS:  # a subset vocabulary must split exactly as the real one does
        assert tok.tokenize(text) == real.tokenize(text), text
    assert tok.convert_tokens_to_ids("[DEC]") == len(vocab) - 2 == tok.bos_token_id
    return BlipProcessor(image_processor=BlipImageProcessorPil(), tokenizer=tok)


# ---------------------------------------------------------------- images
def make_images(dir_: Path) -> dict[str, Path]:
    dir_.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    # rgb.png 200x150: diagonal gradient + noise + a disc and a bar
    yy, xx = np.mgrid[0:150, 0:200].astype(np.float64)
    rgb = np.stack([xx / 199 * 255, yy / 149 * 255, (xx + yy) / 348 * 255], axis=-1)
    rgb = np.clip(rgb + rng.normal(0, 12, rgb.shape), 0, 255).astype(np.uint8)
    im = Image.fromarray(rgb, "RGB")
    d = ImageDraw.Draw(im)
    d.ellipse((120, 30, 180, 90), fill=(230, 40, 30))
    d.rectangle((20, 100, 90, 120), fill=(20, 30, 200))
    im.save(dir_ / "rgb.png", optimize=False)
    # gray.jpg 97x131 (W x H): radial pattern + noise, JPEG quality 90
    yy, xx = np.mgrid[0:131, 0:97].astype(np.float64)
    r = np.hypot(xx - 48, yy - 65)
    g = 127 + 100 * np.cos(r / 6) + rng.normal(0, 10, r.shape)
    Image.fromarray(np.clip(g, 0, 255).astype(np.uint8), "L").save(
        dir_ / "gray.jpg", quality=90, optimize=False, progressive=False, subsampling=0)
    # rgba.png 64x48 with a varying alpha channel (convert("RGB") drops it)
    rgba = rng.integers(0, 256, (48, 64, 4), dtype=np.uint8)
    rgba[..., 3] = np.linspace(0, 255, 64, dtype=np.uint8)[None, :]
    Image.fromarray(rgba, "RGBA").save(dir_ / "rgba.png", optimize=False)
    return {"rgb": dir_ / "rgb.png", "gray": dir_ / "gray.jpg", "rgba": dir_ / "rgba.png"}


# ---------------------------------------------------------------- models
# transformers' BlipForQuestionAnswering builds ONE text config for encoder and decoder, so the decoder's
# cross-attention expects encoder_hidden_size = vision width while it is fed question_embeds of text width:
# it only runs when vision width == text width (true of both real VQA checkpoints: ViT-B 768 + BERT 768).
# The tiny VQA model therefore has a 48-wide vision tower; captioning and retrieval keep 32.
VQA_VISION_HIDDEN = TEXT["hidden_size"]


def make_config(vocab_size: int, bos: int, vision_hidden: int = VISION["hidden_size"]) -> BlipConfig:
    vision = dict(VISION, hidden_size=vision_hidden)
    text = dict(TEXT, vocab_size=vocab_size, bos_token_id=bos, encoder_hidden_size=vision_hidden)
    return BlipConfig(text_config=text, vision_config=vision, image_text_hidden_size=IMAGE_TEXT_HIDDEN)


def is_norm_weight(name: str) -> bool:
    return name.endswith(".weight") and ("LayerNorm" in name or "layer_norm" in name or "layernorm" in name)


@torch.no_grad()
def redraw(model: torch.nn.Module, seed: int) -> None:
    """Replaces every parameter (tied ones once) by seeded non-trivial values."""
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():  # named_parameters() yields a tied tensor once
        noise = torch.randn(p.shape, generator=g, dtype=torch.float32)
        p.copy_(1.0 + 0.1 * noise if is_norm_weight(name) else 0.2 * noise)


# Added to the LM-head bias of [SEP] after the re-draw so that generation stops early on some rows and
# not on others (random weights alone never emit [SEP]): exercises eos, padding of finished rows,
# min_length and beam finishing. Values picked by trying a few; see expected.json lengths.
SEP_BIAS = {"captioning": 2.0, "vqa": 3.3}


def build(cls, config: BlipConfig, seed: int, sep_bias: float = 0.0):
    torch.manual_seed(seed)
    model = cls(config).eval()
    redraw(model, seed)
    if sep_bias:
        with torch.no_grad():
            model.text_decoder.cls.predictions.bias[config.text_config.sep_token_id] += sep_bias
    return model


def tie_info(model, folder: Path) -> dict:
    if not hasattr(model, "text_decoder"):
        return {"has_lm_head": False}
    pred = model.text_decoder.cls.predictions
    emb = model.text_decoder.bert.embeddings.word_embeddings
    saved = load_file(folder / "model.safetensors")
    return {
        "has_lm_head": True,
        "decoder_weight_tied_to": "text_decoder.bert.embeddings.word_embeddings.weight",
        "decoder_weight_is_tied": pred.decoder.weight is emb.weight,
        "decoder_bias_tied_to": "text_decoder.cls.predictions.bias",
        "decoder_bias_is_tied": pred.decoder.bias is pred.bias,
        "file_has_decoder_weight": "text_decoder.cls.predictions.decoder.weight" in saved,
        "file_has_decoder_bias": "text_decoder.cls.predictions.decoder.bias" in saved,
        "file_has_position_ids": any(k.endswith("position_ids") for k in saved),
        "config_tie_word_embeddings": model.config.tie_word_embeddings,
        "text_config_tie_word_embeddings": model.config.text_config.tie_word_embeddings,
    }


# ---------------------------------------------------------------- capture helpers
class Capture:
    """Records a submodule's output (forward hook) and its input ids (pre-hook)."""

    def __init__(self, module, keep_inputs=False):
        self.out, self.kwargs = None, None
        self.h = [module.register_forward_hook(self._out)]
        if keep_inputs:
            self.h.append(module.register_forward_pre_hook(self._in, with_kwargs=True))

    def _out(self, _m, _a, out):
        self.out = out

    def _in(self, _m, args, kwargs):
        self.kwargs = dict(kwargs, _args=args)

    def close(self):
        for h in self.h:
            h.remove()


def pad_ids(rows: torch.Tensor, width: int, pad: int = 0) -> torch.Tensor:
    out = torch.full((rows.shape[0], width), pad, dtype=torch.int64)
    out[:, : rows.shape[1]] = rows
    return out


def lengths(ids: torch.Tensor, start: int, eos: int) -> list[int]:
    """Per row: ids up to and including the first eos at or after `start`, else the full row."""
    out = []
    for row in ids.tolist():
        n = len(row)
        for i in range(start, len(row)):
            if row[i] == eos:
                n = i + 1
                break
        out.append(n)
    return out


# ---------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--bert-vocab", type=Path, default=DEFAULT_BERT_VOCAB)
    args = ap.parse_args()
    torch.set_num_threads(1)  # bit-identical floats across runs and core counts (not across CPUs: see README.md)
    torch.use_deterministic_algorithms(True)
    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    vocab, real = build_vocab(args.bert_vocab)
    processor = build_processor(vocab, real)
    tok = processor.tokenizer
    bos = tok.bos_token_id
    config = make_config(len(vocab), bos)

    images = make_images(out / "images")
    pil = {k: Image.open(p) for k, p in images.items()}
    for im in pil.values():
        im.load()
    pixel_values = processor(images=[pil["rgb"], pil["gray"]], return_tensors="pt")["pixel_values"]
    pixel_values_rgba = processor(images=[pil["rgba"]], return_tensors="pt")["pixel_values"]
    t: dict[str, torch.Tensor] = {"pixel_values": pixel_values, "pixel_values_rgba": pixel_values_rgba}
    facts: dict = {}

    models = {}
    for i, (name, cls) in enumerate([("captioning", BlipForConditionalGeneration),
                                     ("retrieval", BlipForImageTextRetrieval),
                                     ("vqa", BlipForQuestionAnswering)]):
        cfg = make_config(len(vocab), bos, VQA_VISION_HIDDEN) if name == "vqa" else config
        model = build(cls, cfg, SEED + i, SEP_BIAS.get(name, 0.0))
        folder = out / name
        model.save_pretrained(folder)
        processor.save_pretrained(folder)
        # Hub checkpoints also carry vocab.txt; write it so a vocab.txt-only loader works too.
        (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
        models[name] = model
        facts[name] = {"class": cls.__name__, "seed": SEED + i, "tie": tie_info(model, folder),
                       "sep_bias_added_to_lm_head_bias": SEP_BIAS.get(name, 0.0)}

    with torch.no_grad():
        run_captioning(models["captioning"], processor, pixel_values, t, facts)
        run_retrieval(models["retrieval"], processor, pixel_values, t, facts)
        run_vqa(models["vqa"], processor, pixel_values, t, facts)

    backends = compare_backends(out / "captioning", [pil["rgb"], pil["gray"]], pixel_values)
    t = {k: v.detach().contiguous().to(torch.int64 if v.dtype in (torch.int32, torch.int64) else torch.float32)
         for k, v in t.items()}
    save_file(dict(sorted(t.items())), out / "expected.safetensors")
    meta = {
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__,
                     "PIL": PIL.__version__, "numpy": np.__version__, "safetensors": safetensors.__version__},
        "seed": SEED,
        "torch_threads": 1,
        "texts": {"captioning_prompts": CAPTION_PROMPTS, "itm_texts": ITM_TEXTS,
                  "vqa_questions": VQA_QUESTIONS, "vqa_answers": VQA_ANSWERS},
        "vocab": {"size": len(vocab), "first_1000_from": "bert-base-uncased vocab.txt",
                  "added_wordpieces": vocab[1000:-2], "bos_token": "[DEC]", "bos_token_id": bos,
                  "additional_special_tokens": ["[ENC]"], "enc_token_id": len(vocab) - 1,
                  "pad": 0, "unk": 100, "cls": 101, "sep": 102, "mask": 103},
        "config": {"vision": VISION, "text": dict(TEXT, vocab_size=len(vocab), bos_token_id=bos,
                                                   encoder_hidden_size=VISION["hidden_size"]),
                   "image_text_hidden_size": IMAGE_TEXT_HIDDEN,
                   "vqa_vision_hidden_size": VQA_VISION_HIDDEN,
                   "vqa_note": "vqa/ uses vision hidden_size 48 (= text hidden, encoder_hidden_size 48): "
                               "transformers' VQA decoder cross-attends to question_embeds with the vision width",
                   "text_layer_norm_eps": config.text_config.layer_norm_eps,
                   "vision_layer_norm_eps": config.vision_config.layer_norm_eps,
                   "label_smoothing": config.text_config.label_smoothing},
        "weights_init": "every parameter re-drawn after construction from torch.Generator(seed): "
                        "LayerNorm weights 1+0.1*N(0,1), everything else 0.2*N(0,1)",
        "images": {
            "rgb.png": {"size_wh": list(pil["rgb"].size), "mode": pil["rgb"].mode, "batch_index": 0},
            "gray.jpg": {"size_wh": list(pil["gray"].size), "mode": pil["gray"].mode, "batch_index": 1,
                         "jpeg_quality": 90, "subsampling": "4:4:4 (irrelevant for L)"},
            "rgba.png": {"size_wh": list(pil["rgba"].size), "mode": pil["rgba"].mode,
                         "only": "pixel_values_rgba"},
        },
        "image_processor": {
            "class": type(processor.image_processor).__name__,
            "saved_image_processor_type": processor.image_processor.to_dict()["image_processor_type"],
            "steps": "PIL convert('RGB') (RGBA: alpha dropped, no compositing; L: replicated) -> "
                     "np.uint8 HWC -> CHW -> PIL resize of the uint8 image to 384x384 BICUBIC "
                     "(resample=3, reducing_gap None, aspect not kept, no crop) -> float64 * (1/255) -> "
                     "float32 -> (x - mean) / std in float32",
            "loading_back": backends,
            "settings": {k: v for k, v in processor.image_processor.to_dict().items()
                         if k in ("do_convert_rgb", "do_resize", "size", "resample", "do_rescale",
                                  "rescale_factor", "do_normalize", "image_mean", "image_std",
                                  "do_center_crop", "do_pad")},
        },
        "tokenizer": {"class": type(tok).__name__, "do_lower_case": True, "strip_accents": None,
                      "tokenize_chinese_chars": True, "model_max_length": tok.model_max_length,
                      "return_token_type_ids": False, "padding": "longest, right, pad id 0"},
        "models": facts,
        "generation_defaults": generation_defaults(),
        "tensors": {k: {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", "")}
                    for k, v in sorted(t.items())},
    }
    (out / "expected.json").write_text(json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                                       encoding="utf-8")
    print(f"wrote {out}")


def generation_defaults() -> dict:
    """transformers' defaults for the generate() settings the fixtures leave unset."""
    d = transformers.GenerationConfig._get_default_generation_params()  # fills the fields left None
    keys = ("length_penalty", "early_stopping", "no_repeat_ngram_size", "num_return_sequences", "min_length",
            "repetition_penalty", "temperature", "top_k", "top_p")
    return {k: d.get(k) for k in keys}


def compare_backends(folder: Path, images, pixel_values) -> dict:
    """What from_pretrained of the saved folder gives, and how far the default backend is from PIL."""
    res = {}
    for label, kwargs in (("default", {}), ("backend_pil", {"backend": "pil"})):
        proc = AutoImageProcessor.from_pretrained(folder, **kwargs)
        pv = proc(images=images, return_tensors="pt")["pixel_values"]
        res[label] = {"class": type(proc).__name__,
                      "max_abs_diff_vs_pixel_values": float((pv - pixel_values).abs().max())}
    res["note"] = ("the fixtures use the PIL backend; AutoImageProcessor.from_pretrained(folder) picks the "
                   "torchvision backend when torchvision is installed (resizes differently); pass backend='pil'")
    return res


def tokenize(processor, texts):
    enc = processor(text=texts, padding=True, return_tensors="pt")
    return enc["input_ids"], enc["attention_mask"]


def run_captioning(model, processor, pixel_values, t, facts):
    ids, mask = tokenize(processor, CAPTION_PROMPTS)
    emb = Capture(model.vision_model.embeddings)
    layer0 = Capture(model.vision_model.encoder.layers[0])
    dec = Capture(model.text_decoder, keep_inputs=True)
    out = model(pixel_values=pixel_values, input_ids=ids.clone(), attention_mask=mask.clone(), labels=ids.clone())
    vis = model.vision_model(pixel_values=pixel_values)
    for c in (emb, layer0, dec):
        c.close()
    fed = dec.kwargs["input_ids"]
    t.update({
        "captioning.vision.embeddings": emb.out,
        "captioning.vision.layer0": layer0.out,
        "captioning.vision.last_hidden_state": vis.last_hidden_state,
        "captioning.vision.pooler_output": vis.pooler_output,
        "captioning.input_ids": ids, "captioning.attention_mask": mask,
        "captioning.decoder_input_ids": fed,
        "captioning.logits": out.logits, "captioning.loss": out.loss,
    })
    torch.testing.assert_close(out.image_embeds, vis.last_hidden_state, rtol=0, atol=0)
    f = facts["captioning"]
    f["forward"] = {
        "call": "model(pixel_values=pixel_values, input_ids=captioning.input_ids, "
                "attention_mask=captioning.attention_mask, labels=captioning.input_ids)",
        "decoder_input_ids_equal_input_ids": bool(torch.equal(fed, ids)),
        "input_ids_rewrite": "none: forward() feeds input_ids unchanged ([CLS] stays, no bos swap, no column "
                             "dropped); only generate() swaps column 0 to bos and drops the last column",
        "decoder_self_attention": "causal AND attention_mask (padding masked)",
        "decoder_cross_attention_mask": "None (all image tokens visible)",
        "encoder_hidden_states": "vision last_hidden_state (post_layernorm applied), [B,577,32]",
        "loss": "CrossEntropy(mean, label_smoothing=%s) of logits[:, :-1] vs labels[:, 1:]; pad labels (0) are "
                "NOT ignored" % model.config.text_config.label_smoothing,
        "logits": "full length T (logits_to_keep=0)",
    }
    f["vision_layer0"] = "output of vision_model.encoder.layers[0] (residual stream, before post_layernorm)"
    f["vision_embeddings"] = "vision_model.embeddings output: cat(class, conv patch) + position, no norm"
    gen = {}
    for key, kwargs in GENERATE.items():
        if not key.startswith("captioning."):
            continue
        if key.endswith("greedy_prompt"):
            res = model.generate(pixel_values=pixel_values, input_ids=ids.clone(), attention_mask=mask.clone(),
                                 **kwargs)
            start = ids.shape[1] - 1
            call = "model.generate(pixel_values, input_ids=captioning.input_ids, attention_mask=captioning.attention_mask, **kwargs)"
        else:
            res = model.generate(pixel_values=pixel_values, **kwargs)
            start = 1
            call = "model.generate(pixel_values, **kwargs)"
        t[key] = res
        gen[key] = {"call": call, "kwargs": kwargs, "shape": list(res.shape),
                    "lengths_to_first_sep_inclusive": lengths(res, start, 102)}
    f["generate"] = gen
    f["generate_notes"] = (
        "generate() sets input_ids[:,0]=bos_token_id, drops the last column of input_ids and attention_mask "
        "(the [SEP] of the longest prompt; a padded row keeps its own [SEP] and pad inside the prompt), "
        "passes eos_token_id=sep_token_id (102), pad_token_id=0, encoder_attention_mask=ones. Unconditional: "
        "input [[bos, eos_token_id]] -> [[bos]]. Returned ids include bos and the prompt; max_length counts them. "
        "Greedy: rows that finish early are padded with pad 0. Beam search: finished rows are padded with 102, "
        "not 0 (transformers' _beam_search fills with `pad_token_id or eos_token_id[0]`, and pad id 0 is falsy).")


def run_retrieval(model, processor, pixel_values, t, facts):
    ids, mask = tokenize(processor, ITM_TEXTS)
    itm = model(input_ids=ids, pixel_values=pixel_values, attention_mask=mask, use_itm_head=True)
    itc = model(input_ids=ids, pixel_values=pixel_values, attention_mask=mask, use_itm_head=False)
    text_embeds = model.text_encoder(input_ids=ids, attention_mask=mask).last_hidden_state
    img = itc.last_hidden_state
    image_feat = torch.nn.functional.normalize(model.vision_proj(img[:, 0, :]), dim=-1)
    text_feat = torch.nn.functional.normalize(model.text_proj(text_embeds[:, 0, :]), dim=-1)
    torch.testing.assert_close(image_feat @ text_feat.t(), itc.itm_score, rtol=0, atol=0)
    torch.testing.assert_close(text_embeds, itc.question_embeds, rtol=0, atol=0)
    t.update({
        "retrieval.vision.last_hidden_state": img,
        "retrieval.input_ids": ids, "retrieval.attention_mask": mask,
        "retrieval.itm_logits": itm.itm_score, "retrieval.itc_cosine": itc.itm_score,
        "retrieval.text_embeds": text_embeds, "retrieval.itm_text_hidden": itm.question_embeds,
        "retrieval.image_feat": image_feat, "retrieval.text_feat": text_feat,
    })
    facts["retrieval"]["forward"] = {
        "itm": "model(input_ids, pixel_values, attention_mask=mask, use_itm_head=True): text_encoder over input_ids "
               "as tokenized ([CLS] kept, no [ENC] swap), bidirectional self-attention with attention_mask, "
               "cross-attention to all 577 image tokens (mask ones); itm_head(hidden[:,0]) -> [B,2], image i with text i",
        "itc": "use_itm_head=False: text_encoder WITHOUT image (no cross-attention run); image_feat=normalize("
               "vision_proj(vision_last_hidden[:,0])), text_feat=normalize(text_proj(text_hidden[:,0])); "
               "itc_cosine = image_feat @ text_feat.T -> [images, texts] (row = image, column = text), not scaled",
        "normalize": "torch.nn.functional.normalize(p=2, eps=1e-12): x / max(||x||, 1e-12)",
        "itm_text_hidden": "itm forward's question_embeds (text_encoder last_hidden_state with cross-attention)",
        "text_embeds": "text_encoder(input_ids, attention_mask).last_hidden_state (no image, is_decoder=False)",
    }


def run_vqa(model, processor, pixel_values, t, facts):
    ids, mask = tokenize(processor, VQA_QUESTIONS)
    labels, labels_mask = tokenize(processor, VQA_ANSWERS)
    enc = Capture(model.text_encoder)
    dec = Capture(model.text_decoder, keep_inputs=True)
    out = model(input_ids=ids, pixel_values=pixel_values, attention_mask=mask, labels=labels.clone())
    enc.close()
    dec.close()
    fed = dec.kwargs["input_ids"]
    t.update({
        "vqa.vision.last_hidden_state": out.last_hidden_state,
        "vqa.input_ids": ids, "vqa.attention_mask": mask,
        "vqa.labels": labels, "vqa.labels_attention_mask": labels_mask,
        "vqa.question_embeds": enc.out.last_hidden_state,
        "vqa.decoder_input_ids": fed,
        "vqa.decoder_logits": dec.out.logits, "vqa.loss": out.loss,
    })
    f = facts["vqa"]
    f["forward"] = {
        "call": "model(input_ids=vqa.input_ids, pixel_values, attention_mask=vqa.attention_mask, labels=vqa.labels); "
                "no decoder_input_ids, no decoder_attention_mask",
        "labels": "processor(text=answers, padding=True).input_ids: [CLS] answer [SEP] + pad 0 (not -100)",
        "decoder_input_ids_equal_labels": bool(torch.equal(fed, labels)),
        "decoder_input": "labels unchanged ([CLS] first, no bos swap)",
        "decoder_self_attention": "causal only (decoder_attention_mask None: answer padding NOT masked)",
        "decoder_cross_attention": "encoder_hidden_states=question_embeds, encoder_attention_mask=vqa.attention_mask "
                                   "(question padding masked)",
        "question_embeds": "text_encoder(input_ids, attention_mask, encoder_hidden_states=vision last_hidden_state, "
                           "encoder_attention_mask=ones), bidirectional",
        "decoder_logits": "text_decoder output logits [B, T_answer, V] captured by a forward hook",
        "loss": "CrossEntropy(mean, label_smoothing=%s) of logits[:, :-1] vs labels[:, 1:], pads not ignored; "
                ".mean() again (no-op)" % model.config.text_config.label_smoothing,
    }
    kwargs = GENERATE["vqa.generate"]
    res = model.generate(input_ids=ids, pixel_values=pixel_values, attention_mask=mask, **kwargs)
    t["vqa.generate"] = res
    f["generate"] = {"vqa.generate": {
        "call": "model.generate(input_ids=vqa.input_ids, pixel_values, attention_mask=vqa.attention_mask, **kwargs)",
        "kwargs": kwargs, "shape": list(res.shape), "lengths_to_first_sep_inclusive": lengths(res, 1, 102)}}
    f["generate_notes"] = (
        "question_embeds as in forward; the decoder starts from [[bos]] and its cross-attention mask is ALL ONES "
        "(question padding is NOT masked in generate, unlike forward); eos_token_id=102, pad_token_id=0; "
        "the returned ids start with bos (no question); greedy rows that finish early are padded with 0.")


if __name__ == "__main__":
    main()
