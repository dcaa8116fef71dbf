"""What a reply means: its intent, the person it points to and when to write again.

Pure phrase rules over the author's own text (quotes and signatures already removed), in
English, German, French, Spanish, Portuguese, Dutch and Italian; no model. Each intent has
its phrases; when several match, the more specific one wins, in this order: do_not_contact,
left_company, wrong_person, later, meeting_request, information_request, not_interested,
interested ("not interested in the deck, but call me Thursday" is a meeting request; "not now,
maybe in Q3" is later). A hedge ("let me think about it") with nothing stronger is ``other``.
"""

from __future__ import annotations

import datetime as dt
import re
import typing
import unicodedata
from dataclasses import dataclass
from typing import Literal

from outbound.inbox.addresses import ADDRESS_RE
from outbound.inbox.follow_up import follow_up_date

Intent = Literal[
    "interested",
    "meeting_request",
    "information_request",
    "not_interested",
    "do_not_contact",
    "wrong_person",
    "left_company",
    "later",
    "out_of_office",
    "other",
]
INTENTS: tuple[Intent, ...] = typing.get_args(Intent)
@dataclass(frozen=True)
class Referral:
    email: str
    name: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return {"email": self.email, "name": self.name}


@dataclass(frozen=True)
class Reading:
    intent: Intent
    referral: Referral | None = None
    follow_up_on: dt.date | None = None
    why: str = ""


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in parts), re.I)


_DO_NOT_CONTACT = _rx(
    r"\bunsubscribe\b|\bopt[- ]?out\b|\bstop (e-?mailing|sending|contacting|messaging|writing)\b",
    r"\b(remove|delete|take) (me|us|my (e-?mail|address|data|details|name))\b.{0,40}\b(list|database|system|records)",
    r"\bbeing removed\b|\bremove (me|us)\b|\berase (all )?(my |the )?(personal )?data\b",
    r"\b(do not|don.?t|never) (ever )?(contact|e-?mail|write to|message) (me|us)\b",
    r"\bno (more|further) (e-?mails|messages)\b|\bwill report (you|this) as spam\b",
    # German
    r"\babmelden\b|\baus (ihrem|dem|eurem) verteiler\b|\blöschen sie meine daten\b|\bkeine (weiteren )?(e-?mails|nachrichten|mails)\b",
    r"\bnicht mehr (kontaktieren|anschreiben)\b",
    # French
    r"\bdésinscri|\bdesinscri|\bdésabonn|\bne plus (me |m.)(écrire|ecrire|envoyer|contacter|solliciter)\b|\bretirer de vos (listes?|fichiers?)\b",
    r"\bretirez[- ]moi\b|\bsupprimez[- ]moi\b|\bne (me )?(contactez|recontactez) plus\b",
    # Spanish
    r"\b(dame|darme|denme) de baja\b|\bno quiero recibir más\b|\beliminar(me)? de (la|su|vuestra) (lista|base)\b",
    r"\bno (me )?(contacten|escriban|envíen|envien) más\b|\bdejen de (enviar|escribir)",
    # Portuguese
    r"\bretirem? o meu (endereço|e-?mail|contacto)\b|\bnão me (voltem|volte) a contactar\b|\bdescadastr",
    r"\bparem de (enviar|mandar)|\bnão (me )?(enviem|mandem) mais\b|\bremover (meu|o meu) (e-?mail|endereço)",
    # Italian
    r"\bcancellatemi\b|\bcancellami\b|\brimuovetemi\b|\bnon (voglio|desidero) più ricevere\b|\bsmettete di (scrivermi|contattarmi)",
    r"\bnon contattatemi più\b",
    # Dutch
    r"\buitschrijven\b|\bafmelden\b|\bverwijder (mij|me|mijn)\b|\bgeen (e-?mails|mails|berichten) meer\b|\bniet meer (mailen|benaderen)\b",
)
# "please don't take me off your list", "no need to unsubscribe me"
_KEEP_ME = _rx(
    r"\b(don.?t|do not|no need to|please never)\s+(take|remove|delete|unsubscribe)\s+(me|us)\b",
    r"\bkeep me (on|in)\b|\bdon.?t unsubscribe\b",
    r"\bnicht (abmelden|aus dem verteiler)\b|\bne me (retirez|désinscrivez) pas\b|\bno me (den|des) de baja\b",
    r"\bnão me (retirem|removam)\b|\bnon cancellatemi\b|\bniet (uitschrijven|afmelden)\b",
)

