#!/usr/bin/env python3
"""Writes the training fixtures (losses and gradients computed by transformers' backward pass), and checks
a folder that Blip.Engine's trainer exported.

    tools/reference/py tools/reference/make_training_fixtures.py            # writes Fixtures/training/
    tools/reference/py tools/reference/make_training_fixtures.py --check-export DIR --image PNG --max-length N

Reads the tiny models and pixel_values of Fixtures/tiny/ (make_fixtures.py). Writes
Blip.Engine.Tests/Fixtures/training/{expected.safetensors, expected.json}:
  caption.{hf,blip}.{input_ids,attention_mask,labels}  the batch each setting trains on
  caption.{hf,blip}.loss                               LM loss (transformers' forward with labels)
  caption.{hf,blip}.grad.<param>                       d loss / d param (transformers' backward)
  retrieval.{itc_loss,itm_loss,grad.<param>}           original BLIP's ITC + ITM formulas, fixed negatives
Settings: "hf" = transformers' default (labels = input_ids as tokenized, label_smoothing 0.0, pads NOT
masked); "blip" = the original recipe ([CLS] -> [DEC], pads and the prompt masked with -100, smoothing 0.1).
Seeded, single-threaded, deterministic: a second run writes byte-identical files.
"""
import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F
import transformers
from PIL import Image
from safetensors.torch import load_file, save_file
from transformers import BlipForConditionalGeneration, BlipForImageTextRetrieval, BlipProcessor

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "Blip.Engine.Tests" / "Fixtures" / "tiny"
OUT = REPO / "Blip.Engine.Tests" / "Fixtures" / "training"

CAPTIONS = ["a photography of a dog, running!", "a photography of cafe deja vu"]
PROMPT = "a photography of "
ITC_TEMP = 0.07
NEG_IMAGE_FOR_TEXT = [1, 0]  # with B = 2 the only negative of each row is the other row
NEG_TEXT_FOR_IMAGE = [1, 0]
CAPTION_GRADS = [
    "vision_model.embeddings.patch_embedding.weight",
    "vision_model.encoder.layers.0.self_attn.qkv.weight",
    "text_decoder.bert.encoder.layer.0.crossattention.self.key.weight",
    "text_decoder.cls.predictions.transform.dense.weight",
    "text_decoder.bert.embeddings.word_embeddings.weight",
]
RETRIEVAL_GRADS = [
    "vision_model.encoder.layers.1.self_attn.qkv.weight",
    "text_encoder.encoder.layer.0.crossattention.self.key.weight",
    "text_encoder.encoder.layer.1.attention.self.query.weight",
    "vision_proj.weight",
    "text_proj.weight",
    "itm_head.weight",
]


def caption_case(model, tok, pixel_values, setting, t):
    enc = tok(CAPTIONS, padding="longest", return_tensors="pt")
    ids, mask = enc["input_ids"].clone(), enc["attention_mask"].clone()
    if setting == "hf":
        labels, smoothing = ids.clone(), 0.0
    else:  # original BLIP: blip_decoder.forward
        ids[:, 0] = tok.bos_token_id
        labels = ids.masked_fill(ids == tok.pad_token_id, -100)
        prompt_length = len(tok(PROMPT).input_ids) - 1
        labels[:, :prompt_length] = -100
        smoothing = 0.1
    model.zero_grad(set_to_none=True)
    model.text_decoder.label_smoothing = smoothing
    out = model(pixel_values=pixel_values, input_ids=ids, attention_mask=mask, labels=labels)
    out.loss.backward()
    params = dict(model.named_parameters())
    p = f"caption.{setting}."
    t[p + "input_ids"], t[p + "attention_mask"], t[p + "labels"] = ids, mask, labels
    t[p + "loss"] = out.loss.detach().reshape(1)
    for name in CAPTION_GRADS:
        t[p + "grad." + name] = params[name].grad.detach().clone()
    return {"label_smoothing": smoothing, "loss": float(out.loss)}


