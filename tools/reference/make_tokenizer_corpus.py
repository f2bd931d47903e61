"""Writes the tokenizer parity fixtures of Blip.Engine from transformers' BLIP tokenizer.

    tools/reference/py tools/reference/make_tokenizer_corpus.py

The Hub is unreachable, so the tokenizer is built the way
BlipProcessor.from_pretrained("Salesforce/blip-image-captioning-large") builds it: a model folder
holding vocab.txt (the shared bert-base-uncased vocabulary), tokenizer_config.json and
special_tokens_map.json as on the Hub (BertTokenizer, do_lower_case, model_max_length 512,
bos [DEC], additional special [ENC]); transformers converts that to its Rust tokenizer, giving
[DEC]=30522 and [ENC]=30523. The script checks that the tokenizer saved by save_pretrained and
loaded back gives the same ids on every string.

Writes, under Blip.Engine.Tests/Fixtures/tokenizer/:
  corpus.jsonl      one string a line: ids with/without special tokens, truncated to 16 and 512,
                    tokens, decoded text with and without special tokens
  truncation.jsonl  small max_length values (0..4) with and without special tokens
  decode.jsonl      arbitrary id sequences (special ids, out-of-range ids) decoded both ways
  batch.json        a batch padded to the longest, with its attention mask
  hub/              the Hub-style tokenizer_config.json and special_tokens_map.json used here
  saved/            what save_pretrained writes: tokenizer_config.json, and tokenizer.json with
                    its model.vocab emptied (the tests fill it from the shared vocabulary)
Running it again gives identical files.
"""

import json
import os
import random
import shutil
import sys
import tempfile

import tokenizers
import transformers
from transformers import AutoTokenizer, BlipProcessor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VOCAB = os.path.join(os.path.dirname(ROOT), "shared", "data", "bert-base-uncased-vocab.txt")
OUT = os.path.join(ROOT, "Blip.Engine.Tests", "Fixtures", "tokenizer")

HUB_TOKENIZER_CONFIG = {
    "cls_token": "[CLS]",
    "do_basic_tokenize": True,
    "do_lower_case": True,
    "mask_token": "[MASK]",
    "model_max_length": 512,
    "name_or_path": "bert-base-uncased",
    "never_split": None,
    "pad_token": "[PAD]",
    "processor_class": "BlipProcessor",
    "sep_token": "[SEP]",
    "special_tokens_map_file": None,
    "strip_accents": None,
    "tokenize_chinese_chars": True,
    "tokenizer_class": "BertTokenizer",
    "unk_token": "[UNK]",
}
HUB_PREPROCESSOR_CONFIG = {  # only so that BlipProcessor.from_pretrained finds an image processor
    "do_normalize": True,
    "do_resize": True,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_processor_type": "BlipImageProcessor",
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "processor_class": "BlipProcessor",
    "resample": 3,
    "rescale_factor": 0.00392156862745098,
    "size": {"height": 384, "width": 384},
}
HUB_SPECIAL_TOKENS_MAP = {
    "additional_special_tokens": ["[ENC]"],
    "bos_token": "[DEC]",
    "cls_token": "[CLS]",
    "mask_token": "[MASK]",
    "pad_token": "[PAD]",
    "sep_token": "[SEP]",
    "unk_token": "[UNK]",
}


def dump(obj):
    return json.dumps(obj, ensure_ascii=False, sort_keys=True)


def write_json(path, obj):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=2) + "\n")


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(dump(row) + "\n")