_LEFT = _rx(
    r"\bno longer (with|at|works? (at|for)|employed|part of)\b|\b(has|have) left (the company|\w+)",
    r"\bi (have |'ve )?left\b|\bi.?ve moved on\b|\bmy last day\b|\bis my last day\b|\bleaving (the company|\w+ at the end)",
    r"\bmy successor\b|\btook over (from me|my role)\b|\bwill take over my\b",
    # German
    r"\bnicht mehr (in unserem unternehmen|bei uns|im unternehmen|für \w+) (tätig|beschäftigt)\b|\bnicht mehr bei\b",
    r"\bhat das unternehmen verlassen\b|\bhabe das unternehmen verlassen\b|\bmein(e)? nachfolger",
    # French
    r"\bne fait plus partie\b|\bn.?est plus (chez|dans|au sein)\b|\bne travaille plus (chez|pour|dans)\b|\ba quitté\b|\bj.?ai quitté\b",
    r"\bmon successeur\b",
    # Spanish
    r"\bya no (trabaja|trabajo|forma parte|está en)\b|\bdejó la empresa\b|\bdejé la empresa\b|\bmi sucesor",
    # Portuguese
    r"\bnão trabalh[oa] mais\b|\bjá não trabalh[oa]\b|\bdeixou a empresa\b|\bdeixei a empresa\b|\bficou no meu lugar\b|\bmeu sucessor",
    # Italian
    r"\bnon lavora più\b|\bnon lavoro più\b|\bnon fa più parte\b|\bha lasciato (l.?azienda|la società)\b|\bho lasciato\b",
    # Dutch
    r"\bniet langer werkzaam\b|\bniet meer werkzaam\b|\bwerkt? (hier )?niet meer\b|\bheeft .{0,30} verlaten\b|\bmijn opvolger\b",
)

_WRONG = _rx(
    r"\b(not|wrong) (the )?(right|correct|best|relevant) (person|contact)\b|\bwrong person\b|\bnot the person\b",
    r"\bnot (my|me) (area|department|call|responsibility|remit|decision)\b|\bnot me\b[,.]|\bnot my area\b",
    r"\b(i.?m|i am) not (responsible|in charge|involved)\b|\bnothing to do with\b|\bperson you want\b",
    r"\b(please|better) (contact|reach out to|speak to|talk to|send this to|email|write to|ask)\b(?! me\b| us\b)",
    r"\btry (our|my) (\w+ )?(colleague|team|department|dept|guy|person|lead|manager|head|office|director)\b",
    r"\b(you should|you.?ll want to) (contact|speak|talk|reach)\b|\bi just (run|do|handle)\b",
    # German
    r"\bnicht zuständig\b|\bnicht der richtige\b|\bnicht die richtige\b|\bwenden sie sich (bitte )?an\b|\bbitte wenden sie sich\b",
    r"\bfalsche(r)? ansprechpartner",
    # French
    r"\bpas (la|le) bon(ne)? (personne|interlocut)|\bce n.?est pas moi qui\b|\bje ne (m.?occupe|suis) pas\b.{0,40}\b(sujet|responsable|charge)",
    r"\badressez-vous\b|\bcontactez plutôt\b",
    # Spanish
    r"\bno soy (la persona|el responsable|la responsable|quien)\b|\bno me ocupo\b|\bhabla con\b|\bcontacta con\b|\bescribe a\b",
    # Portuguese
    r"\bnão sou (a pessoa|o responsável|a responsável|quem)\b|\bnão cuido\b|\bfale com\b",
    # Italian
    r"\bnon mi occupo\b|\bnon sono (la persona|io il responsabile|il responsabile|la responsabile)\b|\bprovi a (scrivere|contattare)\b",
    r"\bsi rivolga a\b",
    # Dutch
    r"\bhier ga ik niet over\b|\bniet de juiste persoon\b|\bniet mijn afdeling\b|\bmail (even )?met\b|\bneem contact op met\b",
)

