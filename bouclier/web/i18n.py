"""The UI's words in English and French. `t(lang, key, **kw)`; a missing key shows the key itself
(tests/web check that every key used by a template exists in both catalogues)."""

from __future__ import annotations

EN: dict[str, str] = {
    "app": "Bouclier", "tagline": "Casework for image-based abuse",
    "skip": "Skip to content", "nav": "Main navigation", "nav.cases": "Cases", "nav.new": "New case",
    "nav.deadlines": "Deadlines", "nav.queue": "Review queue", "nav.users": "Accounts",
    "signed_in_as": "Signed in as {user} ({role})", "logout": "Log out", "language": "Language",
    "switch": "Switch", "role.caseworker": "caseworker", "role.reviewer": "reviewer", "role.admin": "administrator",
    # login
    "login.title": "Sign in", "login.username": "Username", "login.password": "Password", "login.submit": "Sign in",
    "login.bad": "Wrong username or password.",
    "login.locked": "Too many failed attempts: this account is locked for {minutes} minutes.",
    "login.rate": "Too many failed attempts from this address. Wait a few minutes and try again.",
    "login.csrf": "The form expired. Please try again.",
    "login.intro": "For helpline caseworkers and platform reviewers. Every sign-in is recorded.",
    # errors
    "error.title": "Something is not right", "error.title_403": "Access refused", "error.title_404": "Not found",
    "error.403": "Your role does not give access to this page.",
    "error.404": "There is nothing here.", "error.csrf": "The form expired or did not come from this site. "
    "Go back, reload the page and try again.", "error.back": "Back to the start page",
    # cases
    "cases.title": "Cases", "cases.none": "No cases yet.", "cases.id": "Case", "cases.pseudonym": "Pseudonym",
    "cases.kind": "Type", "cases.jurisdictions": "Jurisdictions", "cases.status": "Status",
    "cases.created": "Opened", "cases.deadline": "Next deadline", "cases.items": "Items",
    "kind.non-consensual-authentic": "Authentic image shared without consent",
    "kind.manipulated-synthetic": "Manipulated or synthetic image",
    "status.open": "open", "status.closed": "closed",
    "badge.overdue": "Overdue", "badge.warning": "Due soon", "badge.pending": "Pending", "badge.none": "None",
    "u18.badge": "Under 18",
    "u18.banner": "Under-18 case: routed to the child-protection channel ({channel}). It is never handled "
    "as an adult case; adult notices are not available.",
    # new case
    "new.title": "New case", "new.pseudonym": "Pseudonym", "new.pseudonym_hint": "Not the person's real "
    "name. Only what is needed to follow the case.", "new.kind": "Type of case",
    "new.jurisdictions": "Jurisdictions", "new.under18": "The person is under 18",
    "new.contact": "Contact (optional)", "new.contact_hint": "Only if the person gives it, and agrees.",
    "new.note": "Note (optional)", "new.submit": "Open the case", "new.need": "Give a pseudonym, a type and "
    "at least one jurisdiction.",
    # case detail
    "case.title": "Case {id}", "case.summary": "Summary", "case.route": "Route", "case.opened_by": "Opened by",
    "case.protections": "Protections", "case.protections_none": "No protection linked yet.",
    "case.link": "Link a protection", "case.link_id": "Protection case id", "case.link_submit": "Link",
    "case.items": "Items", "case.items_none": "No items yet.", "case.add_item": "Add an item",
    "case.timeline": "Timeline", "case.deadlines": "Deadlines", "case.deadlines_none": "No open deadlines.",
    "case.notices": "Notices", "case.notices_none": "No notices yet.", "case.export": "Evidence package",
    "item.id": "Item", "item.source": "Source", "item.verdict": "Verdict", "item.edited": "Edited area",
    "item.decision": "Review", "item.edit_map": "Edit map", "item.no_map": "No edit map",
    "item.pending": "awaiting review", "item.protected": "Matches protection", "item.sha256": "SHA-256",
    "item.report": "Check report", "verdict.identical": "Identical copy", "verdict.near-duplicate": "Near-duplicate",
    "verdict.manipulated-derivative": "Manipulated derivative", "verdict.no-match": "No match",
    "decision.confirmed": "Confirmed", "decision.rejected": "Rejected",
    "tl.when": "When", "tl.who": "Who", "tl.what": "What", "tl.artefact": "Artefact", "tl.custody": "custody",
    "dl.what": "Deadline", "dl.due": "Due", "dl.state": "State",
    "dk.take-it-down": "TAKE IT DOWN Act: removal due 48 h after the valid request",
    "dk.dsa-ack": "DSA art. 16: acknowledgement expected (follow-up date set by this tool)",
    "dk.dsa-decision": "DSA art. 16: follow up on the platform's decision (date set by this tool)",
    "dk.gdpr-erasure": "GDPR art. 12(3): answer to the erasure request due within one month",
    # add item
    "add.title": "Add an item to case {id}", "add.file": "Suspect file", "add.file_hint": "It is "
    "fingerprinted and matched against the protections. It is kept encrypted so that a reviewer can "
    "check the match.", "add.url": "Where it was found (URL)", "add.captured": "Seen at (optional)",
    "add.captured_hint": "Date and time, e.g. 2026-11-21T14:30Z", "add.submit": "Add and match",
    "add.need": "Give a file, a URL, or both.", "add.result": "Result", "add.back": "Back to the case",
    "add.match": "This file matches a protected photo.", "add.nomatch": "No protected photo matches this file.",
    "add.url_only": "The URL was added to the case. Upload the file too, to match it against the protections.",
    # notices
    "notice.title": "Generate a notice", "notice.kind": "Kind of notice", "notice.lang": "Language",
    "notice.platform": "Platform or recipient", "notice.items": "Items to include",
    "notice.signer": "Signature: name of the person, or of who acts for them",
    "notice.contact": "E-mail address for the reply", "notice.who_hint": "Most notices need both.",
    "notice.submit": "Generate", "notice.download": "Download as text", "notice.generated": "Notice {id}",
    "notice.sha": "SHA-256 of the text", "notice.need": "Choose a kind, a language and a platform.",
    "nk.take-it-down": "TAKE IT DOWN Act removal request (US)", "nk.dsa-art16": "EU DSA art. 16 notice",
    "nk.pharos": "PHAROS report summary (FR)", "nk.police-annex": "Police complaint annex",
    "nk.uk-report": "UK report", "nk.gdpr-erasure": "GDPR erasure request",
    "lang.en": "English", "lang.fr": "Français",
    # export
    "export.title": "Evidence package", "export.intro": "Hashes, URLs, reports and the chain of custody. "
    "Suspect media only if you tick the box (then encrypted).", "export.media": "Include the suspect media "
    "(encrypted)", "export.media_legend": "Suspect media", "export.recipient": "Recipient's age public key (for the media)",
    "export.recipient_hint": "An age1… key of whoever receives the package; only they can decrypt the media.",
    "export.manifest": "Manifest SHA-256", "export.files": "Files verified", "export.size": "Size",
    "export.timestamp": "RFC 3161 timestamp", "export.checked": "Files checked", "export.submit": "Export and verify",
    "export.download": "Download the package", "export.verified": "Package verified: every check passed.",
    "export.failed": "The package did NOT verify:", "export.file": "File",
    # deadlines
    "due.title": "Deadlines", "due.none": "Nothing is due.", "due.case": "Case",
    # review
    "queue.title": "Review queue", "queue.none": "No match waits for review.", "queue.open": "Review",
    "review.title": "Review item {id}", "review.suspect": "Suspect (blurred, greyscale)",
    "review.revealed": "Suspect (revealed)", "review.reveal": "Reveal the image",
    "review.reveal_hint": "Revealing is recorded in the case's chain of custody.",
    "review.edit_map": "Where it was edited", "review.edit_map_hint": "Lighter areas differ from the protected photo.",
    "review.no_media": "The suspect file was not kept; judge from the edit map and the scores.",
    "review.decide": "Decision", "review.confirm": "Confirm the match", "review.reject": "Reject the match",
    "review.reason": "Reason (required)", "review.submit": "Record the decision",
    "review.need": "Choose confirm or reject and give a reason.", "review.done": "Decision recorded: {d}.",
    "review.scores": "Scores",
    "users.title": "Accounts", "users.role": "Role", "users.last_login": "Last sign-in", "users.actions": "Actions",
    "users.active": "active", "users.disabled": "disabled", "users.enable": "Enable", "users.disable": "Disable",
    "users.new": "New account", "users.create": "Create the account", "users.password_hint": "At least 10 "
    "characters. Give it to the person by a separate channel; only its argon2 hash is stored.",
    "users.bad_action": "That change is not possible (you cannot disable your own account).",
    "review.hide": "Blur again",
    "ev.create": "case opened",
    "ev.routed": "routed to child protection",
    "ev.link_protection": "protection linked",
    "ev.add_item": "item added",
    "ev.delete_item": "item deleted",
    "ev.decide": "review decision",
    "ev.notice": "notice generated",
    "ev.deadline_open": "deadline opened",
    "ev.close_deadline": "deadline met",
    "ev.close": "case closed",
    "ev.reopen": "case reopened",
    "ev.viewed": "viewed",
    "ev.revealed": "revealed",
    "ev.exported": "exported",
    "ev.downloaded": "downloaded",
    "ev.export-failed": "export failed",
    "ev.accessed": "accessed",
    "dl.close": "Mark as met", "case.close": "Close the case", "case.reopen": "Reopen",
    "route.standard": "standard", "route.child-protection": "child protection",
    "case.bases": "Legal bases that may apply",
    "sor.link": "Statements of reasons (DSA art. 17)", "sor.title": "Statements of reasons (DSA art. 17)",
    "sor.intro": "For platforms: one statement per confirmed item, in the DSA Transparency Database's JSON format "
    "(the body of POST /api/v2/statements). They never name the person or who sent the notice. Check the fields "
    "against your own decision before submitting.",
    "sor.count": "Statements: {n}", "sor.none": "No confirmed item yet: a reviewer must confirm a match first.",
    "sor.download": "Download as JSON", "sor.keyword": "Keyword", "sor.content_type": "Content type",
    "sor.content_date": "Content date", "sor.application_date": "Decision applies from",
    "sor.scope": "Territorial scope", "sor.countries": "{n} countries", "sor.schema": "Format:",
    "sor.json": "JSON to submit",
    "error.title_400": "The request is not valid", "error.title_405": "Not allowed",
    "error.title_500": "Something went wrong on the server", "error.title_503": "The database is not available",
    "error.503": "The case database is busy or unreachable. Nothing was changed; wait a moment and try again.",
    "error.invalid": "A value in the address or in the form is not valid (for example a number, a date or a text "
    "that is too long). Go back, correct it and try again.", "error.fields": "Concerned:",
    "error.405": "This page cannot be used that way.", "error.500": "The server could not complete this "
    "request. Nothing was changed; try again, and tell the administrator if it happens again.",
    "yes": "yes", "no": "no", "close": "Close",
}

