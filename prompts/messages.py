"""Composition of the alert, the update (vervolgbericht) and the outcome message (afloopbericht)
for every channel.

Pure functions. The message is built once from the validated description as a list of
sentences, through a *form*: the written form (web preview, e-mail) keeps digits and plates
as typed, the spoken form (voice) turns them into words. The SMS is a compact variant with a
deterministic shortening strategy. The offence itself is left out on purpose.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from db.models import IncidentType, Outcome
from prompts import spoken
from prompts.errors import InvalidDescription, NothingChanged, UnknownOutcome
from prompts.fields import Age, incident_type_of, parse_age, validate_description
from prompts.grammar import place_with_article, with_articles
from prompts.sms import sms_length, to_gsm7

FREE_TEXT_MAX = 300
OUTCOME_NOTE_MAX = 200
POLICE_INFO_NUMBER = "0900-8844"  # the police's non-emergency number
# An alert SMS may take up to three concatenated segments (459 GSM-7 characters, 201 UCS-2)
# before details are dropped: a whole description beats a cheap one.
MAX_SMS_SEGMENTS = 3


@dataclass(frozen=True)
class Sender:
    """Who a message comes from and how to stop it; every SMS and e-mail names both.

    `control_room` is the meldkamer that started the action ("Meldkamer Haaglanden");
    `stop_number` the number that takes a STOP reply (the number the platform sends SMS from,
    whose inbound messages messaging.inbound_sms handles); empty when SMS are sent from that
    number anyway, then the text says to reply to it."""

    control_room: str = ""
    stop_number: str = ""

    @property
    def sms_prefix(self) -> str:
        return f"Burgernet ({self.control_room})" if self.control_room else "Burgernet"

    @property
    def sms_stop(self) -> str:
        where = self.stop_number or "dit nummer"
        return f"Stop? Sms STOP naar {where}."

    @property
    def email_sender(self) -> str:
        if self.control_room:
            return f"Dit bericht is verstuurd door Burgernet namens de politie, {self.control_room}."
        return "Dit bericht is verstuurd door Burgernet namens de politie."


NO_SENDER = Sender()


@dataclass(frozen=True)
class AlertMessage:
    voice: str  # the full spoken text (already in spoken form, ready for TTS)
    display: str  # the same message in normal written form (for the web preview)
    sms: str  # at most three segments (GSM-7 where possible), sender and STOP footer included
    sms_segments: int
    sms_encoding: str  # "GSM-7" or "UCS-2"
    email_subject: str
    email_footer: str  # who sends it, why you get it, the call-back number

    @property
    def sms_fits_one_segment(self) -> bool:
        return self.sms_segments == 1

    def email_for(self, unsubscribe_url: str) -> tuple[str, str]:
        """The e-mail (plain text, HTML) for one recipient, with their own unsubscribe link
        (a signed link to the self-service opt-out; deliveries.message_texts makes it)."""
        stop = "Geen berichten van Burgernet meer ontvangen? Meld u af"
        if unsubscribe_url:
            text = f"{self.display}\n\n{self.email_footer}\n\n{stop}: {unsubscribe_url}\n"
            link = f'{html.escape(stop)}: <a href="{html.escape(unsubscribe_url)}">afmelden</a>.'
        else:  # a preview: the link is made per recipient when the e-mail is sent
            text = f"{self.display}\n\n{self.email_footer}\n\n{stop} via Mijn Burgernet.\n"
            link = html.escape(f"{stop} via Mijn Burgernet.")
        return text, _email_html([self.display, self.email_footer], link)

    @property
    def email_text(self) -> str:
        return self.email_for("")[0]

    @property
    def email_html(self) -> str:
        return self.email_for("")[1]


# --- forms: written and spoken -------------------------------------------------------------


class WrittenForm:
    def number(self, n: int) -> str:
        return str(n)

    def age(self, age: Age, estimate: bool) -> str:
        about = "ongeveer " if estimate else ""
        if age.high is not None:
            return f"{about}{self.number(age.low)} tot {self.number(age.high)} jaar"
        return f"{about}{self.number(age.low)} jaar"

    def height(self, cm: int) -> str:
        return spoken.height_written(cm)

    def time(self, hhmm: str) -> str:
        return f"{hhmm} uur"

    def plate(self, plate: str) -> str:
        return spoken.plate_written(plate)

    def phone(self, number: str) -> str:
        return number

    def text(self, text: str) -> str:
        # Written for participants too (e-mail): the abbreviations written out.
        return spoken.expand_abbreviations(text)


class SpokenForm(WrittenForm):
    def number(self, n: int) -> str:
        return spoken.number_words(n)

    def height(self, cm: int) -> str:
        return spoken.height_spoken(cm)

    def time(self, hhmm: str) -> str:
        hours, minutes = hhmm.split(":")
        return spoken.time_spoken(int(hours), int(minutes))

    def plate(self, plate: str) -> str:
        return spoken.plate_spoken(plate)

    def phone(self, number: str) -> str:
        return spoken.phone_spoken(number)

    def text(self, text: str) -> str:
        return spoken.to_spoken(text)


WRITTEN, SPOKEN = WrittenForm(), SpokenForm()


# --- the description as sentences ----------------------------------------------------------

_PERSON_NOUN = {
    IncidentType.SUSPECT: {"male": "een man", "female": "een vrouw", "unknown": "een persoon"},
    IncidentType.MISSING_PERSON: {
        "male": "een vermiste man",
        "female": "een vermiste vrouw",
        "unknown": "een vermiste persoon",
    },
    IncidentType.MISSING_CHILD: {
        "male": "een vermiste jongen",
        "female": "een vermist meisje",
        "unknown": "een vermist kind",
    },
}
_PRONOUN = {"male": "Hij", "female": "Zij", "unknown": "Deze persoon"}
_BUILD = {
    "slim": "een slank postuur",
    "petite": "een tenger postuur",
    "average": "een normaal postuur",
    "athletic": "een atletisch postuur",
    "sturdy": "een fors postuur",
    "heavy": "een zwaar postuur",
}
_BUILD_SHORT = {
    "slim": "slank",
    "petite": "tenger",
    "average": "normaal postuur",
    "athletic": "atletisch",
    "sturdy": "fors",
    "heavy": "zwaar",
}
_SKIN = {
    "light": "een lichte huidskleur",
    "tinted": "een getinte huidskleur",
    "dark": "een donkere huidskleur",
}
_SKIN_SHORT = {"light": "licht", "tinted": "getint", "dark": "donker"}
_TRANSPORT = {
    "on_foot": "te voet",
    "bicycle": "op een fiets",
    "scooter": "op een scooter",
    "motorbike": "op een motor",
    "car": "in een auto",
    "public_transport": "met het openbaar vervoer",
}
# (noun, grammatical gender: "de" or "het") for "een blauwe auto" / "een blauw voertuig".
_VEHICLE = {
    "car": ("auto", "de"),
    "van": ("bestelbus", "de"),
    "truck": ("vrachtwagen", "de"),
    "motorbike": ("motor", "de"),
    "scooter": ("scooter", "de"),
    "bicycle": ("fiets", "de"),
}
_COLOUR = {  # (inflected, uninflected)
    "white": ("witte", "wit"),
    "black": ("zwarte", "zwart"),
    "grey": ("grijze", "grijs"),
    "silver": ("zilverkleurige", "zilverkleurig"),
    "blue": ("blauwe", "blauw"),
    "red": ("rode", "rood"),
    "green": ("groene", "groen"),
    "yellow": ("gele", "geel"),
    "brown": ("bruine", "bruin"),
    "beige": ("beige", "beige"),
    "orange": ("oranje", "oranje"),
    "purple": ("paarse", "paars"),
}
_SEEN_SUBJECT = {
    IncidentType.SUSPECT: "deze persoon",
    IncidentType.MISSING_PERSON: "deze persoon",
    IncidentType.MISSING_CHILD: "dit kind",
    IncidentType.VEHICLE: "dit voertuig",
    IncidentType.OTHER: "iets",
}


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def _direction(text: str) -> str:
    return re.sub(r"^(in de )?richting( van)?\s+", "", text, flags=re.IGNORECASE)


def _direction_phrase(text: str) -> str:
    """For a full sentence: "richting station" -> "het station" ("in de richting van ...")."""
    return place_with_article(_direction(text))


def _hair(pronoun: str, hair: str, form: WrittenForm) -> str:
    words = hair.lower()
    if words == "kaal":
        return f"{pronoun} is kaal"
    suffix = "" if ("haar" in words or "kaal" in words) else " haar"
    return f"{pronoun} heeft {form.text(hair)}{suffix}"


def _person_sentences(kind: IncidentType, d: dict, form: WrittenForm) -> list[str]:
    gender = d.get("gender", "unknown")
    pronoun = _PRONOUN[gender]
    if kind is IncidentType.MISSING_CHILD and gender == "unknown":
        pronoun = "Het kind"
    noun = _PERSON_NOUN[kind][gender]
    if "age" in d:
        noun += " van " + form.age(parse_age(d["age"]), estimate=kind is IncidentType.SUSPECT)
    if "name" in d:
        noun = f"{form.text(d['name'])}, {noun}"
    sentences = [f"Wilt u uitkijken naar {noun}"]
    looks = []
    if "height_cm" in d:
        looks.append(f"is ongeveer {form.height(d['height_cm'])} lang")
    if "build" in d:
        looks.append(f"heeft {_BUILD[d['build']]}")
    if looks:
        sentences.append(f"{pronoun} " + " en ".join(looks))
    if "skin_colour" in d:
        sentences.append(f"{pronoun} heeft {_SKIN[d['skin_colour']]}")
    if "hair" in d:
        sentences.append(_hair(pronoun, d["hair"], form))
    if "features" in d:
        sentences.append(f"Opvallend: {form.text(d['features'])}")
    if "clothing" in d:
        sentences.append(f"{pronoun} draagt {form.text(with_articles(d['clothing']))}")
    if "items" in d:
        sentences.append(f"{pronoun} heeft {form.text(with_articles(d['items']))} bij zich")
    if kind is IncidentType.SUSPECT:
        if "transport" in d or "direction" in d:
            move = f"{pronoun} is"
            if "transport" in d:
                move += " " + _TRANSPORT[d["transport"]]
            move += " gevlucht"
            if "direction" in d:
                move += f" in de richting van {form.text(_direction_phrase(d['direction']))}"
            sentences.append(move)
    else:
        if d.get("medical_urgency"):
            sentences.append(f"{pronoun} heeft dringend medische hulp nodig")
        if "medical_note" in d:
            sentences.append(form.text(d["medical_note"]))
        sentences.extend(_last_seen(d, pronoun, form))
        if "transport" in d:
            sentences.append(f"{pronoun} is mogelijk {_TRANSPORT[d['transport']]} onderweg")
    return sentences


def _last_seen(d: dict, subject: str, form: WrittenForm) -> list[str]:
    """ "Hij is voor het laatst gezien om ... bij ..."; nothing when neither is known."""
    if "last_seen_place" not in d and "last_seen_time" not in d:
        return []
    seen = f"{subject} is voor het laatst gezien"
    if "last_seen_time" in d:
        seen += f" om {form.time(d['last_seen_time'])}"
    if "last_seen_place" in d:
        seen += f" bij {form.text(d['last_seen_place'])}"
    return [seen]


def _sms_last_seen(d: dict) -> list[tuple[int, str]]:
    """Where and when, as one SMS part that is dropped last (priority 0)."""
    if "last_seen_place" not in d and "last_seen_time" not in d:
        return []
    # Where before when, as in the whole message.
    seen = "laatst gezien"
    if "last_seen_place" in d:
        seen += f" bij {d['last_seen_place']}"
    if "last_seen_time" in d:
        seen += f" om {d['last_seen_time']} uur"
    return [(WHERE_PRIORITY, seen)]


def _vehicle_noun(d: dict) -> str:
    noun, article = _VEHICLE.get(d.get("vehicle_kind", ""), ("voertuig", "het"))
    if "colour" in d:
        inflected, plain = _COLOUR[d["colour"]]
        noun = f"{inflected if article == 'de' else plain} {noun}"
    return "een " + noun


def _vehicle_sentences(d: dict, form: WrittenForm) -> list[str]:
    noun = _vehicle_noun(d)
    if "make" in d:
        noun += f" van het merk {form.text(d['make'])}"
    if "model" in d:
        noun += f", type {form.text(d['model'])}"
    if "plate" in d:
        noun += f", met kenteken {form.plate(d['plate'])}"
    sentences = [f"Wilt u uitkijken naar {noun}"]
    if "features" in d:
        sentences.append(f"Opvallend: {form.text(d['features'])}")
    if "occupants" in d:
        sentences.append(f"Inzittenden: {form.text(d['occupants'])}")
    sentences.extend(_last_seen(d, "Het voertuig", form))
    if "direction" in d:
        sentences.append(
            f"Het voertuig reed in de richting van {form.text(_direction_phrase(d['direction']))}"
        )
    if "plate" in d and isinstance(form, SpokenForm):
        sentences.append(f"Ik herhaal het kenteken: {form.plate(d['plate'])}")
    return sentences


def _other_sentences(d: dict, form: WrittenForm) -> list[str]:
    sentences = [f"Wilt u uitkijken naar {form.text(with_articles(d['subject']))}"]
    if "details" in d:
        sentences.append(form.text(d["details"]))
    if "direction" in d:
        sentences.append(f"Richting: {form.text(_direction(d['direction']))}")
    return sentences


def _description_sentences(kind: IncidentType, d: dict, form: WrittenForm) -> list[str]:
    if kind is IncidentType.VEHICLE:
        return _vehicle_sentences(d, form)
    if kind is IncidentType.OTHER:
        return _other_sentences(d, form)
    return _person_sentences(kind, d, form)


def _clean_free_text(free_text: str, field: str, limit: int) -> str:
    text = spoken.clean_text(free_text or "")
    if len(text) > limit:
        raise InvalidDescription(
            f"{field} has {len(text)} characters, at most {limit}",
            f"De aanvullende tekst is te lang: maximaal {limit} tekens (nu {len(text)}).",
            field,
        )
    return text


def _check_callback_number(number: str) -> str:
    number = number.strip()
    if not re.fullmatch(r"\+?[\d][\d\s-]{2,18}\d", number):
        raise InvalidDescription(
            f"call-back number {number!r} is not a phone number",
            "Het terugbelnummer is ongeldig.",
            "callback_number",
        )
    return number


def _alert_text(kind: IncidentType, d: dict, free: str, callback: str, area: str, form: WrittenForm) -> str:
    opening = "Hier volgt een oproep van Burgernet"
    if area:
        opening += f" voor de omgeving {form.text(area)}"
    sentences = [opening, *_description_sentences(kind, d, form)]
    if free:
        sentences.append(form.text(free))
    if kind in (IncidentType.SUSPECT, IncidentType.VEHICLE):
        sentences.append("Onderneem zelf geen actie")
    sentences.append(f"Ziet u {_SEEN_SUBJECT[kind]}, bel dan gratis {form.phone(callback)}")
    return " ".join(_sentence(s) for s in sentences if s.strip())


# --- SMS -----------------------------------------------------------------------------------


def _sms_parts(kind: IncidentType, d: dict) -> tuple[str, list[tuple[int, str]]]:
    """The head ("kijk uit naar ...") and the optional parts as (priority, text); a higher
    priority number is dropped first when the message must be shortened. In the order of what
    matters most: what to look for (the head, the clothing), where and when (direction of
    flight, last seen); the call-back number is in the tail, which is never dropped."""
    parts: list[tuple[int, str]] = []
    if kind is IncidentType.VEHICLE:
        head = _vehicle_noun(d)
        if "make" in d:
            head += " " + d["make"]
        if "model" in d:
            head += " " + d["model"]
        if "plate" in d:
            head += f" {d['plate']}"
        if "features" in d:
            parts.append((3, d["features"]))
        if "occupants" in d:
            parts.append((4, f"inzittenden: {d['occupants']}"))
        parts.extend(_sms_last_seen(d))
        if "direction" in d:
            parts.append((1, f"richting {_direction(d['direction'])}"))
        return head, parts
    if kind is IncidentType.OTHER:
        head = with_articles(d["subject"])
        if "details" in d:
            parts.append((2, d["details"]))
        if "direction" in d:
            parts.append((1, f"richting {_direction(d['direction'])}"))
        return head, parts
    gender = d.get("gender", "unknown")
    head = _PERSON_NOUN[kind][gender]
    if "age" in d:
        age = parse_age(d["age"])
        # Words, not "ca. 35 jr": recipients did not understand the abbreviations.
        span = f"{age.low}-{age.high}" if age.high is not None else str(age.low)
        head += f" van {'ongeveer ' if kind is IncidentType.SUSPECT else ''}{span} jaar"
    if "name" in d:
        head = f"{d['name']}, {head}"
    if "height_cm" in d:
        parts.append((3, spoken.height_written(d["height_cm"])))
    if "build" in d:
        parts.append((5, _BUILD_SHORT[d["build"]]))
    if "skin_colour" in d:
        parts.append((5, _SKIN_SHORT[d["skin_colour"]]))
    if "hair" in d:
        hair = d["hair"]
        parts.append((3, hair if ("haar" in hair.lower() or "kaal" in hair.lower()) else f"{hair} haar"))
    if "features" in d:
        parts.append((2, d["features"]))
    if "clothing" in d:
        parts.append((1, "in " + with_articles(d["clothing"])))
    if "items" in d:
        parts.append((4, f"met {with_articles(d['items'])}"))
    if d.get("medical_urgency"):
        parts.append((2, "heeft dringend medische hulp nodig"))
    if "medical_note" in d:
        parts.append((4, d["medical_note"]))
    parts.extend(_sms_last_seen(d))
    move = []
    if "transport" in d:
        move.append(_TRANSPORT[d["transport"]])
    if "direction" in d:
        move.append(f"richting {_direction(d['direction'])}")
    if move:
        parts.append((1, " ".join(move)))
    return head, parts


def _sms_text(prefix: str, head: str, parts: list[str], free: str, tail: str, area: str = "") -> str:
    body = ", ".join([head, *parts])
    text = f"{prefix}: omgeving {area}. Kijk uit naar {body}." if area else f"{prefix}: kijk uit naar {body}."
    if free:
        text += " " + _sentence(free)
    # No abbreviation a recipient must decode, also not in what the centralist typed.
    return to_gsm7(spoken.expand_abbreviations(f"{text} {tail}"))


def _fits(text: str, max_segments: int) -> bool:
    return sms_length(text).segments <= max_segments


# The centralist's free text is dropped after what they carry and how they look in general
# (build, skin: 4 and 5), before height and hair (3): it often says what matters ("mogelijk
# gewapend").
FREE_TEXT_PRIORITY = 3.5
# Where and when it was last seen is the last detail to go (the area itself is never dropped).
WHERE_PRIORITY = 0


def shorten_sms(
    head: str,
    parts: list[tuple[int, str]],
    free: str,
    tail: str,
    prefix: str = "Burgernet",
    max_segments: int = MAX_SMS_SEGMENTS,
    area: str = "",
) -> str:
    """Deterministic shortening: the full text if it fits `max_segments` concatenated
    segments; else drop the optional parts and the free text, highest priority number first
    (the later part first on a tie), until it fits, then take back what fits again. The head
    (what to look for), the area and the tail (the call-back number, the STOP footer) are
    never dropped;
    if even they do not fit, the full text is sent in more segments: complete information
    beats a mutilated message."""
    optional: list[tuple[float, str]] = [*parts, *([(FREE_TEXT_PRIORITY, free)] if free else [])]
    free_index = len(parts) if free else -1

    def text(kept: list[int]) -> str:
        return _sms_text(
            prefix,
            head,
            [optional[i][1] for i in kept if i != free_index],
            free if free_index in kept else "",
            tail,
            area,
        )

    kept = list(range(len(optional)))
    full = text(kept)
    if _fits(full, max_segments):
        return full
    dropped = []
    for index in sorted(kept, key=lambda i: (-optional[i][0], -i)):
        kept.remove(index)
        dropped.append(index)
        if _fits(text(kept), max_segments):
            break
    else:
        return full
    # What was dropped on the way and fits again in the room the last drop made (the long free
    # text went, a short build fits) comes back, most important first.
    for index in reversed(dropped[:-1]):
        if _fits(text(sorted([*kept, index])), max_segments):
            kept = sorted([*kept, index])
    return text(kept)


# --- e-mail --------------------------------------------------------------------------------

_EMAIL_FOOTER = (
    "{sender} U ontvangt het omdat u deelnemer bent van Burgernet in dit gebied. "
    "Het terugbelnummer van Burgernet is {callback} (gratis). Heeft u spoed, bel dan 112."
)


def _email_html(paragraphs: list[str], last_html: str) -> str:
    body = "\n".join([*(f"<p>{html.escape(p)}</p>" for p in paragraphs), f"<p>{last_html}</p>"])
    return (
        '<!DOCTYPE html>\n<html lang="nl"><head><meta charset="utf-8"><title>Burgernet</title>'
        "</head>\n<body>\n" + body + "\n</body></html>\n"
    )


# --- public API ----------------------------------------------------------------------------


def compose_alert(
    incident_type: str,
    description: dict,
    free_text: str,
    callback_number: str,
    area: str = "",
    sender: Sender = NO_SENDER,
) -> AlertMessage:
    """The alert for every channel, from a structured description and optional free text.

    `area` (optional) names the neighbourhood, e.g. "Delft, rond de Markt"; `sender` the
    control room and the STOP number the SMS and e-mail name. Raises
    InvalidDescription / UnspeakableText / UnknownIncidentType with a Dutch `user_message`.
    """
    kind = incident_type_of(incident_type)
    d = validate_description(kind, description)
    free = _clean_free_text(free_text, "free_text", FREE_TEXT_MAX)
    area = _clean_free_text(area, "area", 80)
    callback = _check_callback_number(callback_number)

    voice = _alert_text(kind, d, free, callback, area, SPOKEN)
    display = _alert_text(kind, d, free, callback, area, WRITTEN)

    head, parts = _sms_parts(kind, d)
    tail = f"Gezien? Bel gratis {callback}. {sender.sms_stop}"
    sms = shorten_sms(head, parts, free, tail, prefix=sender.sms_prefix, area=area)
    length = sms_length(sms)

    subject_noun = _description_sentences(kind, d, WRITTEN)[0][len("Wilt u uitkijken naar ") :]
    subject = f"Burgernet-oproep: kijk uit naar {subject_noun}"
    if len(subject) > 90:
        subject = subject[:87].rstrip() + "..."
    return AlertMessage(
        voice=voice,
        display=display,
        sms=sms,
        sms_segments=length.segments,
        sms_encoding=length.encoding,
        email_subject=subject,
        email_footer=_EMAIL_FOOTER.format(sender=sender.email_sender, callback=callback),
    )


_OUTCOME_SENTENCE: dict[Outcome, dict[IncidentType | None, str]] = {
    Outcome.ARRESTED: {
        IncidentType.SUSPECT: "De persoon naar wie wij u vroegen uit te kijken, is aangehouden",
        IncidentType.VEHICLE: "Naar aanleiding van de oproep over het voertuig is een verdachte aangehouden",
        None: "Naar aanleiding van de oproep is een verdachte aangehouden",
    },
    Outcome.FOUND: {
        IncidentType.MISSING_PERSON: "De vermiste persoon naar wie wij u vroegen uit te kijken, is gevonden",
        IncidentType.MISSING_CHILD: "Het vermiste kind naar wie wij u vroegen uit te kijken, is gevonden",
        None: "De persoon naar wie wij u vroegen uit te kijken, is gevonden",
    },
    Outcome.VEHICLE_FOUND: {
        None: "Het voertuig waarnaar wij u vroegen uit te kijken, is gevonden",
    },
    Outcome.NO_RESULT: {
        None: "De actie is beëindigd zonder resultaat. U hoeft niet langer uit te kijken",
    },
    Outcome.OTHER: {
        None: "De actie is beëindigd. U hoeft niet langer uit te kijken",
    },
}
_OUTCOME_SMS: dict[Outcome, str] = {
    Outcome.ARRESTED: "er is een verdachte aangehouden",
    Outcome.FOUND: "de persoon is gevonden",
    Outcome.VEHICLE_FOUND: "het voertuig is gevonden",
    Outcome.NO_RESULT: "de actie is beëindigd, u hoeft niet meer uit te kijken",
    Outcome.OTHER: "de actie is beëindigd, u hoeft niet meer uit te kijken",
}
_OUTCOME_SUBJECT: dict[Outcome, str] = {
    Outcome.ARRESTED: "verdachte aangehouden",
    Outcome.FOUND: "persoon gevonden",
    Outcome.VEHICLE_FOUND: "voertuig gevonden",
    Outcome.NO_RESULT: "actie beëindigd",
    Outcome.OTHER: "actie beëindigd",
}
_THANKS = "Hartelijk dank voor uw hulp"


def compose_outcome(
    outcome: str, incident_type: str, callback_number: str, note: str = "", sender: Sender = NO_SENDER
) -> AlertMessage:
    """The outcome message (afloopbericht) for everyone who was reached, with thanks."""
    try:
        result = Outcome(outcome)
    except ValueError:
        raise UnknownOutcome(
            f"unknown outcome {outcome!r}; expected one of " + ", ".join(o.value for o in Outcome),
            "Onbekende afloop van de actie.",
        ) from None
    kind = incident_type_of(incident_type)
    callback = _check_callback_number(callback_number)
    note = _clean_free_text(note, "note", OUTCOME_NOTE_MAX)
    table = _OUTCOME_SENTENCE[result]
    main = table.get(kind, table[None])
    if kind is IncidentType.MISSING_CHILD and result is Outcome.FOUND:
        sms_main = "het kind is gevonden"
    else:
        sms_main = _OUTCOME_SMS[result]

    def text(form: WrittenForm, lead: str) -> str:
        sentences = [lead, main]
        if note:
            sentences.append(form.text(note))
        if result in (Outcome.NO_RESULT, Outcome.OTHER):
            sentences.append(
                f"Heeft u later nog informatie, bel dan de politie op {form.phone(POLICE_INFO_NUMBER)}"
            )
        sentences.append(_THANKS)
        return " ".join(_sentence(s) for s in sentences)

    voice = text(SPOKEN, "Hier volgt een bericht van Burgernet")
    display = text(WRITTEN, "Bericht van Burgernet")
    tail = f"Bedankt voor uw hulp! {sender.sms_stop}"
    sms_full = to_gsm7(
        f"{sender.sms_prefix}: {sms_main}. "
        + (_sentence(spoken.expand_abbreviations(note)) + " " if note else "")
        + tail
    )
    sms = (
        sms_full
        if sms_length(sms_full).segments <= MAX_SMS_SEGMENTS
        else to_gsm7(f"{sender.sms_prefix}: {sms_main}. {tail}")
    )
    length = sms_length(sms)
    return AlertMessage(
        voice=voice,
        display=display,
        sms=sms,
        sms_segments=length.segments,
        sms_encoding=length.encoding,
        email_subject="Burgernet: "
        + ("kind gevonden" if sms_main == "het kind is gevonden" else _OUTCOME_SUBJECT[result]),
        email_footer=_EMAIL_FOOTER.format(sender=sender.email_sender, callback=callback),
    )


def _changed_sentences(kind: IncidentType, before: dict, after: dict, form: WrittenForm) -> list[str]:
    """The sentences of the new description that the old one did not say, in order."""
    said = set(_description_sentences(kind, before, form))
    return [s for s in _description_sentences(kind, after, form) if s not in said]


def compose_update(
    incident_type: str,
    description_before: dict,
    description: dict,
    free_text: str,
    callback_number: str,
    area: str = "",
    sender: Sender = NO_SENDER,
    free_text_before: str = "",
) -> AlertMessage:
    """The update (vervolgbericht) for those the alert already reached: only what is new in
    the description, and the free text when it changed, under a line that says it adds to
    the alert.

    Raises NothingChanged when the description says nothing new and there is no free text;
    InvalidDescription / UnspeakableText like compose_alert."""
    kind = incident_type_of(incident_type)
    old = validate_description(kind, description_before or {}) if description_before else {}
    new = validate_description(kind, description)
    free = _clean_free_text(free_text, "free_text", FREE_TEXT_MAX)
    if free == spoken.clean_text(free_text_before or ""):
        free = ""
    area = _clean_free_text(area, "area", 80)
    callback = _check_callback_number(callback_number)
    if not _changed_sentences(kind, old, new, WRITTEN) and not free:
        raise NothingChanged(
            "the update says nothing new",
            "Het vervolgbericht zegt niets nieuws: wijzig het signalement of vul een tekst in.",
            "free_text",
        )

    def text(form: WrittenForm) -> str:
        opening = "Hier volgt een aanvulling van Burgernet op de eerdere oproep"
        if area:
            opening += f" voor de omgeving {form.text(area)}"
        sentences = [opening, *_changed_sentences(kind, old, new, form)]
        if free:
            sentences.append(form.text(free))
        sentences.append(f"Ziet u {_SEEN_SUBJECT[kind]}, bel dan gratis {form.phone(callback)}")
        return " ".join(_sentence(s) for s in sentences if s.strip())

    voice, display = text(SPOKEN), text(WRITTEN)
    changed = _changed_sentences(kind, old, new, WRITTEN)
    tail = f"Gezien? Bel gratis {callback}. {sender.sms_stop}"
    where = f" (omgeving {area})" if area else ""
    lines = [_sentence(s) for s in changed] + ([_sentence(free)] if free else [])
    sms = ""
    while lines:
        sms = to_gsm7(
            spoken.expand_abbreviations(
                f"{sender.sms_prefix}: aanvulling op de oproep{where}. {' '.join(lines)} {tail}"
            )
        )
        if _fits(sms, MAX_SMS_SEGMENTS) or len(lines) == 1:
            break
        lines.pop()
    length = sms_length(sms)
    return AlertMessage(
        voice=voice,
        display=display,
        sms=sms,
        sms_segments=length.segments,
        sms_encoding=length.encoding,
        email_subject="Burgernet: aanvulling op de oproep" + (f" voor {area}" if area else ""),
        email_footer=_EMAIL_FOOTER.format(sender=sender.email_sender, callback=callback),
    )


_TYPED_FIELDS: tuple[str, ...] = (
    *("name", "hair", "features", "clothing", "items", "medical_note", "last_seen_place"),
    *("make", "model", "occupants", "direction", "subject", "details"),
)


def spoken_readings(incident_type: str, description: dict[str, Any], free_text: str) -> list[dict[str, str]]:
    """What the voice will make of each typed text, where it differs from what was typed:
    [{"field": "free_text", "written": "kenteken gh 123 j", "spoken": "kenteken gee haa, ..."}].
    The console shows these so the centralist sees a wrong guess (a date read as a range, a
    word read as a plate) before the wave starts."""
    kind = incident_type_of(incident_type)
    d = validate_description(kind, description)
    typed = [(name, str(d[name])) for name in _TYPED_FIELDS if name in d]
    free = _clean_free_text(free_text, "free_text", FREE_TEXT_MAX)
    if free:
        typed.append(("free_text", free))
    readings = []
    for name, written in typed:
        said = spoken.to_spoken(written)
        if said != written:
            readings.append({"field": name, "written": written, "spoken": said})
    return readings


def describe(incident_type: str, description: dict[str, Any]) -> str:
    """A short written label for lists and menus, e.g. "man van ongeveer 25 jaar" or
    "blauwe auto 12-ABC-3"."""
    kind = incident_type_of(incident_type)
    head, _ = _sms_parts(kind, validate_description(kind, description))
    return head.removeprefix("een ")