_LATER = _rx(
    r"\b(reach|circle|get|come|check|touch) (back|out)( to me)? (again )?(in|after|next|around|once|then|early|late)\b",
    r"\bget back in touch (in|after|then|next)\b|\b(ping|try|contact|email) me (again )?(in|after|next|around|early)\b",
    r"\bnot (right )?now\b|\bnot the right time\b|\bnot a good time\b|\bbad timing\b|\bmaybe (next|in|after)\b",
    r"\bfollow up (in|after|next)\b|\b(revisit|pick this up|pick it up)( this| it)? (in|after|next)\b|\bpick this up\b",
    # German
    r"\bmelden sie sich (gern |gerne )?(im|in|nach|wieder|nochmal|noch einmal)\b|\bkommen sie (im|in|nach) .{0,20} (wieder )?auf (mich|uns) zu\b",
    r"\b(aktuell|momentan|derzeit|gerade) passt es (leider )?(gar )?nicht\b|\bim (neuen|nächsten) jahr\b",
    # French
    r"\brecontactez[- ]moi\b|\brevenez vers (moi|nous)\b|\bpas le (bon )?moment\b|\bplus tard dans l.?année\b",
    # Spanish
    r"\bescríbeme (después|en|dentro)\b|\bescribeme (después|en)\b|\bvuelve a escribirme\b|\bahora (mismo )?no\b|\bmás adelante\b|\bdespués del verano\b",
    # Portuguese
    r"\bagora não\b|\bme procura\b|\bvolte a (falar|contactar)\b|\bdaqui a\b|\bmais para a frente\b|\bdepois do verão\b",
    # Italian
    r"\brisentiamoci\b|\bricontattami\b|\bmi ricontatti\b|\bdopo le ferie\b|\bpiù avanti\b",
    # Dutch
    r"\bneem (later|na|in) .{0,20}contact\b|\bnu even niet\b|\bna de zomer\b|\blater dit jaar\b",
)
# "later" without a date must at least say "not now"; a bare "maybe next" is not enough
_NOT_NOW = _rx(
    r"\bnot (right )?now\b|\bnot the right time\b|\bnot a good time\b|\bbad timing\b|\btiming isn.?t (great|right)\b",
    r"\b(aktuell|momentan|derzeit|gerade) passt es\b|\bgerade nicht\b|\bzurzeit nicht\b",
    r"\bpas (maintenant|le (bon )?moment)\b|\bahora (mismo )?no\b|\bagora não\b|\bnon (ora|adesso)\b|\bnu (even )?niet\b",
)
# an absence the person wrote by hand (auto-replies are told apart by their headers)
_AWAY = _rx(
    r"\b(i.?m|i am|i.?ll be|i will be)( currently)? (out of (the )?office|away|on (leave|holiday|vacation))\b",
    r"\bback (on|in the office)\b.{0,40}\d|\bsono in (fiera|ferie|viaggio|trasferta)\b|\brientro in ufficio\b",
    r"\bich bin (bis|diese woche|gerade) .{0,30}(unterwegs|abwesend|im urlaub|auf (einer )?messe)\b",
    r"\bje suis (en déplacement|en congés?|absente?)\b|\bestoy (de viaje|de vacaciones|fuera)\b",
    r"\bestou (de férias|ausente|em viagem)\b|\bik ben (op vakantie|afwezig|met vakantie)\b",
)

_MEETING_NOUN = (
    r"\b(call|phone|meeting|chat|zoom|teams|google meet|invite|invitation|calendar|diary|slot|demo)\b|\btalk\b|"
    r"\b(s.|vous )?appeler\b|\btéléphoner\b|\bllamar(nos)?\b|\bligar\b|\bchiamar(ci|mi)?\b|"
    r"\b(telefonat|anruf|termin|gespräch|treffen|einladung)\b|\btelefonieren\b|"
    r"\b(appel|rendez-vous|réunion|échange|créneau|invitation|visio)\b|"
    r"\b(llamada|reunión|videollamada|cita|invitación|convite|conversa|ligação|reunião)\b|"
    r"\b(chiamata|telefonata|sentirci|riunione|appuntamento|incontro)\b|"
    r"\b(bellen|afspraak|gesprek|overleg|agenda|uitnodiging)\b"
)
_WHEN = (
    r"\b(monday|tuesday|wednesday|thursday|friday|tomorrow|tmrw|next week|this week|"
    r"montag|dienstag|mittwoch|donnerstag|freitag|morgen|nächste woche|"
    r"lundi|mardi|mercredi|jeudi|vendredi|demain|semaine prochaine|"
    r"lunes|martes|miércoles|jueves|viernes|mañana|semana que viene|próxima semana|"
    r"segunda|terça|quarta|quinta|sexta|amanhã|"
    r"lunedì|martedì|mercoledì|giovedì|venerdì|domani|settimana prossima|"
    r"maandag|dinsdag|woensdag|donderdag|vrijdag|volgende week)\b|\b\d{1,2}(:\d{2})?\s*(am|pm|uhr|h\b)|\b\d{1,2}:\d{2}\b|\bum \d{1,2}\b"
)
_MEETING = _rx(
    rf"({_MEETING_NOUN}).{{0,120}}({_WHEN})|({_WHEN}).{{0,120}}({_MEETING_NOUN})",
    r"\b(let.?s|lets|can we|could we|shall we|happy to|we could) (do |have |get on |set up |schedule |jump on |hop on )?(a |an )?(quick |short |brief )?(call|chat|meeting|talk)\b",
    r"\b(book|grab|pick|find) (a |some )?(time|slot|\d+ ?min)|\bhow about\b.{0,40}({_WHEN})|\bsend (me )?(an |the )?invite\b".replace(
        "{_WHEN}", _WHEN),
    r"https?://\S*(cal|calendar|calendly|agenda|meet|booking)\S*",
    r"\bgive you \d+ minutes\b|\b\d+ minutes on the phone\b",
    r"\b(vamos|podemos) marcar\b|\bme manda o convite\b|\bvolontiers pour un (échange|appel|rendez-vous)\b",
    r"\blijkt me (leuk|goed) om .{0,20}(bellen|af te spreken)\b|\bplan (gerust )?iets in\b",
    r"\bpossiamo sentirci\b|\bte viene bien\b|\bpasst (ihnen|es ihnen|dir)\b.{0,60}({_WHEN})".replace("{_WHEN}", _WHEN),
)

