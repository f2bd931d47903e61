#!/usr/bin/env python3
"""Writes the caption-metric fixture: nltk's own BLEU and Treebank tokens for random caption sets.

    tools/reference/py tools/reference/make_metric_fixtures.py     # writes Fixtures/training/metrics.json

pycocoevalcap (Java PTBTokenizer + bleu_scorer + cider_scorer) cannot be installed here; nltk can
(Debian's python3-nltk, in the reference chroot). This script makes seeded random corpora (1-5 images,
1-5 references each, 0-12 words, repeated words, hyphenated words, clitics, numbers, symbols,
punctuation, capitals) and records, per corpus, what nltk computes on nltk's tokens:
  tokens     TreebankWordTokenizer(convert_parentheses=True), lower-cased after tokenizing (as Stanford's
             -lowerCase does), without pycocoevalcap's PUNCTUATIONS tokens
  bleu4      nltk.translate.bleu_score.corpus_bleu (weights 1/4, no smoothing)
  matches    per order n = 1..4, the sum over candidates of modified_precision(...).numerator (clipped counts)
  guesses    per order, the candidates' n-grams, sum of max(0, words - n + 1) (what pycocoevalcap divides by)
  hyp_len    sum of candidate lengths; ref_len: sum of closest_ref_length (ties to the shorter)
  comparable every candidate has >= 4 words and every order a match: only then is nltk's corpus_bleu
             pycocoevalcap's BLEU up to its 1e-15/1e-9 epsilons (nltk counts max(1, n-grams) per
             candidate and returns ~0 for an order without a match; pycocoevalcap does neither)
The text avoids the few constructs where nltk's Treebank rules and Stanford's PTBTokenizer disagree
(periods inside a caption other than in numbers, abbreviations, "wanna" at the end, '&' inside words).
Seeded and deterministic: a second run writes a byte-identical file.
"""
import json
import random
from pathlib import Path

import nltk
from nltk.tokenize import TreebankWordTokenizer
from nltk.translate.bleu_score import closest_ref_length, corpus_bleu, modified_precision

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "Blip.Engine.Tests" / "Fixtures" / "training" / "metrics.json"

# pycocoevalcap/tokenizer/ptbtokenizer.py drops exactly these tokens (a fact of its source).
PUNCTUATIONS = {"''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"}
WORDS = ("a man dog cat red blue small big on the in of with is sitting standing table grass street "
         "t-shirt black-and-white double-decker man's dog's don't isn't it's they're cannot gonna gotta "
         "3.5 1,000 10:30 2 $5 50% #1 and/or o'clock").split()
CASES = 240
TOKENIZE = 300
TREEBANK = TreebankWordTokenizer()


def words(text):
    tokens = [t.lower() for t in TREEBANK.tokenize(text, convert_parentheses=True)]
    return [t for t in tokens if t not in PUNCTUATIONS]


def caption(rng, base=None):
    """A word list: fresh (Zipf-like draws) or a mutation of base (drop, replace, insert, swap)."""
    if base is None:
        n = rng.choice([0, 1, 2, 3] + list(range(4, 13)) * 2)
        return [WORDS[min(int(rng.paretovariate(1.2)) - 1, len(WORDS) - 1)] if rng.random() < 0.5
                else rng.choice(WORDS) for _ in range(n)]
    out = list(base)
    for _ in range(rng.randint(0, 3)):
        op = rng.random()
        if op < 0.3 and out:
            out.pop(rng.randrange(len(out)))
        elif op < 0.6 and out:
            out[rng.randrange(len(out))] = rng.choice(WORDS)
        elif op < 0.85:
            out.insert(rng.randint(0, len(out)), rng.choice(WORDS))
        elif len(out) > 1:
            i = rng.randrange(len(out) - 1)
            out[i], out[i + 1] = out[i + 1], out[i]
    return out


def render(rng, ws):
    """Text for a word list: capitals, commas, dashes, brackets, quotes and final punctuation that PTB drops."""
    parts = []
    for i, w in enumerate(ws):
        r = rng.random()
        if r < 0.08:
            w = w.upper()
        elif r < 0.2:
            w = w[:1].upper() + w[1:]
        r = rng.random()
        if r < 0.06:
            w = f"({w})"
        elif r < 0.1:
            w = f'"{w}"'
        elif r < 0.18 and i + 1 < len(ws):
            w += rng.choice([",", ";", ":", " --", " -"])
        parts.append(w)
    text = " ".join(parts)
    r = rng.random()
    if ws and r < 0.5:
        text += rng.choice([".", "!", "?", " .", "...", "!!"])
    return text


def case(rng):
    images = rng.randint(1, 5)
    cands, refs = [], []
    for _ in range(images):
        rs = [caption(rng)]
        rs += [caption(rng, rs[0]) if rng.random() < 0.7 else caption(rng) for _ in range(rng.randint(0, 4))]
        cand = caption(rng, rng.choice(rs)) if rng.random() < 0.85 else caption(rng)
        cands.append(render(rng, cand))
        refs.append([render(rng, r) for r in rs])
    hyps = [words(c) for c in cands]
    refw = [[words(r) for r in rs] for rs in refs]
    matches = [sum(modified_precision(r, h, n).numerator for h, r in zip(hyps, refw)) for n in range(1, 5)]
    return {
        "candidates": cands,
        "references": refs,
        "bleu4": float(corpus_bleu(refw, hyps)),
        "matches": matches,
        "guesses": [sum(max(0, len(h) - n + 1) for h in hyps) for n in range(1, 5)],
        "hyp_len": sum(len(h) for h in hyps),
        "ref_len": sum(closest_ref_length(r, len(h)) for h, r in zip(hyps, refw)),
        "comparable": all(len(h) >= 4 for h in hyps) and all(m > 0 for m in matches),
    }


def main():
    rng = random.Random(20241203)
    import warnings
    warnings.simplefilter("ignore")  # nltk warns about orders without a match; that is recorded as data
    cases = [case(rng) for _ in range(CASES)]
    texts = sorted({t for c in cases for t in c["candidates"] + [r for rs in c["references"] for r in rs]})
    texts = rng.sample(texts, min(TOKENIZE, len(texts)))
    lines = [json.dumps(c, sort_keys=True, ensure_ascii=False) for c in cases]
    toks = [json.dumps({"text": t, "words": words(t)}, ensure_ascii=False) for t in texts]
    with open(OUT, "w", encoding="utf-8") as f:
        f.write('{"nltk": %s,\n"cases": [\n%s\n],\n"tokenize": [\n%s\n]}\n'
                % (json.dumps(nltk.__version__), ",\n".join(lines), ",\n".join(toks)))
    comparable = sum(c["comparable"] for c in cases)
    print(f"{OUT}: {len(cases)} corpora ({comparable} nltk-comparable), {len(texts)} tokenizer strings, "
          f"{OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
