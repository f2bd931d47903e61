"""Writes Blip.Engine/Processing/BertNormalizerTable.Data.g.cs and Blip.Engine.Tests/Fixtures/tokenizer/bert_normalizer.json.

    tools/reference/py tools/reference/make_bert_normalizer_table.py

tokenizers' BertNormalizer (normalizers/bert.rs) takes its Unicode data from Rust crates older than the Unicode 16.0
that .NET 10 (and this Python, asserted) knows, and its lowercase from Rust's std. The table holds, for every code point
(surrogates aside), where tokenizers' data differ from Unicode 16.0's as Python's unicodedata gives it, found by running
tokenizers' own normalizers on each code point:
  kept_controls   categories Cc/Cf/Co that clean_text keeps (its is_other tables are older)
  not_nonspacing  Mn code points that strip_accents keeps; extra_nonspacing: others that it strips
  unnormalized    code points that tokenizers' NFD leaves as they are and treats as starters (combining class 0)
                  where Unicode 16.0 decomposes them or gives them a nonzero class
  lowercase       every code point that Rust's char::to_lowercase changes (so casing needs no ICU), as runs
The fixture holds tokenizers' BertNormalizer outputs (every setting) for each code point in the table, a seeded
sample of other code points and seeded multi-code-point strings mixing those marks with marks of other classes.
Running it again gives identical files.
"""

import json
import os
import random
import unicodedata

import tokenizers
from tokenizers import normalizers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TABLE = os.path.join(ROOT, "Blip.Engine", "Processing", "BertNormalizerTable.Data.g.cs")
FIXTURE = os.path.join(ROOT, "Blip.Engine.Tests", "Fixtures", "tokenizer", "bert_normalizer.json")
SEED = 20261207
CONTROL = {"Cc", "Cf", "Co", "Cs"}


def bert(clean=True, chinese=True, strip=None, lower=True):
    return normalizers.BertNormalizer(clean_text=clean, handle_chinese_chars=chinese, strip_accents=strip, lowercase=lower)


def code_points():
    return [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]


def is_space(c):  # .NET's Rune.IsWhiteSpace, which BertNormalizer.cs uses
    return 9 <= c <= 13 or c in (0x20, 0x85, 0xA0) or unicodedata.category(chr(c)) in ("Zs", "Zl", "Zp")


def clean_facts(cps):
    clean = bert(chinese=False, strip=False, lower=False)
    kept, spaces = [], []
    for c in cps:
        out = clean.normalize_str(chr(c))
        removed_here = c in (0, 0xFFFD) or (c not in (9, 10, 13) and unicodedata.category(chr(c)) in CONTROL)
        if out == " " and not is_space(c) or out != " " and is_space(c) and not removed_here:
            spaces.append(c)
        if removed_here and out != "":
            kept.append(c)
        elif not removed_here and out == "":
            raise SystemExit(f"U+{c:04X}: tokenizers removes it, Unicode 16.0 calls it {unicodedata.category(chr(c))}")
    if spaces:
        raise SystemExit("whitespace differs: " + " ".join(f"U+{c:04X}" for c in spaces))
    return kept


def probe_class_zero(c, k):
    """Whether tokenizers' NFD gives c (class k in Unicode 16.0) class 0: it does not reorder it past a mark."""
    nfd = normalizers.NFD()
    if k > 1:
        return nfd.normalize_str("a" + chr(c) + "\u0334") == "a" + chr(c) + "\u0334"
    return nfd.normalize_str("a\u0301" + chr(c)) == "a\u0301" + chr(c)


def nfd_facts(cps):
    nfd = normalizers.NFD()
    unnormalized = []
    for c in cps:
        s = chr(c)
        theirs, ours, k = nfd.normalize_str(s), unicodedata.normalize("NFD", s), unicodedata.combining(s)
        if theirs != ours:
            if theirs != s:
                raise SystemExit(f"U+{c:04X}: tokenizers decomposes it otherwise than Unicode 16.0")
            if k == 0 or probe_class_zero(c, k):
                unnormalized.append(c)
            else:
                raise SystemExit(f"U+{c:04X}: tokenizers does not decompose it but gives it a class")
        elif k != 0 and probe_class_zero(c, k):
            unnormalized.append(c)
    return unnormalized


def mark_facts(cps, unnormalized):
    strip, nfd = bert(clean=False, chinese=False, strip=True, lower=False), normalizers.NFD()
    not_mn, extra_mn = [], []
    for c in cps:
        s = chr(c)
        if nfd.normalize_str(s) != s:
            continue  # its pieces are code points of their own
        stripped = strip.normalize_str(s) == ""
        mn = unicodedata.category(s) == "Mn"
        if mn and not stripped:
            not_mn.append(c)
        elif stripped and not mn:
            extra_mn.append(c)
    return not_mn, extra_mn


def lowercase_runs(cps):
    lower = normalizers.Lowercase()
    single, multi = {}, {}
    for c in cps:
        out = lower.normalize_str(chr(c))
        if out != chr(c):
            if len(out) == 1:
                single[c] = ord(out) - c
            else:
                multi[c] = out
    runs = []  # [first, last, step, delta]: every step-th code point from first to last moves by delta
    for c in sorted(single):
        if runs:
            first, last, step, delta = runs[-1]
            if delta == single[c] and (c - last == step or first == last and c - last <= 2):
                runs[-1] = [first, c, c - first if first == last else step, delta]
                continue
        runs.append([c, c, 1, single[c]])
    return runs, multi