_PROPOSE = _rx(
    r"\?|\b(how|what) about\b|\bworks? for (me|you)\b|\bare you (free|available)\b|\blet.?s\b|\b(can|could|shall) we\b",
    r"\b(i|we) (propose|suggest)\b|\bhappy to (talk|chat|meet)\b|\bsend (me )?(an |the )?invite\b",
    r"\bpasst (ihnen|es|dir)\b|\bkönnen wir\b|\bwie wäre\b|\bon peut\b|\bpouvons-nous\b|\bje (vous )?propose\b",
    r"\bvous convient\b|\b(te|le) viene bien\b|\bpodemos\b|\bpode ser\b|\bpossiamo\b|\b(le|ti) va bene\b",
    r"\bkunnen we\b|\b(past|schikt) (het|jou|u)\b",
)

_INFO = _rx(
    r"\b(what|how much) (does|do|would|is|are) (it|this|that|you)\b.{0,40}\b(cost|charge|price)|\bhow much\b|\bwhat are your (fees|prices|rates)\b",
    r"\b(pricing|price list|prices|fees|rates|quote|case stud(y|ies)|references|api docs|documentation|brochure|deck|dpa)\b.{0,60}\?",
    r"\bdo you (have|sell|offer|support|work with)\b|\bdoes it (integrate|work|support)\b|\bis there (a|an)\b.{0,40}\?",
    r"\b(price|pricing|cost|prix|tarifs?|preis|kosten|precio|preço|prezzo|prijs)\w*\b.{0,60}\?",
    r"\b(where|how) is (the )?data (hosted|stored)\b|\bintegrat\w* with\b.{0,40}\?|\b(send|email|mail) (me |us |over )?"
    r"(the |a |some |your )?(api docs|docs|documentation|pricing|price list|case study|examples|brochure|deck|details on|one-pager)",
    r"\bcould you send (over )?(a few|some|more) (examples|details|information)\b",
    # German
    r"\bwas kostet\b|\bwie viel kostet\b|\bwelche preise\b|\bgibt es (eine|einen)\b.{0,40}\?|\bliegen die daten\b",
    # French
    r"\bcombien (coûte|coute|ça coûte)\b|\bgrille tarifaire\b|\bs.?intègre\b.{0,40}\?|\best-ce que\b.{0,80}\?|\bavez-vous\b.{0,80}\?",
    # Spanish
    r"\bcuánto (cuesta|cobráis|cobran|vale)\b|\btrabajáis\b.{0,60}\?|\btenéis\b.{0,60}\?|\bprecio",
    # Portuguese
    r"\btabela de preços\b|\bquanto custa\b|\bpodem enviar-me\b|\bvocês têm\b.{0,60}\?",
    # Italian
    r"\bsi integra\b|\bquanto costa\b|\bavete (già )?(clienti|un listino)\b|\bcaso di studio\b|\blistino prezzi\b",
    # Dutch
    r"\bwat kost\b|\bhoeveel kost\b|\bhebben jullie\b.{0,60}\?|\bintegreert\b",
)