FR: dict[str, str] = {
    "app": "Bouclier", "tagline": "Suivi des violences par images",
    "skip": "Aller au contenu", "nav": "Navigation principale", "nav.cases": "Dossiers", "nav.new": "Nouveau dossier",
    "nav.deadlines": "Échéances", "nav.queue": "À examiner", "nav.users": "Comptes",
    "signed_in_as": "Connecté·e : {user} ({role})", "logout": "Se déconnecter", "language": "Langue",
    "switch": "Changer", "role.caseworker": "chargé·e de dossiers", "role.reviewer": "modération",
    "role.admin": "administration",
    "login.title": "Connexion", "login.username": "Identifiant", "login.password": "Mot de passe",
    "login.submit": "Se connecter", "login.bad": "Identifiant ou mot de passe incorrect.",
    "login.locked": "Trop d'échecs : ce compte est bloqué pendant {minutes} minutes.",
    "login.rate": "Trop d'échecs depuis cette adresse. Patientez quelques minutes puis réessayez.",
    "login.csrf": "Le formulaire a expiré. Veuillez réessayer.",
    "login.intro": "Pour les écoutant·es des lignes d'aide et la modération des plateformes. Chaque connexion "
    "est enregistrée.",
    "error.title": "Un problème est survenu", "error.title_403": "Accès refusé", "error.title_404": "Introuvable",
    "error.403": "Votre rôle ne donne pas accès à cette page.",
    "error.404": "Il n'y a rien ici.", "error.csrf": "Le formulaire a expiré ou ne vient pas de ce site. "
    "Revenez en arrière, rechargez la page et réessayez.", "error.back": "Retour à l'accueil",
    "cases.title": "Dossiers", "cases.none": "Aucun dossier pour l'instant.", "cases.id": "Dossier",
    "cases.pseudonym": "Pseudonyme", "cases.kind": "Type", "cases.jurisdictions": "Juridictions",
    "cases.status": "État", "cases.created": "Ouvert le", "cases.deadline": "Prochaine échéance",
    "cases.items": "Éléments",
    "kind.non-consensual-authentic": "Image authentique diffusée sans consentement",
    "kind.manipulated-synthetic": "Image manipulée ou synthétique",
    "status.open": "ouvert", "status.closed": "clos",
    "badge.overdue": "En retard", "badge.warning": "Bientôt dû", "badge.pending": "En cours", "badge.none": "Aucune",
    "u18.badge": "Mineur·e",
    "u18.banner": "Dossier d'une personne mineure : orienté vers le circuit de protection de l'enfance "
    "({channel}). Il n'est jamais traité comme un dossier d'adulte ; les notifications pour adultes sont "
    "indisponibles.",
    "new.title": "Nouveau dossier", "new.pseudonym": "Pseudonyme", "new.pseudonym_hint": "Pas le vrai nom de la "
    "personne. Seulement ce qui est utile au suivi.", "new.kind": "Type de dossier",
    "new.jurisdictions": "Juridictions", "new.under18": "La personne a moins de 18 ans",
    "new.contact": "Contact (facultatif)", "new.contact_hint": "Seulement si la personne le donne et l'accepte.",
    "new.note": "Note (facultative)", "new.submit": "Ouvrir le dossier", "new.need": "Indiquez un pseudonyme, "
    "un type et au moins une juridiction.",
    "case.title": "Dossier {id}", "case.summary": "Résumé", "case.route": "Circuit", "case.opened_by": "Ouvert par",
    "case.protections": "Protections", "case.protections_none": "Aucune protection liée.",
    "case.link": "Lier une protection", "case.link_id": "Identifiant de la protection", "case.link_submit": "Lier",
    "case.items": "Éléments", "case.items_none": "Aucun élément.", "case.add_item": "Ajouter un élément",
    "case.timeline": "Historique", "case.deadlines": "Échéances", "case.deadlines_none": "Aucune échéance ouverte.",
    "case.notices": "Notifications", "case.notices_none": "Aucune notification.", "case.export": "Dossier de preuves",
    "item.id": "Élément", "item.source": "Source", "item.verdict": "Résultat", "item.edited": "Zone modifiée",
    "item.decision": "Examen", "item.edit_map": "Carte des modifications", "item.no_map": "Pas de carte",
    "item.pending": "en attente d'examen", "item.protected": "Correspond à la protection", "item.sha256": "SHA-256",
    "item.report": "Rapport d'analyse", "verdict.identical": "Copie identique", "verdict.near-duplicate": "Quasi-copie",
    "verdict.manipulated-derivative": "Dérivé manipulé", "verdict.no-match": "Aucune correspondance",
    "decision.confirmed": "Confirmé", "decision.rejected": "Rejeté",
    "tl.when": "Quand", "tl.who": "Qui", "tl.what": "Quoi", "tl.artefact": "Objet", "tl.custody": "traçabilité",
    "dl.what": "Échéance", "dl.due": "Pour le", "dl.state": "État",
    "dk.take-it-down": "TAKE IT DOWN Act : retrait dû 48 h après la demande valide",
    "dk.dsa-ack": "DSA art. 16 : accusé de réception attendu (date de relance fixée par l'outil)",
    "dk.dsa-decision": "DSA art. 16 : relancer pour la décision de la plateforme (date fixée par l'outil)",
    "dk.gdpr-erasure": "RGPD art. 12(3) : réponse à la demande d'effacement due sous un mois",
    "add.title": "Ajouter un élément au dossier {id}", "add.file": "Fichier suspect", "add.file_hint": "Son "
    "empreinte est calculée et comparée aux protections. Il est conservé chiffré pour qu'une personne de la "
    "modération puisse vérifier.", "add.url": "Où il a été trouvé (URL)", "add.captured": "Vu le (facultatif)",
    "add.captured_hint": "Date et heure, par ex. 2026-11-21T14:30Z", "add.submit": "Ajouter et comparer",
    "add.need": "Donnez un fichier, une URL, ou les deux.", "add.result": "Résultat", "add.back": "Retour au dossier",
    "add.match": "Ce fichier correspond à une photo protégée.",
    "add.nomatch": "Aucune photo protégée ne correspond à ce fichier.",
    "add.url_only": "L'URL a été ajoutée au dossier. Déposez aussi le fichier pour le comparer aux protections.",
    "notice.title": "Rédiger une notification", "notice.kind": "Type de notification", "notice.lang": "Langue",
    "notice.platform": "Plateforme ou destinataire", "notice.items": "Éléments à inclure",
    "notice.signer": "Signature : nom de la personne, ou de qui agit pour elle",
    "notice.contact": "Adresse e-mail pour la réponse", "notice.who_hint": "La plupart des notifications exigent les deux.",
    "notice.submit": "Rédiger", "notice.download": "Télécharger en texte", "notice.generated": "Notification {id}",
    "notice.sha": "SHA-256 du texte", "notice.need": "Choisissez un type, une langue et une plateforme.",
    "nk.take-it-down": "Demande de retrait TAKE IT DOWN Act (États-Unis)",
    "nk.dsa-art16": "Notification DSA art. 16 (UE)", "nk.pharos": "Synthèse de signalement PHAROS",
    "nk.police-annex": "Annexe de plainte", "nk.uk-report": "Signalement Royaume-Uni",
    "nk.gdpr-erasure": "Demande d'effacement RGPD",
    "lang.en": "English", "lang.fr": "Français",
    "export.title": "Dossier de preuves", "export.intro": "Empreintes, URL, rapports et chaîne de traçabilité. "
    "Les fichiers suspects seulement si vous cochez la case (alors chiffrés).",
    "export.media": "Inclure les fichiers suspects (chiffrés)",
    "export.media_legend": "Fichiers suspects", "export.recipient": "Clé publique age du destinataire (pour les fichiers)",
    "export.recipient_hint": "Une clé age1… de la personne qui reçoit le dossier ; elle seule pourra déchiffrer.",
    "export.manifest": "SHA-256 du manifeste", "export.files": "Fichiers vérifiés", "export.size": "Taille",
    "export.timestamp": "Horodatage RFC 3161", "export.checked": "Fichiers contrôlés",
    "export.submit": "Exporter et vérifier", "export.download": "Télécharger le dossier",
    "export.verified": "Dossier vérifié : tous les contrôles sont bons.",
    "export.failed": "Le dossier n'a PAS passé la vérification :", "export.file": "Fichier",
    "due.title": "Échéances", "due.none": "Rien n'est dû.", "due.case": "Dossier",
    "queue.title": "À examiner", "queue.none": "Aucune correspondance à examiner.", "queue.open": "Examiner",
    "review.title": "Examen de l'élément {id}", "review.suspect": "Image suspecte (floutée, en gris)",
    "review.revealed": "Image suspecte (révélée)", "review.reveal": "Révéler l'image",
    "review.reveal_hint": "La révélation est inscrite dans la chaîne de traçabilité du dossier.",
    "review.edit_map": "Zones modifiées", "review.edit_map_hint": "Les zones claires diffèrent de la photo protégée.",
    "review.no_media": "Le fichier suspect n'a pas été conservé ; jugez d'après la carte et les scores.",
    "review.decide": "Décision", "review.confirm": "Confirmer la correspondance",
    "review.reject": "Rejeter la correspondance", "review.reason": "Motif (obligatoire)",
    "review.submit": "Enregistrer la décision", "review.need": "Choisissez confirmer ou rejeter et donnez un motif.",
    "review.done": "Décision enregistrée : {d}.", "review.scores": "Scores",
    "users.title": "Comptes", "users.role": "Rôle", "users.last_login": "Dernière connexion", "users.actions": "Actions",
    "users.active": "actif", "users.disabled": "désactivé", "users.enable": "Réactiver", "users.disable": "Désactiver",
    "users.new": "Nouveau compte", "users.create": "Créer le compte", "users.password_hint": "Au moins 10 "
    "caractères. Transmettez-le par un autre canal ; seule son empreinte argon2 est conservée.",
    "users.bad_action": "Ce changement est impossible (vous ne pouvez pas désactiver votre propre compte).",
    "review.hide": "Flouter à nouveau",
    "ev.create": "dossier ouvert",
    "ev.routed": "orienté vers la protection de l'enfance",
    "ev.link_protection": "protection liée",
    "ev.add_item": "élément ajouté",
    "ev.delete_item": "élément supprimé",
    "ev.decide": "décision d'examen",
    "ev.notice": "notification rédigée",
    "ev.deadline_open": "échéance ouverte",
    "ev.close_deadline": "échéance tenue",
    "ev.close": "dossier clos",
    "ev.reopen": "dossier rouvert",
    "ev.viewed": "consulté",
    "ev.revealed": "révélé",
    "ev.exported": "exporté",
    "ev.downloaded": "téléchargé",
    "ev.export-failed": "échec de l'export",
    "ev.accessed": "accédé",
    "dl.close": "Marquer comme tenue", "case.close": "Clore le dossier", "case.reopen": "Rouvrir",
    "route.standard": "standard", "route.child-protection": "protection de l'enfance",
    "case.bases": "Textes susceptibles de s'appliquer",
    "sor.link": "Exposés des motifs (DSA art. 17)", "sor.title": "Exposés des motifs (DSA art. 17)",
    "sor.intro": "Pour les plateformes : un exposé par élément confirmé, au format JSON de la base de données "
    "de transparence du DSA (le corps de POST /api/v2/statements). Ils ne nomment jamais la personne ni l'auteur "
    "de la notification. Vérifiez les champs au regard de votre propre décision avant de les soumettre.",
    "sor.count": "Exposés : {n}", "sor.none": "Aucun élément confirmé : une personne de la modération doit "
    "d'abord confirmer une correspondance.",
    "sor.download": "Télécharger en JSON", "sor.keyword": "Mot-clé", "sor.content_type": "Type de contenu",
    "sor.content_date": "Date du contenu", "sor.application_date": "Décision applicable le",
    "sor.scope": "Portée territoriale", "sor.countries": "{n} pays", "sor.schema": "Format :",
    "sor.json": "JSON à soumettre",
    "error.title_400": "La demande n'est pas valide", "error.title_405": "Non autorisé",
    "error.title_500": "Un problème est survenu sur le serveur",
    "error.title_503": "La base de données n'est pas disponible",
    "error.503": "La base des dossiers est occupée ou injoignable. Rien n'a été modifié ; patientez un instant "
    "et réessayez.",
    "error.invalid": "Une valeur de l'adresse ou du formulaire n'est pas valide (par exemple un nombre, une date "
    "ou un texte trop long). Revenez en arrière, corrigez-la et réessayez.", "error.fields": "Concerne :",
    "error.405": "Cette page ne s'utilise pas ainsi.", "error.500": "Le serveur n'a pas pu traiter cette demande. "
    "Rien n'a été modifié ; réessayez, et prévenez l'administration si cela se reproduit.",
    "yes": "oui", "no": "non", "close": "Fermer",
}

CATALOGUES = {"en": EN, "fr": FR}


def tx(lang: str, key: str, fallback: str) -> str:
    """The catalogue's words for `key`, else `fallback` (e.g. a label that came from the cases domain)."""
    return CATALOGUES.get(lang, EN).get(key) or fallback


def t(lang: str, key: str, **kw) -> str:
    s = CATALOGUES.get(lang, EN).get(key) or EN.get(key) or key
    return s.format(**kw) if kw else s


def pick_lang(accept_language: str | None) -> str:
    """The first of fr/en named in an Accept-Language header (default en)."""
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in CATALOGUES:
            return code
    return "en"