def retrieval_case(model, tok, pixel_values, t):
    """Original BLIP (blip_retrieval.py / blip_pretrain.py) ITC and ITM, without momentum encoder and queue."""
    enc = tok(CAPTIONS, padding="longest", return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    temp = torch.nn.Parameter(torch.tensor(ITC_TEMP))
    model.zero_grad(set_to_none=True)
    image_embeds = model.vision_model(pixel_values=pixel_values).last_hidden_state        # [B,S,Cv]
    image_feat = F.normalize(model.vision_proj(image_embeds[:, 0, :]), dim=-1)
    text_out = model.text_encoder(input_ids=ids, attention_mask=mask).last_hidden_state
    text_feat = F.normalize(model.text_proj(text_out[:, 0, :]), dim=-1)
    sim_i2t = image_feat @ text_feat.t() / temp
    sim_t2i = text_feat @ image_feat.t() / temp
    targets = torch.eye(len(CAPTIONS))
    loss_i2t = -torch.sum(F.log_softmax(sim_i2t, dim=1) * targets, dim=1).mean()
    loss_t2i = -torch.sum(F.log_softmax(sim_t2i, dim=1) * targets, dim=1).mean()
    itc = (loss_i2t + loss_t2i) / 2
    # ITM: positives, then (text b, negative image), then (negative text, image b)
    pos = model.text_encoder(input_ids=ids, attention_mask=mask, encoder_hidden_states=image_embeds).last_hidden_state
    img_neg = image_embeds[NEG_IMAGE_FOR_TEXT]
    ids_neg, mask_neg = ids[NEG_TEXT_FOR_IMAGE], mask[NEG_TEXT_FOR_IMAGE]
    neg = model.text_encoder(input_ids=torch.cat([ids, ids_neg]), attention_mask=torch.cat([mask, mask_neg]),
                             encoder_hidden_states=torch.cat([img_neg, image_embeds])).last_hidden_state
    logits = model.itm_head(torch.cat([pos[:, 0, :], neg[:, 0, :]]))
    labels = torch.cat([torch.ones(len(CAPTIONS)), torch.zeros(2 * len(CAPTIONS))]).long()
    itm = F.cross_entropy(logits, labels)
    (itc + itm).backward()
    params = dict(model.named_parameters())
    t["retrieval.input_ids"], t["retrieval.attention_mask"] = ids, mask
    t["retrieval.itc_loss"], t["retrieval.itm_loss"] = itc.detach().reshape(1), itm.detach().reshape(1)
    t["retrieval.itm_logits"] = logits.detach()
    t["retrieval.grad.temp"] = temp.grad.detach().reshape(1)
    for name in RETRIEVAL_GRADS:
        t["retrieval.grad." + name] = params[name].grad.detach().clone()
    return {"itc_temp": ITC_TEMP, "neg_image_for_text": NEG_IMAGE_FOR_TEXT, "neg_text_for_image": NEG_TEXT_FOR_IMAGE,
            "itc_loss": float(itc), "itm_loss": float(itm)}


def write_fixtures() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    pixel_values = load_file(TINY / "expected.safetensors")["pixel_values"]
    tok = BlipProcessor.from_pretrained(TINY / "captioning").tokenizer
    t, facts = {}, {"versions": {"transformers": transformers.__version__, "torch": torch.__version__},
                    "captions": CAPTIONS, "prompt": PROMPT,
                    "prompt_length": len(tok(PROMPT).input_ids) - 1, "caption_grads": CAPTION_GRADS,
                    "retrieval_grads": RETRIEVAL_GRADS, "pixel_values": "tiny/expected.safetensors pixel_values"}
    cap = BlipForConditionalGeneration.from_pretrained(TINY / "captioning").train()
    for setting in ("hf", "blip"):
        facts["caption." + setting] = caption_case(cap, tok, pixel_values, setting, t)
    ret = BlipForImageTextRetrieval.from_pretrained(TINY / "retrieval").train()
    facts["retrieval"] = retrieval_case(ret, tok, pixel_values, t)
    save_file({k: v.contiguous() for k, v in sorted(t.items())}, OUT / "expected.safetensors")
    (OUT / "expected.json").write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n")
    print("wrote", OUT)


def check_export(folder: Path, image: Path, max_length: int) -> None:
    """Loads an exported folder with from_pretrained; prints the loading report, greedy ids and dtype as JSON."""
    model, info = BlipForConditionalGeneration.from_pretrained(folder, output_loading_info=True)
    processor = BlipProcessor.from_pretrained(folder)
    pixel_values = processor(images=[Image.open(image).convert("RGB")], return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        ids = model.eval().generate(pixel_values=pixel_values, max_length=max_length, num_beams=1, do_sample=False)
    report = {k: sorted(v) if isinstance(v, (list, set)) else str(v) for k, v in info.items()}
    print(json.dumps({"loading_info": report, "ids": ids[0].tolist(), "dtype": str(model.dtype)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check-export", type=Path)
    ap.add_argument("--image", type=Path)
    ap.add_argument("--max-length", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    if args.check_export:
        check_export(args.check_export, args.image, args.max_length)
    else:
        write_fixtures()


if __name__ == "__main__":
    main()
