"""Unsubscribe requests in plain words, in the author's own text (never in quoted history).

A short message that asks to stop ("unsubscribe", "remove me", "take me off your list",
"not interested, stop emailing", and the same in German, French, Spanish, Italian, Dutch,
Swedish, Portuguese...) is an unsubscribe request. Negations ("don't unsubscribe me") and long
messages that only mention the word in passing are not.
"""

from __future__ import annotations

import re

_REQUEST = re.compile(
    r"\bunsubscribe\b|\bunsub\b|\bopt[- ]?out\b|\bremove (me|us|my (e-?mail|address|name))\b|\btake (me|us) off\b|\btake my (e-?mail|address|name) off\b"
    r"|\bdelete (me|my (e-?mail|address|data|details))\b|\bstop (e-?mailing|emailing|sending|contacting|messaging|spamming|writing)\b"
    r"|\bdo not (e-?mail|contact|email|write to) (me|us)\b|\bdon.?t (e-?mail|contact|email|write to) (me|us)\b|\bno (more|further) e-?mails?\b"
    r"|\bnot interested\b.{0,80}\b(stop|remove|unsubscribe|don.?t|do not|no more)\b|\bplease stop\b|\bleave me alone\b|\bcease\b.{0,30}\b(e-?mail|contact)"
    r"|\bremove from (your|the) (list|mailing list|database)\b|\boff (your|the) (mailing )?list\b"
    # German
    r"|\babmelden\b|\babbestellen\b|\bkeine (weiteren )?(e-?mails|nachrichten|mails)\b|\bbitte (entfernen|löschen) sie\b|\bnehmen sie mich\b.{0,40}\b(liste|verteiler)\b|\baus (ihrem|dem) verteiler\b|\bkein interesse\b.{0,60}\b(keine|nicht mehr|entfernen|löschen)"
    # French
    r"|\bdésinscri|\bdesinscri|\bdésabonn|\bdesabonn|\bne plus (recevoir|m.?envoyer|me contacter)|\bretirez[- ]moi\b|\bsupprimez[- ]moi\b|\barrêtez de m|\bpas intéressée?\b.{0,60}\b(arrêtez|plus|retirez)"
    # Spanish / Portuguese
    r"|\bdarme de baja\b|\bdar de baja\b|\bbaja de (la|su) lista\b|\bno (me )?(envíen|envien|manden|escriban) más\b|\beliminar(me)? de (la|su) lista\b|\bdejen de (enviar|escribir)"
    r"|\bdescadastr|\bcancelar (a )?(minha )?inscrição|\bparem de (enviar|mandar)|\bnão (me )?(enviem|mandem) mais\b|\bremover (meu|o meu) e-?mail"
    # Italian
    r"|\bcancellami\b|\bcancellatemi\b|\brimuovetemi\b|\brimuovermi\b|\bdisiscri|\bnon (voglio|desidero) (più )?ricevere|\bsmettete di"
    # Dutch
    r"|\bafmelden\b|\buitschrijven\b|\bverwijder (mij|me|mijn)\b|\bhaal me van\b|\bgeen (e-?mails|mails) meer\b|\bstop met (mailen|e-?mailen)"
    # Swedish / Danish / Norwegian
    r"|\bavregistrera\b|\bavsluta prenumeration|\bta bort mig\b|\bsluta (skicka|maila|mejla)\b|\bavmeld\b|\bfjern mig\b|\bfjern meg\b|\bslutt å sende\b|\bstop med at sende",
    re.I,
)
_NEGATED = re.compile(
    r"\b(don.?t|do not|didn.?t|never|no need to|not)\s+(want to\s+|mean to\s+)?(unsubscribe|remove me|opt out|stop)\b|\bhow (do|can) i unsubscribe\b.{0,40}\?",
    re.I,
)
_SUBJECT = re.compile(
    r"^\s*(re:\s*)*(unsubscribe|remove|remove me|opt[- ]?out|stop|abmelden|désinscription|baja|afmelden|avregistrera)\s*$",
    re.I,
)


def is_unsubscribe_request(own_text: str, subject: str = "") -> bool:
    """True when the author's own words ask to be taken off the list."""
    text = " ".join(own_text.split())
    if _SUBJECT.match(subject) and len(text) < 400:
        return True
    if not text:
        return False
    head = text[:600]
    match = _REQUEST.search(head)
    if match is None or _NEGATED.search(head):
        return False
    # A long message that mentions the word once is a conversation, not a request.
    return len(text) < 600 or match.start() < 200