_NOT_INTERESTED = _rx(
    r"\bnot interested\b|\bno thanks\b|\bno,? thank you\b|\bthanks,? but no\b|\bit.?s a no\b|\bhonestly no\b",
    r"\bnot (a|our) priority\b|\bno budget\b|\b(don.?t|do not) need\b|\bno (need|plans)\b|\bwe.?re (all )?set\b|\bpass on this\b",
    r"\b(already|happy) (use|using|with|have|work with)\b|\bwe (already )?use\b.{0,40}\bhappy\b|\bsigned .{0,40} with another\b",
    r"\bhiring freeze\b|\bnot looking\b|\bnot for us\b|\bno interest\b",
    # German
    r"\bkein (bedarf|interesse)\b|\bnicht interessiert\b|\bbrauchen wir nicht\b|\bnein,? danke\b",
    # French
    r"\bpas intéressée?s?\b|\bnous avons déjà\b|\bnon merci\b|\bça ne nous intéresse pas\b|\bpas besoin\b",
    # Spanish
    r"\bno (nos )?interesa\b|\bgracias,? pero no\b|\bno estamos (contratando|interesados|buscando)\b|\bya tenemos\b",
    # Portuguese
    r"\bnão (temos|tenho) interesse\b|\bjá trabalhamos com\b|\bnão precisamos\b|\bnão, obrigad",
    # Italian
    r"\bnon (ci )?interessa\b|\bnon è una priorità\b|\babbiamo già\b|\bno,? grazie\b",
    # Dutch
    r"\bnee,? dank\b|\bgeen (behoefte|interesse)\b|\bniet geïnteresseerd\b|\bhebben (we )?al\b",
)

_INTERESTED = _rx(
    r"\binterested\b|\bintrested\b|\binteresting\b|\btell me (a bit )?more\b|\bsend me more\b|\bhappy to hear more\b",
    r"\b(like|love|want|keen) to (learn|hear|know|see) more\b|\blearn more\b|\bsend (me |over )?(some |more )?info(rmation)?\b",
    r"\b(good|great) fit\b|\binteressante\b",
    r"\bwould love to (hear|learn|know)\b|\bkeep me posted\b|\bi.?m listening\b|\byes please\b|\bsounds (good|great|interesting)\b",
    r"\b(this is|that.?s|is) (relevant|timely|exactly what)\b|\bcurious\b|\bnot a bad idea\b|\bwe.?re (actually )?looking (at|for) (this|something like this)\b",
    # German
    r"\bklingt (spannend|interessant|gut)\b|\berzählen sie (mir )?(gern |gerne )?mehr\b|\binteresse\b",
    # French
    r"\bje ne dis pas non\b|\bavec intérêt\b|\benvoyez-moi (quelques|plus|des) (éléments|informations|infos)\b|\bça m.?intéresse\b",
    # Spanish
    r"\b(me|nos) interesa\b|\bcuéntame más\b|\bcuénteme más\b|\bme interesaría\b",
    # Portuguese
    r"\btenho interesse\b|\btemos interesse\b|\bconte-me mais\b|\bme conta mais\b|\bcontar mais\b|\btem tudo a ver\b",
    # Italian
    r"\bmi interess|\bmi mandi (pure )?(qualcosa|maggiori)\b|\bmi racconti\b",
    # Dutch
    r"\binteressant\b|\bvertel (me|mij) meer\b|\blijkt me (interessant|goed)\b",
)
_HEDGE = _rx(
    r"\blet me think\b|\bi.?ll think about it\b|\bthink it over\b|\bich überlege\b|\bje vais réfléchir\b|\blo pensaré\b",
    r"\bvou pensar\b|\bci penso\b|\bik denk erover na\b",
)

_HEAD = 4000  # what a reply means is said at its top; the bound keeps garbage input fast
_ORDER: tuple[tuple[Intent, re.Pattern[str]], ...] = (
    ("left_company", _LEFT),
    ("wrong_person", _WRONG),
    ("later", _LATER),
    ("meeting_request", _MEETING),
    ("information_request", _INFO),
    ("not_interested", _NOT_INTERESTED),
    ("interested", _INTERESTED),
)


def _flat(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text[:_HEAD]).split())


def asks_not_to_be_contacted(text: str) -> bool:
    """The author's own words ask us to stop (and do not say the opposite)."""
    flat = _flat(text)
    return bool(_DO_NOT_CONTACT.search(flat)) and not _KEEP_ME.search(flat)