def hexes(values, per_line=12):
    items = [f"0x{v:04X}," for v in values]
    return "\n".join("        " + " ".join(items[i:i + per_line]) for i in range(0, len(items), per_line))


def write_table(kept, not_mn, extra_mn, unnormalized, runs, multi):
    flat = [v for r in runs for v in (r[0], r[1], r[2], r[3])]
    run_lines = "\n".join(f"        0x{a:04X}, 0x{b:04X}, {s}, {d}," for a, b, s, d in runs)
    multi_cs = ", ".join(f'[0x{c:04X}] = "{"".join(f"\\u{ord(x):04X}" for x in s)}"' for c, s in sorted(multi.items()))
    text = f"""// <auto-generated>
// Written by tools/reference/make_bert_normalizer_table.py from tokenizers {tokenizers.__version__}'s normalizers run on every code point,
// against Unicode {unicodedata.unidata_version} (Python's unicodedata, the version of .NET 10's category data). Do not edit; rerun the script.
// </auto-generated>
namespace Blip.Engine.Processing;

internal static partial class BertNormalizerTable
{{
    // Cc/Cf/Co code points clean_text keeps.
    private static ReadOnlySpan<int> KeptControls =>
    [
{hexes(kept)}
    ];

    // Mn code points strip_accents keeps.
    private static ReadOnlySpan<int> NotNonspacing =>
    [
{hexes(not_mn)}
    ];

    // Code points of other categories strip_accents removes.
    private static ReadOnlySpan<int> ExtraNonspacing =>
    [
{hexes(extra_mn)}
    ];

    // Code points tokenizers' NFD leaves alone, of combining class 0 there.
    private static ReadOnlySpan<int> Unnormalized =>
    [
{hexes(unnormalized)}
    ];

    // Rust's char::to_lowercase as runs of four: first, last, step, delta (each step-th code point moves by delta).
    private static ReadOnlySpan<int> LowercaseRuns =>
    [
{run_lines}
    ];

    // The mappings to more than one code point.
    private static readonly Dictionary<int, string> LowercaseMulti = new() {{ {multi_cs} }};
}}
"""
    with open(TABLE, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    assert len(flat) % 4 == 0


SETTINGS = [(chinese, strip, lower) for chinese in (True, False) for strip in (None, True, False) for lower in (True, False)]


def outputs(text, settings):
    # null where the output is the text itself, to keep the file small
    out = [bert(chinese=h, strip=s, lower=l).normalize_str(text) for h, s, l in settings]
    return [None if o == text else o for o in out]


def write_fixture(cps, table_cps, kept, not_mn, extra_mn, unnormalized):
    rng = random.Random(SEED)
    assigned = [c for c in cps if unicodedata.category(chr(c)) != "Cn"]
    others = sorted(set(rng.sample(assigned, 1500) + rng.sample(cps, 500)) - table_cps)
    single_settings = SETTINGS[:6]  # handle_chinese_chars on; the strings also run it off
    marks = sorted({c for c in cps if unicodedata.combining(chr(c)) != 0} - set(unnormalized))
    odd = sorted(set(unnormalized) | set(not_mn) | set(extra_mn) | set(kept))
    bases = [ord(x) for x in "aAeEiIoOuU"] + [0x130, 0x1100, 0xAC00, 0x4E00, 0x3131, 0x11938, 0x105D2, 0x20, 0x09, 0x00, 0xFFFD]
    strings = []
    for _ in range(200):
        n = rng.randint(2, 7)
        pieces = [chr(rng.choice(bases))]
        for _ in range(n - 1):
            pool = rng.random()
            pieces.append(chr(rng.choice(odd if pool < 0.45 else marks if pool < 0.85 else bases)))
        strings.append("".join(pieces))
    doc = {
        "tokenizers": tokenizers.__version__,
        "unicode": unicodedata.unidata_version,
        "settings": [{"handle_chinese_chars": h, "strip_accents": s, "lowercase": l} for h, s, l in SETTINGS],
        "note": "outputs[i] is BertNormalizer(clean_text=True, settings[i]).normalize_str(text), null when equal to text; "
                "code points use the first six settings",
        "table_code_points": [[c, outputs(chr(c), single_settings)] for c in sorted(table_cps)],
        "other_code_points": [[c, outputs(chr(c), single_settings)] for c in others],
        "strings": [[s, outputs(s, SETTINGS)] for s in strings],
    }
    with open(FIXTURE, "w", encoding="utf-8", newline="\n") as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


def main():
    if unicodedata.unidata_version != "16.0.0":
        raise SystemExit(f"Python's Unicode is {unicodedata.unidata_version}; the table is relative to .NET 10's 16.0.0")
    cps = code_points()
    kept = clean_facts(cps)
    unnormalized = nfd_facts(cps)
    not_mn, extra_mn = mark_facts(cps, unnormalized)
    runs, multi = lowercase_runs(cps)
    write_table(kept, not_mn, extra_mn, unnormalized, runs, multi)
    lower = normalizers.Lowercase()
    lower_changed = {c for c in cps if lower.normalize_str(chr(c)) != chr(c).lower()}
    table_cps = set(kept) | set(not_mn) | set(extra_mn) | set(unnormalized) | lower_changed
    write_fixture(cps, table_cps, kept, not_mn, extra_mn, unnormalized)
    print(f"kept {len(kept)}, not_nonspacing {len(not_mn)}, extra_nonspacing {len(extra_mn)}, unnormalized {len(unnormalized)}, "
          f"lowercase runs {len(runs)} + {len(multi)} multi, lowercase unlike Python's {len(lower_changed)}")


if __name__ == "__main__":
    main()
