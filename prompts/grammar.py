"""Dutch articles for the free-text fields of a description, so every combination of fields
reads as a correct sentence: "Hij draagt zwarte jas" becomes "Hij draagt een zwarte jas".

Pure functions with a deliberately small grammar: a field is a list of noun phrases
separated by commas and "en"; a phrase that starts without a determiner and whose head noun
is singular and countable gets "een". Plurals ("witte sneakers"), mass nouns ("donkere
kleding") and lone adjectives ("rode en blauwe jas") are left alone.
"""

from __future__ import annotations

import re

_DETERMINERS = {
    "een",
    "de",
    "het",
    "zijn",
    "haar",
    "hun",
    "geen",
    "deze",
    "die",
    "dit",
    "dat",
    "mogelijk",
    "waarschijnlijk",
    "vermoedelijk",
    "twee",
    "drie",
    "vier",
    "vijf",
    "veel",
    "wat",
    "enkele",
    "meerdere",
    "allemaal",
    "alleen",
    "met",
    "zonder",
    "onder",
    "op",
    "in",
    "zo'n",
    "nog",
    "ook",
    "eventueel",
    "ongeveer",
}
_PREPOSITIONS = {"met", "zonder", "van", "uit", "op", "in", "onder", "over", "aan", "bij", "tot"}
_MASS_ENDINGS = ("kleding", "kleren", "haar", "make-up", "textiel", "leer", "geld", "sieraden")
_PLURAL_WORDS = {"jeans", "shorts", "kleren", "gympen", "gympies", "sokken", "schoenen"}
# Plural endings; "-jes" is a plural diminutive (laarsjes, sokjes, schoentjes).
_PLURAL_ENDINGS = ("ers", "ies", "ys", "'s", "jes")
# Singular nouns that look plural or like an adjective by their ending.
_SINGULAR_WORDS = {"blouse", "hoodie", "cape", "beanie", "onesie", "deken", "keten", "teen", "ketting"}


def _head_noun(phrase: str) -> str:
    words = phrase.split()
    for index, word in enumerate(words):
        if index and word.lower() in _PREPOSITIONS:
            words = words[:index]
            break
    return re.sub(r"[^\w'-]", "", words[-1].lower()) if words else ""


def _is_lone_adjective(phrase: str) -> bool:
    """ "rode" or "een rode": an adjective that shares the noun of the next phrase."""
    words = phrase.lower().split()
    if len(words) == 2 and words[0] in _DETERMINERS:
        words = words[1:]
    word = words[0] if len(words) == 1 else ""
    # A diminutive ("petje", "jasje", "truitje") is a noun, not an adjective like "rode";
    # "oranje" is the colour.
    diminutive = word.endswith("je") and word != "oranje"
    return word.endswith("e") and not diminutive and word not in _SINGULAR_WORDS


def _needs_article(phrase: str) -> bool:
    words = phrase.split()
    if not words:
        return False
    first = words[0].lower()
    if first in _DETERMINERS or first[:1].isdigit():
        return False
    head = _head_noun(phrase)
    if len(words) == 1 and words[0][:1].isupper() and "-" not in words[0]:
        return False  # a name: "Sinterklaas", "Anna"
    if not head or head in _SINGULAR_WORDS:
        return bool(head)
    if head in _PLURAL_WORDS or head.endswith(_MASS_ENDINGS) or head.endswith(_PLURAL_ENDINGS):
        return False
    return not (head.endswith("en") and len(head) > 4)  # schoenen, laarzen, handschoenen


def with_articles(text: str) -> str:
    """ "zwarte jas en witte sneakers" -> "een zwarte jas en witte sneakers";
    "een blauwe jas, spijkerbroek" -> "een blauwe jas, een spijkerbroek";
    "rode en blauwe jas" -> "een rode en blauwe jas" (the adjectives share the noun)."""
    parts = re.split(r"(,\s*|\s+en\s+|\s+of\s+)", text.strip())
    phrases = parts[0::2]
    first_of_group: int | None = None
    for index, phrase in enumerate(phrases):
        if _is_lone_adjective(phrase):
            first_of_group = index if first_of_group is None else first_of_group
            continue
        target = index if first_of_group is None else first_of_group
        if _needs_article(phrase) and _needs_article(phrases[target]):
            phrases[target] = "een " + phrases[target]
        first_of_group = None
    parts[0::2] = phrases
    return "".join(parts)


# Bare nouns a direction is often typed as ("richting station"), with their article.
_PLACE_ARTICLE = {
    "station": "het",
    "centrum": "het",
    "park": "het",
    "bos": "het",
    "strand": "het",
    "winkelcentrum": "het",
    "ziekenhuis": "het",
    "kanaal": "het",
    "spoor": "het",
    "dorp": "het",
    "industrieterrein": "het",
    "busstation": "het",
    "binnenstad": "de",
    "stad": "de",
    "markt": "de",
    "haven": "de",
    "snelweg": "de",
    "rivier": "de",
    "dijk": "de",
    "wijk": "de",
    "polder": "de",
    "school": "de",
    "kerk": "de",
    "supermarkt": "de",
    "snackbar": "de",
}


def place_with_article(place: str) -> str:
    """ "station" -> "het station"; names and phrases with an article stay as they are."""
    article = _PLACE_ARTICLE.get(place.strip().lower()) if place.strip().islower() else None
    return f"{article} {place.strip()}" if article else place