def keeps_in_touch(text: str) -> bool:
    """"Don't take me off your list": the words of an unsubscribe, negated."""
    return bool(_KEEP_ME.search(_flat(text)))


def proposes_meeting(text: str) -> bool:
    """A call or a time proposed as a question or an offer ("how about Thursday 3 pm?"), not an absence
    note's "for urgent matters call me on Monday"."""
    flat = _flat(text)
    return bool(_MEETING.search(flat)) and bool(_PROPOSE.search(flat))


def read_intent(text: str, *, kind: str, sent: dt.date | None = None, vacation: bool = False,
                own_address: str | None = None) -> Reading:
    """The intent of a human reply, an auto-reply or an unsubscribe request, from the author's own text."""
    text = text[:_HEAD]
    flat = _flat(text)
    if kind == "unsubscribe":
        return Reading("do_not_contact", why="asks to be removed")
    if kind not in ("human_reply", "auto_reply"):
        return Reading("other", why=f"not a reply ({kind})")
    if kind == "auto_reply":
        if _LEFT.search(flat):
            return Reading("left_company", _referral(text, own_address), why="auto-reply: no longer there")
        if vacation or _AWAY.search(flat):
            return Reading("out_of_office", why="auto-reply: away")
        return Reading("other", why="auto-reply that is not an absence (ticket, acknowledgement)")
    if asks_not_to_be_contacted(flat):
        return Reading("do_not_contact", why="asks not to be contacted")
    for intent, pattern in _ORDER:
        found = pattern.search(flat)
        if found is None:
            continue
        if intent == "later":
            when = follow_up_date(flat, sent or dt.date.today())
            # without a date, "not now" is later only when nothing says no ("not now, we're not hiring")
            if when is None and (not _NOT_NOW.search(flat) or _NOT_INTERESTED.search(flat)):
                continue
            return Reading("later", follow_up_on=when, why=f"later: {found.group(0)!r}")
        if intent in ("left_company", "wrong_person"):
            return Reading(intent, _referral(text, own_address), why=f"{intent}: {found.group(0)!r}")
        if intent == "interested" and _HEDGE.search(flat):
            break
        return Reading(intent, why=f"{intent}: {found.group(0)!r}")
    if _AWAY.search(flat):
        return Reading("out_of_office", why="a person writing that they are away")
    return Reading("other", why="no intent phrase")


# ------------------------------------------------------------------ referrals

_CUE = re.compile(
    r"contact|reach out|speak to|talk to|ask|send (this|it) to|email|e-mail|mail|write to|try|person you want|successor|"
    r"details below|take over|wenden sie sich|ansprechpartner|nachfolger|contactez|adressez|successeur|contacta|escribe|"
    r"habla|sucesor|fale com|sucessor|contatti|scriva|rivolga|successore|neem contact|opvolger|collega|colleague|"
    r"an (herrn|frau)",
    re.I,
)
_TITLE = r"(?:herrn?|frau|mr\.?|mrs\.?|ms\.?|dr\.?|monsieur|madame|m\.|mme|señor|señora|sr\.?|sra\.?|signor[a]?|dhr\.?|mevr\.?)"
_NAME = re.compile(r"\b([A-ZÀ-Þ][\w'’-]+(?:\s+(?:van|de|der|den|da|di|del|von|le|la)?\s*[A-ZÀ-Þ][\w'’-]+){1,2})\b")


def _plain(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if c.isalnum())


def _name_for(address: str, window: str) -> str | None:
    """A capitalised name near the address whose surname its local part contains."""
    local = _plain(address.split("@", 1)[0])
    best: str | None = None
    for m in _NAME.finditer(window):
        words = re.sub(rf"^{_TITLE}\s+", "", m.group(1), flags=re.I).split()
        if len(words) >= 2 and len(_plain(words[-1])) >= 3 and _plain(words[-1]) in local:
            best = " ".join(words)
    return best


def _referral(text: str, own_address: str | None) -> Referral | None:
    """The first address after a referral cue (not the author's own), with the name beside it."""
    own = (own_address or "").lower()
    for cue in _CUE.finditer(text):
        tail = text[cue.end() : cue.end() + 220]
        for m in ADDRESS_RE.finditer(tail):
            address = m.group(1).lower()
            if address == own:
                continue
            start = cue.end() + m.start()
            window = text[max(0, start - 160) : start + len(address) + 80]
            return Referral(address, _name_for(address, window))
    return None
