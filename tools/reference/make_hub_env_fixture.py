#!/usr/bin/env python3
"""Writes the Hub-environment fixture: the folders huggingface_hub itself derives from the environment.

    tools/reference/py tools/reference/make_hub_env_fixture.py     # writes Fixtures/hub/environment.json

huggingface_hub.constants reads HF_HOME, HF_HUB_CACHE (or the legacy HUGGINGFACE_HUB_CACHE), HF_TOKEN_PATH and
XDG_CACHE_HOME at import, each through os.path.expanduser and then os.path.expandvars ($NAME and ${NAME}; a name
that is unset is left as written). HF_HUB_CACHE and HF_TOKEN_PATH default to HF_HOME joined
with "hub" and "token", already expanded, and are expanded again (a $ or ~ that HF_HOME's own expansion produced is
expanded there). For every case below, this script imports
huggingface_hub.constants in a fresh python3 whose environment is only the case's variables (and PATH), and records
HF_HOME, HF_HUB_CACHE and HF_TOKEN_PATH as huggingface_hub computed them. Empty values are left out: huggingface_hub
reads HF_HOME="" as the folder "" (a relative "hub"); Blip.Engine reads an empty variable as unset (documented).
Deterministic: a second run writes a byte-identical file.
"""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Blip.Engine.Tests" / "Fixtures" / "hub" / "environment.json"

HOME = {"HOME": "/home/u"}
CASES = [
    ("defaults", {}),
    ("hf_home_var", {"HF_HOME": "$BASE/hf", "BASE": "/data"}),
    ("hf_home_braced_var", {"HF_HOME": "${BASE}/hf", "BASE": "/data"}),
    ("hf_home_unset_var_kept", {"HF_HOME": "/x/$NOT_SET/hf"}),
    ("hf_home_unset_braced_var_kept", {"HF_HOME": "/x/${NOT_SET}/hf"}),
    ("hf_home_tilde_then_var", {"HF_HOME": "~/x/$BASE", "BASE": "data"}),
    ("hf_home_var_holding_tilde", {"HF_HOME": "$T/hf", "T": "~/t"}),
    ("hf_home_var_holding_a_var", {"HF_HOME": "$A/hf", "A": "$B", "B": "/b"}),
    ("hf_home_empty_var", {"HF_HOME": "$E/hf", "E": ""}),
    ("hf_home_var_name_runs_over_underscores_and_digits", {"HF_HOME": "/x/$BASE_2/y", "BASE": "/data", "BASE_2": "two"}),
    ("hf_home_var_name_stops_at_dash", {"HF_HOME": "/x/$BASE-y", "BASE": "data"}),
    ("hf_home_var_name_is_ascii", {"HF_HOME": "/x/$B\u00c4SE", "B": "bee"}),
    ("hf_home_var_starting_with_digit", {"HF_HOME": "/x/$1a", "1a": "digit"}),
    ("hf_home_lone_dollar", {"HF_HOME": "/x$/y$"}),
    ("hf_home_unclosed_brace", {"HF_HOME": "/x/${BASE/y", "BASE": "data"}),
    ("hf_home_empty_braces", {"HF_HOME": "/x/${}/y"}),
    ("hf_home_brace_with_dash", {"HF_HOME": "/x/${A-B}/y", "A-B": "dash"}),
    ("hf_home_two_vars", {"HF_HOME": "$A$B/hf", "A": "/a", "B": "/b"}),
    ("hf_home_dollar_dollar", {"HF_HOME": "/x/$$A", "A": "a"}),
    ("xdg_var", {"XDG_CACHE_HOME": "$BASE/xdg", "BASE": "/data"}),
    ("xdg_tilde", {"XDG_CACHE_HOME": "~/xdg"}),
    ("hub_cache_var", {"HF_HOME": "/hf", "HF_HUB_CACHE": "${BASE}/cache", "BASE": "/data"}),
    ("legacy_hub_cache_var", {"HF_HOME": "/hf", "HUGGINGFACE_HUB_CACHE": "$BASE/legacy", "BASE": "/data"}),
    ("legacy_hub_cache_tilde", {"HUGGINGFACE_HUB_CACHE": "~/legacy"}),
    ("hub_cache_over_legacy", {"HUGGINGFACE_HUB_CACHE": "/legacy", "HF_HUB_CACHE": "$BASE/new", "BASE": "/data"}),
    ("token_path_var", {"HF_HOME": "/hf", "HF_TOKEN_PATH": "$BASE/token", "BASE": "/data"}),
    ("token_path_tilde", {"HF_TOKEN_PATH": "~/tok"}),
    ("token_path_from_expanded_home", {"HF_HOME": "$BASE/hf", "BASE": "/data"}),
]

PROBE = ("import json, huggingface_hub.constants as c; "
         "print(json.dumps({'hf_home': c.HF_HOME, 'cache_dir': c.HF_HUB_CACHE, 'token_path': c.HF_TOKEN_PATH}))")


def main():
    cases = {}
    for name, variables in CASES:
        env = {"PATH": "/usr/bin:/bin", **HOME, **variables}
        done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
        cases[name] = {"environment": {**HOME, **variables}, **json.loads(done.stdout)}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump({"producer": "huggingface_hub " + hub_version(), "cases": cases}, f, indent=2, sort_keys=True,
                  ensure_ascii=False)
        f.write("\n")
    print(f"wrote {OUT} ({len(cases)} cases)")


def hub_version():
    import huggingface_hub
    return huggingface_hub.__version__


if __name__ == "__main__":
    main()
