"""French for what the cases domain says in the UI (the API keeps English): error messages keyed by code,
child-protection channels, percentages, legal bases."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from bouclier.cases import i18n, law
from bouclier.service.errors import ApiError, bad_request

SRC = Path(__file__).resolve().parents[2] / "bouclier" / "cases"


def test_errors_translate_by_code_and_keep_the_english_message():
    e = i18n.with_params(bad_request("pseudonym must be printable text of at most 120 characters", "bad_pseudonym"),
                         max_len=120)
    assert e.message.startswith("pseudonym must be") and e.body()["error"]["code"] == "bad_pseudonym"
    assert i18n.message(e, "en") == e.message
    assert i18n.message(e, "fr") == "Le pseudonyme doit être un texte imprimable de 120 caractères au plus."
    minor = i18n.with_params(ApiError(403, "child_protection_route", "case C-1 concerns a person under 18"),
                             what="notice", jurisdictions=["FR", "US"])
    fr = i18n.message(minor, "fr")
    assert "moins de 18 ans" in fr and "le 119" in fr and "PHAROS" in fr and "NCMEC Take It Down" in fr
    missing = i18n.with_params(bad_request("a DSA art. 16 notice cannot be generated without: ...",
                                           "missing_notice_inputs"), kind="dsa-art16", needs=["urls", "email"])
    assert i18n.message(missing, "fr") == ("Impossible de rédiger « notification DSA art. 16 » sans : au moins une URL "
                                           "du contenu (ajoutez un élément avec une URL) ; l'adresse e-mail de la "
                                           "personne qui notifie.")
    # an unknown code, or missing values, fall back to the English message rather than failing
    assert i18n.message(bad_request("odd", "no_such_code"), "fr") == "odd"
    assert i18n.message(bad_request("too big", "file_too_large"), "fr") == "too big"


def test_every_code_raised_with_values_has_them():
    """Each French message's {placeholders} are given by every with_params(...) call for that code."""
    calls = []
    for f in ("store.py", "notices.py"):
        for node in ast.walk(ast.parse((SRC / f).read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "with_params":
                err = node.args[0]
                code = next((a.value for a in err.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
                             and re.fullmatch(r"[a-z_]+", a.value)), None)
                if code:  # None: f"bad_{name}" in _text, whose messages need max_len (always given)
                    calls.append((code, {k.arg for k in node.keywords}))
    assert len(calls) >= 6, calls
    derived = {"channels", "what", "name", "missing"}  # computed from jurisdictions / kind / needs
    for code, given in calls:
        needed = set(re.findall(r"{(\w+)}", i18n.FR[code]))
        assert needed - derived <= given, (code, needed, given)


def test_percentages_and_channels():
    assert i18n.pct(0.42, "fr") == "42\u00a0%" and i18n.pct(0.42, "en") == "42%"
    assert i18n.pct(0.425, "fr", 1) == "42,5\u00a0%" and i18n.pct(None, "fr") == "–"
    assert i18n.channels(["UK"], "fr") == "UK : IWF / Childline Report Remove"
    assert i18n.channels(["FR"], "en") == law.child_protection_channels(["FR"])
    fr = law.bases(law.MANIPULATED, ["FR", "EU"], "fr")
    assert any(b["ref"].startswith("Règlement (UE) 2022/2065") for b in fr)
    assert all(b["ref"].startswith(("Code pénal", "Règlement")) for b in fr)
    assert any(b["ref"].startswith("Regulation (EU) 2022/2065") for b in law.bases(law.MANIPULATED, ["EU"], "en"))