def hand_written():
    long_word = "pneumonoultramicroscopicsilicovolcanoconiosis" * 3
    return [
        "", " ", "   ", "\t", "\n", "\r\n", " \t\n\r ", "\u00a0", "\u3000",
        "a picture of a dog", "a picture of", "a photography of", "there is a cat on the bed",
        "A Picture Of A Dog", "A PICTURE OF A DOG", "a woman sitting on the beach with her dog",
        "What is the weather in this image?", "how many dogs are in the picture?",
        "[DEC]", "[dec]", "[Dec]", "[ENC]", "[enc]", "[CLS] in text", "[cls] in text",
        "[SEP]", "[PAD]", "[UNK]", "[MASK]", "[DEC] a picture of", "x[DEC]y", "[DEC][ENC]",
        "[ DEC ]", "[[DEC]]", "[UNK] [unk]", "[DEC]a", "a[SEP]b[CLS]c",
        "café", "Café", "naïve résumé", "Ångström", "Crème brûlée", "São Paulo", "Zürich",
        "ñandú", "façade", "œuvre", "straße", "İstanbul", "ǅ digraph", "ﬁ ligature",
        "e\u0301", "a\u0300\u0301\u0302b", "\u0301", "n\u0303o", "o\u0308\u0304",
        "東京は日本の首都です", "我爱北京天安门", "中文English混合", "한국어 텍스트", "日本語のテキスト",
        "カタカナ", "ひらがな", "漢字かな交じり文", "𠀀𠀁 rare CJK ext B", "㐀 ext A",
        "😀", "I love 🐶 and 🐱!", "👨‍👩‍👧‍👦 family", "🇫🇷 flag", "❤️", "✨🎉✨",
        "$100", "+1", "a=b", "2^10", "~home", "<html>", "a > b", "x | y", "€50", "© 2024",
        "90°", "5 + 3 = 8", "£ ¥ ₹ ₩", "§ ¶ † ‡", "™ ®", "« quotes »", "“smart quotes”",
        "‘single’", "em—dash", "en–dash", "ellipsis…", "•bullet", "½ ¼ ¾", "x² y³", "µ Ω",
        "!@#$%^&*()_+-=[]{}|;':\",./<>?`~", "\\ backslash", "`code`", "#hashtag", "@mention",
        "tab\there", "new\nline", "carriage\rreturn", "crlf\r\nline", "multi\n\n\nnewlines",
        "trailing space   ", "   leading space", "a  b   c", "vertical\x0btab", "form\x0cfeed",
        "zero\u200bwidth", "zero\u200cwidth non-joiner", "zero\u200dwidth joiner", "\ufeffbom",
        "soft\u00adhyphen", "word\u2060joiner", "rtl\u200fmark", "\u2028line sep", "\u2029para sep",
        "null\x00char", "bell\x07char", "esc\x1bchar", "del\x7fchar", "c1\x85next line", "\x80\x9f",
        "replacement\ufffdchar", "private\ue000use", "non\u00a0breaking\u00a0space",
        "ｆｕｌｌｗｉｄｔｈ", "ＡＢＣ１２３", "！？", "half ｶﾀｶﾅ",
        "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "สวัสดีชาวโลก", "Привет мир",
        "Γειά σου Κόσμε", "Բարեւ աշխարհ", "გამარჯობა", "ሰላም", "ᚠᛇᚻ runes",
        "a" * 99, "a" * 100, "a" * 101, "a" * 200, "é" * 101, "é" * 100, "x" * 100 + "!",
        long_word, "word " + "b" * 150 + " end", "ab" * 60 + "-" + "cd" * 60,
        "12345", "3.14159", "1,000,000", "1e-10", "0x1F", "2024-01-15", "12:30pm", "#1",
        "https://www.example.com/path?query=1&b=2#frag", "http://localhost:8080",
        "user@example.com", "www.salesforce.com", "C:\\Users\\name\\file.txt", "/usr/bin/env",
        "don't", "can't", "won't", "it's", "I'm", "you're", "they've", "we'd", "y'all",
        "rock'n'roll", "o'clock", "dogs'", "'quoted'", '"double"',
        "well-known", "state-of-the-art", "e-mail", "--double--", "-leading", "trailing-",
        "he's a dog. isn't it?", "Hello, world!", "Wait... what?!", "end.", "(parens)",
        "unaffable", "unbelievably", "tokenization", "hugging face transformers",
        "The quick brown fox jumps over the lazy dog.",
        "MiXeD CaSe TeXt", "iPhone", "McDonald's", "NASA", "camelCaseWord", "snake_case_word",
        "a\tb\nc\rd", "\t\tindented", "a .", "a ,b", "a ? !",
        "ﬀ", "Ⅻ roman", "①②③", "𝐛𝐨𝐥𝐝 math", "ℌ𝔢𝔩𝔩𝔬", "Å", "Å", "K kelvin",
    ]


def generated(vocab_words):
    rows = []
    for c in "$+=^~<>|€©°%&*#@!?.,;:'\"`\\/()[]{}_-":
        rows.append(f"a{c}b")
        rows.append(f"x {c} y")
    rng = random.Random(20240115)
    for _ in range(40):
        n = rng.randint(1, 12)
        words = [rng.choice(vocab_words) for _ in range(n)]
        words = [w.upper() if rng.random() < 0.2 else (w.capitalize() if rng.random() < 0.3 else w) for w in words]
        seps = [rng.choice([" ", " ", " ", "  ", "\t", "\n", ", ", ". ", "-", ""]) for _ in range(n)]
        rows.append("".join(w + s for w, s in zip(words, seps)))
    rows.append("a picture of a dog " * 150)
    rows.append(" ".join(vocab_words[:700]))
    rows.append("东" * 600)
    rows.append("word! " * 300)
    return rows


def load_words():
    with open(VOCAB, encoding="utf-8") as f:
        words = [line.rstrip("\n") for line in f]
    return [w for w in words[1996:] if w.isalpha() and not w.startswith("##")]


def make_hub_folder(tmp):
    hub = os.path.join(tmp, "hub")
    os.makedirs(hub)
    shutil.copyfile(VOCAB, os.path.join(hub, "vocab.txt"))
    write_json(os.path.join(hub, "tokenizer_config.json"), HUB_TOKENIZER_CONFIG)
    write_json(os.path.join(hub, "special_tokens_map.json"), HUB_SPECIAL_TOKENS_MAP)
    write_json(os.path.join(hub, "preprocessor_config.json"), HUB_PREPROCESSOR_CONFIG)
    return hub


