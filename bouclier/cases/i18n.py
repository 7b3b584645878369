"""French for what the cases domain says to people in the UI: error messages (keyed by the API error's
stable `code`), child-protection channels, percentages. The HTTP API and the CLI keep their English
messages; `message(err, "fr")` gives the French one where the catalogue has the code, else the English.
"""

from __future__ import annotations

from . import law

NBSP = "\u00a0"

# Codes raised by bouclier.cases (store.py, notices.py). Parameters come from `err.params` (see `with_params`).
FR: dict[str, str] = {
    "missing_pseudonym": "Le pseudonyme est obligatoire.",
    "bad_pseudonym": "Le pseudonyme doit être un texte imprimable de {max_len} caractères au plus.",
    "bad_contact": "Le contact doit être un texte imprimable de {max_len} caractères au plus.",
    "bad_note": "La note doit être un texte imprimable de {max_len} caractères au plus.",
    "missing_reason": "Le motif est obligatoire.",
    "bad_reason": "Le motif doit être un texte imprimable de {max_len} caractères au plus.",
    "missing_protection_case_id": "Indiquez l'identifiant de la protection.",
    "bad_protection_case_id": "L'identifiant de la protection doit faire {max_len} caractères au plus.",
    "bad_url": "L'URL doit être une adresse http(s), sans espace, de 2000 caractères au plus.",
    "bad_filename": "Le nom du fichier doit être un texte imprimable de {max_len} caractères au plus.",
    "bad_captured_at": "La date « vu le » doit être une date et une heure ISO 8601, par ex. 2026-11-21T14:30Z.",
    "bad_kind": "Type de dossier inconnu.",
    "bad_jurisdictions": "Les juridictions doivent être choisies parmi FR, UK, US et EU.",
    "bad_status": "L'état doit être « ouvert » ou « clos ».",
    "need_url_or_image": "Donnez une URL, un fichier, ou les deux.",
    "no_such_case": "Ce dossier n'existe pas.",
    "no_such_item": "Cet élément n'existe pas.",
    "no_such_protection": "Aucune protection {pcid} dans ce registre.",
    "no_such_deadline": "Cette échéance n'existe pas.",
    "file_too_large": "Le fichier dépasse {max_bytes} octets.",
    "invalid_image": "Ce fichier n'est pas une image lisible.",
    "child_protection_route": "Ce dossier concerne une personne de moins de 18 ans : il n'est jamais traité comme "
                              "un dossier d'adulte ({what}). Orientez-le vers les circuits de protection de "
                              "l'enfance : {channels}.",
    "bad_decision": "La décision doit être « confirmé » ou « rejeté ».",
    "nothing_to_decide": "Cet élément n'a pas de correspondance d'image à examiner.",
    "already_decided": "Une décision a déjà été enregistrée pour cet élément.",
    "bad_item_ids": "Les éléments {bad} n'appartiennent pas à ce dossier.",
    "bad_notice_kind": "Type de notification inconnu.",
    "bad_lang": "La langue doit être le français ou l'anglais.",
    "missing_platform": "Indiquez la plateforme ou le destinataire (1 à 120 caractères imprimables).",
    "missing_notice_inputs": "Impossible de rédiger « {name} » sans : {missing}.",
    "bad_signer": "La signature et le contact doivent être des textes imprimables de 300 caractères au plus.",
}

# Words used inside the messages above.
NOTICE_NAMES_FR = {"take-it-down": "demande de retrait TAKE IT DOWN Act", "dsa-art16": "notification DSA art. 16",
                   "pharos": "synthèse PHAROS", "police-annex": "annexe de plainte",
                   "uk-report": "signalement Royaume-Uni", "gdpr-erasure": "demande d'effacement RGPD"}
NEEDS_FR = {"urls": "au moins une URL du contenu (ajoutez un élément avec une URL)",
            "items": "au moins un élément (une URL ou un fichier suspect)",
            "signer": "une signature : le nom de la personne ou de qui agit pour elle",
            "contact": "des coordonnées (contact)", "email": "l'adresse e-mail de la personne qui notifie"}
WHAT_FR = {"media": "aucun fichier suspect n'est conservé", "notice": "pas de notification pour adulte"}

CHILD_PROTECTION_FR = {
    "FR": "le 119 (Allô Enfance en Danger) et PHAROS (internet-signalement.gouv.fr), procédure mineurs",
    "UK": "IWF / Childline Report Remove",
    "US": "NCMEC Take It Down (takeitdown.ncmec.org) et CyberTipline",
    "EU": "la hotline INHOPE nationale",
}


def channels(jurisdictions: list[str], lang: str = "en") -> str:
    """The child-protection channels of these jurisdictions, in `lang`."""
    if lang != "fr":
        return law.child_protection_channels(jurisdictions)
    return " ; ".join(f"{j} : {CHILD_PROTECTION_FR[j]}" for j in jurisdictions if j in CHILD_PROTECTION_FR)


def with_params(err, **params):
    """Attach the values a translated message needs to an ApiError (the English message is unchanged)."""
    err.params = params
    return err


def message(err, lang: str) -> str:
    """The error's message for people using the UI in `lang` (the API's English message as fallback)."""
    text = getattr(err, "message", None) or str(err)
    code = getattr(err, "code", None)
    if lang != "fr" or code not in FR:
        return text
    params = dict(getattr(err, "params", None) or {})
    if code == "child_protection_route":
        params["channels"] = channels(params.get("jurisdictions") or [], "fr")
        params["what"] = WHAT_FR.get(params.get("what", "notice"), WHAT_FR["notice"])
    if code == "missing_notice_inputs":
        params["name"] = NOTICE_NAMES_FR.get(params.get("kind"), params.get("kind", ""))
        params["missing"] = " ; ".join(NEEDS_FR.get(n, n) for n in params.get("needs", []))
    try:
        return FR[code].format(**params)
    except (KeyError, IndexError, ValueError):
        return text


def pct(fraction: float | None, lang: str = "en", digits: int = 0) -> str:
    """0.42 -> "42%" in English, "42 %" (no-break space) in French; None -> "–"."""
    if fraction is None:
        return "–"
    n = f"{100 * float(fraction):.{digits}f}"
    return f"{n.replace('.', ',')}{NBSP}%" if lang == "fr" else f"{n}%"