def corpus_row(tok, text):
    ids = tok(text).input_ids
    return {
        "text": text,
        "ids": ids,
        "ids_no_special": tok(text, add_special_tokens=False).input_ids,
        "ids_trunc16": tok(text, truncation=True, max_length=16).input_ids,
        "ids_trunc512": tok(text, truncation=True, max_length=512).input_ids,
        "tokens": tok.convert_ids_to_tokens(ids),
        "decoded": tok.decode(ids, skip_special_tokens=True),
        "decoded_with_special": tok.decode(ids, skip_special_tokens=False),
    }


def decode_cases():
    rng = random.Random(7)
    cases = [
        [], [0], [101], [102], [30522], [30523], [100], [103], [101, 102],
        [30522, 1037, 3861, 1997, 1037, 3899, 102], [30522, 1037, 3861, 1997, 1037, 3899, 102, 0, 0, 0],
        [101, 7592, 1005, 1055, 2009, 1012, 30522, 30523, 102, 0, 100, 2606, 2015],
        [2015, 2015, 7592], [7592, 1010, 2088, 999], [2123, 1005, 1056], [1045, 1005, 1049],
        [2009, 1005, 1055, 1037, 3899, 1012, 2003, 2009, 1029], [1037, 1011, 1038],
        [1031, 11703, 1033], [30524], [99999, 7592], [7592, 30524, 2088], [1, 2, 3, 4, 5],
        [999, 1029, 1010, 1012, 1005], [1012, 1012, 1012], [1005, 1055], [1055, 1005],
        [2023, 2003, 1037, 1000, 14686, 1000], [1006, 1007], [100, 100, 100],
    ]
    for _ in range(30):
        cases.append([rng.randrange(0, 30524) for _ in range(rng.randint(1, 20))])
    return cases


def main():
    if not os.path.isfile(VOCAB):
        sys.exit(f"make_tokenizer_corpus: vocabulary not found at {VOCAB}")
    print(f"transformers {transformers.__version__}, tokenizers {tokenizers.__version__}")
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        hub = make_hub_folder(tmp)
        tok = BlipProcessor.from_pretrained(hub).tokenizer
        assert type(tok) is type(AutoTokenizer.from_pretrained(hub)), "BlipProcessor's tokenizer class"
        assert tok.convert_tokens_to_ids(["[DEC]", "[ENC]"]) == [30522, 30523], "special ids"
        assert tok.bos_token_id == 30522 and tok.model_max_length == 512
        saved = os.path.join(tmp, "saved")
        tok.save_pretrained(saved)
        reloaded = AutoTokenizer.from_pretrained(saved)

        texts = hand_written() + generated(load_words())
        rows = []
        for text in texts:
            row = corpus_row(tok, text)
            assert reloaded(text).input_ids == row["ids"], f"reloaded tokenizer differs on {text!r}"
            rows.append(row)
        write_jsonl(os.path.join(OUT, "corpus.jsonl"), rows)

        trunc = []
        for text in ["", "a", "a b c d", "a picture of a dog", "unaffable tokenization", "tokenization unaffable",
                     "!!hello", "東京", "[DEC]unaffable", "hello\u200bworld", "a" * 101 + " b"]:
            for max_length in range(5):
                for special in (True, False):
                    ids = tok(text, truncation=True, max_length=max_length, add_special_tokens=special).input_ids
                    trunc.append({"text": text, "max_length": max_length, "add_special_tokens": special, "ids": ids})
        write_jsonl(os.path.join(OUT, "truncation.jsonl"), trunc)

        dec = [{"ids": ids, "skip_special_tokens": tok.decode(ids, skip_special_tokens=True),
                "with_special_tokens": tok.decode(ids, skip_special_tokens=False)} for ids in decode_cases()]
        write_jsonl(os.path.join(OUT, "decode.jsonl"), dec)

        batch_texts = ["a picture of a dog", "", "a woman sitting on the beach with her dog", "[DEC] hi"]
        enc = tok(batch_texts, padding="longest")
        write_json(os.path.join(OUT, "batch.json"), {
            "texts": batch_texts, "input_ids": enc.input_ids, "attention_mask": enc.attention_mask})

        for name in ("hub", "saved"):
            os.makedirs(os.path.join(OUT, name), exist_ok=True)
        for name in ("tokenizer_config.json", "special_tokens_map.json"):
            shutil.copyfile(os.path.join(hub, name), os.path.join(OUT, "hub", name))
        shutil.copyfile(os.path.join(saved, "tokenizer_config.json"), os.path.join(OUT, "saved", "tokenizer_config.json"))
        with open(os.path.join(saved, "tokenizer.json"), encoding="utf-8") as f:
            skeleton = json.load(f)
        assert len(skeleton["model"]["vocab"]) == 30522, "saved vocab size"
        skeleton["model"]["vocab"] = {}
        write_json(os.path.join(OUT, "saved", "tokenizer.skeleton.json"), skeleton)
    print(f"wrote {len(rows)} strings, {len(trunc)} truncations, {len(dec)} decode cases to {OUT}")


if __name__ == "__main__":
    main()
