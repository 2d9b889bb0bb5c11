"""Dutch spoken-form normalisation and the check for text a voice cannot say.

Pure functions: numbers, ages, heights and times become words, phone numbers are read digit by
digit, licence plates are spelled group by group, common abbreviations are expanded. Text with
URLs, e-mail addresses, emoji, markup or non-Latin script is refused with `UnspeakableText`;
control characters, odd quotes and repeated punctuation are cleaned silently.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable

from prompts.errors import UnspeakableText

_UNITS = [
    "nul",
    "een",
    "twee",
    "drie",
    "vier",
    "vijf",
    "zes",
    "zeven",
    "acht",
    "negen",
    "tien",
    "elf",
    "twaalf",
    "dertien",
    "veertien",
    "vijftien",
    "zestien",
    "zeventien",
    "achttien",
    "negentien",
]
_TENS = {
    2: "twintig",
    3: "dertig",
    4: "veertig",
    5: "vijftig",
    6: "zestig",
    7: "zeventig",
    8: "tachtig",
    9: "negentig",
}

# Dutch letter names, so that "GH" is heard as "gee haa" and not as a word.
LETTER_NAMES = {
    "A": "aa",
    "B": "bee",
    "C": "cee",
    "D": "dee",
    "E": "ee",
    "F": "ef",
    "G": "gee",
    "H": "haa",
    "I": "ie",
    "J": "jee",
    "K": "kaa",
    "L": "el",
    "M": "em",
    "N": "en",
    "O": "oo",
    "P": "pee",
    "Q": "kuu",
    "R": "er",
    "S": "es",
    "T": "tee",
    "U": "uu",
    "V": "vee",
    "W": "wee",
    "X": "iks",
    "Y": "ij",
    "Z": "zet",
}


def _compound(n: int) -> str:
    """Number words as used inside compounds ("een" without accents)."""
    if n < 0:
        return "min " + _compound(-n)
    if n < 20:
        return _UNITS[n]
    if n < 100:
        tens, unit = divmod(n, 10)
        if unit == 0:
            return _TENS[tens]
        unit_word = _UNITS[unit]
        joiner = "ën" if unit_word.endswith("e") else "en"
        return f"{unit_word}{joiner}{_TENS[tens]}"
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        head = "" if hundreds == 1 else _compound(hundreds)
        return f"{head}honderd" + (_compound(rest) if rest else "")
    if 1100 <= n < 2000 and n % 1000 >= 100:
        # Dutch says "negentienhonderdtweeënvijftig" and "vijftienhonderd", not "duizend ...".
        hundreds, rest = divmod(n, 100)
        return f"{_compound(hundreds)}honderd" + (_compound(rest) if rest else "")
    if n < 1_000_000:
        thousands, rest = divmod(n, 1000)
        head = "" if thousands == 1 else _compound(thousands)
        return f"{head}duizend" + (" " + _compound(rest) if rest else "")
    if n < 1_000_000_000:
        millions, rest = divmod(n, 1_000_000)
        return f"{number_words(millions)} miljoen" + (" " + _compound(rest) if rest else "")
    raise ValueError(f"number too large to speak: {n}")


def number_words(n: int) -> str:
    """25 -> "vijfentwintig"; 1 -> "één" (stressed, so it is not heard as the article)."""
    if n == 1:
        return "één"
    return _compound(n)


def ordinal_words(n: int) -> str:
    """1 -> "eerste", 3 -> "derde", 8 -> "achtste", 20 -> "twintigste", 101 -> "honderdeerste"."""
    rest = n % 100
    if rest == 0 or rest >= 20:
        return _compound(n) + "ste"
    head = _compound(n - rest) if n - rest else ""
    special = {1: "eerste", 3: "derde", 8: "achtste"}
    return head + special.get(rest, _UNITS[rest] + "de")


def decimal_words(text: str) -> str:
    """ "1,5" -> "één komma vijf"; "2,25" -> "twee komma vijfentwintig"; "0,05" -> "nul komma nul vijf"."""
    whole, _, fraction = text.replace(".", ",").partition(",")
    spoken = number_words(int(whole))
    if fraction:
        if len(fraction) <= 2 and not fraction.startswith("0"):
            spoken += " komma " + number_words(int(fraction))
        else:
            spoken += " komma " + " ".join(digit_word(d) for d in fraction)
    return spoken


def digit_word(digit: str) -> str:
    return number_words(int(digit))


def digits_spoken(number: str) -> str:
    """A phone number digit by digit, groups separated by a pause: "0800-0011" ->
    "nul acht nul nul, nul nul één één"."""
    groups = [g for g in re.split(r"[\s\-/.]+", number.strip()) if g]
    spoken = []
    for group in groups:
        words = []
        for char in group:
            if char.isdigit():
                words.append(digit_word(char))
            elif char == "+":
                words.append("plus")
        if words:
            spoken.append(" ".join(words))
    return ", ".join(spoken)


def phone_spoken(number: str) -> str:
    """A phone number as a Dutch caller dials it: "+318000011" -> "nul acht nul nul nul nul één
    één" (a Dutch number in international form is said nationally), otherwise digits_spoken."""
    compact = re.sub(r"[\s\-/.]", "", number.strip())
    if compact.startswith("+31"):
        return digits_spoken("0" + compact[3:])
    return digits_spoken(number)


def time_spoken(hours: int, minutes: int) -> str:
    """14:35 -> "veertien uur vijfendertig"; 9:00 -> "negen uur"."""
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        raise ValueError(f"not a time of day: {hours}:{minutes:02d}")
    spoken = f"{number_words(hours)} uur"
    if minutes:
        spoken += f" {number_words(minutes)}"
    return spoken


def height_spoken(centimetres: int) -> str:
    """180 -> "één meter tachtig"; 95 -> "vijfennegentig centimeter"."""
    metres, rest = divmod(centimetres, 100)
    if metres == 0:
        return f"{number_words(rest)} centimeter"
    spoken = f"{number_words(metres)} meter"
    if rest:
        spoken += f" {number_words(rest)}"
    return spoken


def height_written(centimetres: int) -> str:
    """180 -> "1,80 m"; 95 -> "95 cm"."""
    if centimetres < 100:
        return f"{centimetres} cm"
    return f"{centimetres // 100},{centimetres % 100:02d} m"


# --- licence plates ------------------------------------------------------------------------


def plate_groups(plate: str) -> list[str]:
    """Split a licence plate into its groups: "12-abc-3" or "12ABC3" -> ["12", "ABC", "3"].

    Without dashes, a group ends where letters change to digits or back; a run of four
    letters or four digits (sidecodes XX-XX-99 and 99-99-XX) is split in two.
    """
    cleaned = re.sub(r"\s+", "", plate.upper())
    if "-" in cleaned:
        groups = [g for g in cleaned.split("-") if g]
    else:
        groups = re.findall(r"[A-Z]+|[0-9]+", cleaned)
        split: list[str] = []
        for group in groups:
            if len(group) == 4:
                split.extend([group[:2], group[2:]])
            else:
                split.append(group)
        groups = split
    if not groups or not all(re.fullmatch(r"[A-Z0-9]+", g) for g in groups):
        raise ValueError(f"not a licence plate: {plate!r}")
    return groups


def plate_written(plate: str) -> str:
    return "-".join(plate_groups(plate))


def plate_spoken(plate: str) -> str:
    """ "GH-123-J" -> "gee haa, één twee drie, jee": character by character, a pause per group."""
    return ", ".join(
        " ".join(LETTER_NAMES[c] if c.isalpha() else digit_word(c) for c in group)
        for group in plate_groups(plate)
    )


# The Dutch sidecodes (X = letter, 9 = digit) of the plates since 1951.
SIDECODES = (
    "XX-99-99",
    "99-99-XX",
    "99-XX-99",
    "XX-99-XX",
    "XX-XX-99",
    "99-XX-XX",
    "99-XXX-9",
    "9-XXX-99",
    "XX-999-X",
    "X-999-XX",
    "XXX-99-X",
    "X-99-XXX",
    "9-XX-999",
    "999-XX-9",
)
_SIDECODE_SET = frozenset(SIDECODES)


def _shape(group: str) -> str:
    return "".join("X" if c.isalpha() else "9" for c in group)


def _runs(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]+|[0-9]+", text)


# A sidecode written without dashes, as its runs of letters and digits ("XX-9999" for
# "XX-99-99"), mapped to the group lengths of the sidecode.
_JOINED_SIDECODES: dict[str, list[int]] = {}
for _code in SIDECODES:
    _merged = "-".join(_shape(run) for run in _runs(_code.replace("X", "A").replace("-", "")))
    _JOINED_SIDECODES[_merged] = [len(g) for g in _code.split("-")]


def sidecode_groups(candidate: str) -> list[str] | None:
    """The plate's groups when `candidate` fits a Dutch sidecode, in any case, with dashes,
    spaces or nothing between the groups: "gh 123 j" -> ["GH", "123", "J"]; else None."""
    text = candidate.strip().upper()
    separated = [g for g in re.split(r"[-\s]+", text) if g]
    if len(separated) == 3 and all(g.isalnum() and g.isascii() for g in separated):
        return separated if "-".join(_shape(g) for g in separated) in _SIDECODE_SET else None
    if len(separated) != 1 or not (text.isalnum() and text.isascii()) or len(text) != 6:
        return None
    lengths = _JOINED_SIDECODES.get("-".join(_shape(run) for run in _runs(text)))
    if lengths is None:
        return None
    groups, at = [], 0
    for length in lengths:
        groups.append(text[at : at + length])
        at += length
    return groups


def looks_like_dutch_plate(candidate: str) -> bool:
    return sidecode_groups(candidate) is not None


# --- cleaning and the check for unspeakable text --------------------------------------------

_URL = re.compile(
    r"(https?://|ftp://|www\.)\S*|\b[\w-]+(\.[\w-]+)*\.(nl|com|org|net|eu|be|de|info|io)\b(/\S*)?",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(\.[\w-]+)+\b")
_MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>|&[a-zA-Z]+;|&#\d+;|\[[^\]]*\]\([^)]*\)")
_QUOTES = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "–": "-",
        "—": "-",
        "…": "...",
        "\u00a0": " ",
    }
)


def _is_emoji_or_symbol(char: str) -> bool:
    category = unicodedata.category(char)
    return category in ("So", "Cs", "Co") or 0x1F000 <= ord(char) <= 0x1FAFF or ord(char) in (0xFE0F, 0x200D)


def _is_foreign_letter(char: str) -> bool:
    if not char.isalpha():
        return False
    try:
        return not unicodedata.name(char).startswith("LATIN")
    except ValueError:
        return True


def clean_text(text: str) -> str:
    """Clean what can be cleaned without changing meaning; refuse what a voice cannot say.

    Cleaned silently: control and zero-width characters, typographic quotes and dashes,
    markdown emphasis, runs of whitespace and repeated punctuation ("!!!" -> "!").
    Refused (UnspeakableText): URLs, e-mail addresses, emoji and pictographs, HTML/XML markup
    or markdown links, letters outside the Latin script.
    """
    text = unicodedata.normalize("NFC", text).translate(_QUOTES)
    problems: list[str] = []
    dutch: list[str] = []
    if match := _EMAIL.search(text):
        problems.append(f"e-mail address {match.group(0)!r}")
        dutch.append(f"een e-mailadres ({match.group(0)})")
        text_wo_email = _EMAIL.sub(" ", text)
    else:
        text_wo_email = text
    if match := _URL.search(text_wo_email):
        problems.append(f"web address {match.group(0)!r}")
        dutch.append(f"een internetadres ({match.group(0)})")
    if match := _MARKUP.search(text):
        problems.append(f"markup {match.group(0)!r}")
        dutch.append(f"opmaakcode ({match.group(0)})")
    emoji = [c for c in text if _is_emoji_or_symbol(c)]
    if emoji:
        problems.append(f"emoji or symbols {''.join(emoji)!r}")
        dutch.append("emoji of symbolen")
    foreign = [c for c in text if _is_foreign_letter(c)]
    if foreign:
        problems.append(f"letters outside the Latin script {''.join(foreign[:10])!r}")
        dutch.append("letters uit een ander schrift")
    if problems:
        raise UnspeakableText(
            "text cannot be spoken: " + "; ".join(problems),
            "De tekst bevat " + _dutch_list(dutch) + ". Dat kan niet worden voorgelezen; "
            "haal het weg of schrijf het in gewone woorden uit.",
            problems,
        )
    # Control characters (including tabs and newlines) become spaces; zero-width ones vanish.
    text = "".join(
        " " if unicodedata.category(c) == "Cc" else ("" if unicodedata.category(c) == "Cf" else c)
        for c in text
    )
    text = re.sub(r"(\*\*|__|\*|`|#+\s)", "", text)
    text = re.sub(r"([!?.,;:])\1+", lambda m: "..." if m.group(1) == "." else m.group(1), text)
    text = re.sub(r"\s+", " ", text).strip()
    return text


def _dutch_list(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " en " + items[-1]


# --- abbreviations -------------------------------------------------------------------------

# The common Dutch abbreviations, written out for readers (SMS, e-mail) and listeners alike:
# (written form, expansion, also recognised without full stops). A recipient should never
# have to decode one; the police named exactly this when the real SMS service stopped.
ABBREVIATIONS: tuple[tuple[str, str, bool], ...] = (
    ("t.w.v.", "ter waarde van", True),
    ("i.p.v.", "in plaats van", True),
    ("o.a.", "onder andere", True),
    ("z.s.m.", "zo snel mogelijk", True),
    ("m.b.t.", "met betrekking tot", True),
    ("i.v.m.", "in verband met", True),
    ("t.h.v.", "ter hoogte van", True),
    ("t.o.v.", "ten opzichte van", True),
    ("m.u.v.", "met uitzondering van", True),
    ("n.a.v.", "naar aanleiding van", True),
    ("i.c.m.", "in combinatie met", True),
    ("i.o.m.", "in overleg met", True),
    ("d.w.z.", "dat wil zeggen", True),
    ("o.i.d.", "of iets dergelijks", True),
    ("m.n.", "met name", False),
    ("e.d.", "en dergelijke", False),
    ("a.s.", "aanstaande", False),
    ("n.b.", "let op", True),
    ("jl.", "jongstleden", False),
    ("enz.", "enzovoort", True),
    ("etc.", "enzovoort", True),
    ("ca.", "ongeveer", True),
    ("ong.", "ongeveer", False),
    ("bijv.", "bijvoorbeeld", True),
    ("evt.", "eventueel", True),
    ("incl.", "inclusief", True),
    ("excl.", "exclusief", True),
    ("nr.", "nummer", True),
    ("str.", "straat", False),
    ("tel.", "telefoon", False),
    ("jr.", "jaar", True),
    ("jrs.", "jaar", True),
    ("mnd.", "maanden", True),
    ("lft.", "leeftijd", True),
    ("vlgs.", "volgens", True),
    ("verm.", "vermoedelijk", False),
    ("zgn.", "zogenaamde", True),
    ("dhr.", "de heer", True),
    ("mevr.", "mevrouw", True),
    ("mw.", "mevrouw", False),
    ("pers.", "personen", False),
    ("max.", "maximaal", False),
    ("t/m", "tot en met", False),
    ("a/d", "aan de", False),
    ("s.v.p.", "alstublieft", True),
    ("li.", "linker", False),
    ("re.", "rechter", False),
)


_STOP_REQUIRED = frozenset({"li.", "re."})


def _abbreviation_pattern(written: str, dotless: bool) -> str:
    letters = [part for part in written.rstrip(".").split(".")]
    if "/" in written:
        return rf"(?<![\w/]){re.escape(written)}(?![\w/])"
    # The last full stop may be missing ("t.w.v 500"); inner ones may not. Without it "li" and
    # "re" are names and words ("Li Wei"), so those need it.
    last = r"\." if written in _STOP_REQUIRED else r"(?:\.|(?!\w))"
    dotted = r"\.".join(re.escape(p) for p in letters) + (last if written.endswith(".") else "")
    alternatives = [dotted]
    if dotless and len(letters) >= 1:
        alternatives.append("".join(letters) + r"(?![\w.])")
    return r"(?<![\w.])(?:" + "|".join(alternatives) + ")"


# Only these may end a sentence ("... een tas enz. Hij rende"); after the others a capital is
# a name ("dhr. Jansen", "t.h.v. Albert Heijn") and the full stop is dropped with the word.
_MAY_END_SENTENCE = {"enz.", "etc.", "e.d.", "o.i.d.", "jr.", "jrs.", "mnd.", "jl.", "a.s.", "str.", "s.v.p."}
_ABBREVIATION_PATTERNS = [
    (
        re.compile(_abbreviation_pattern(w, d), re.IGNORECASE),
        expansion,
        w in _MAY_END_SENTENCE,
    )
    for w, expansion, d in ABBREVIATIONS
]
# Street names shortened inside the word: "Kerkstr. 12" -> "Kerkstraat 12".
_STREET_SUFFIX = re.compile(r"(?<=[a-z]{3})str(?:\.|\b)")
_EXTRA_WRITTEN = [
    (re.compile(r"\+/-|\+-|±"), "ongeveer"),
    (re.compile(r"\bcirca\b", re.IGNORECASE), "ongeveer"),
    (re.compile(r"(?<![\w.])[Bb]v\.(?!\w)"), "bijvoorbeeld"),  # not "B.V." (a company)
    (re.compile(r"(?<=\d)\s*min\.?(?!\w)"), " minuten"),
]
# The sides of a vehicle, before the table reads "li" as "linker": "li-voor" -> "linksvoor".
_SIDES = re.compile(r"(?<![\w-])(li|re)-(voor|achter)(?![\w-])", re.IGNORECASE)


def _side(match: re.Match) -> str:
    return ("links" if match.group(1).lower() == "li" else "rechts") + match.group(2).lower()


def _expand(match: re.Match, replacement: str, may_end: bool = True) -> str:
    """An abbreviation's full stop also ends the sentence when the text ends there or a
    capital follows (and the abbreviation `may_end` a sentence); keep that full stop in the
    expansion. A capital stays a capital."""
    written = match.group(0)
    # "Zsm" and "Z.s.m." start a sentence; "ZSM" only at the very start of the text.
    if written[:1].isupper() and (not written.isupper() or match.start() == 0):
        replacement = replacement[0].upper() + replacement[1:]
    if not match.group(0).endswith("."):
        return replacement
    rest = match.string[match.end() :].lstrip()
    if not rest:
        return replacement + "."
    return replacement + "." if may_end and rest[0].isupper() else replacement


def expand_abbreviations(text: str) -> str:
    """Write out the common Dutch abbreviations: "ca. 35 jr, t.w.v. 500 euro" ->
    "ongeveer 35 jaar, ter waarde van 500 euro". For written messages (SMS, e-mail) and as
    a step of the spoken form."""
    text = _STREET_SUFFIX.sub(lambda m: _expand(m, "straat"), text)
    text = _SIDES.sub(_side, text)
    for pattern, replacement, may_end in _ABBREVIATION_PATTERNS:
        text = pattern.sub(functools.partial(_expand, replacement=replacement, may_end=may_end), text)
    for pattern, replacement in _EXTRA_WRITTEN:
        text = pattern.sub(functools.partial(_expand, replacement=replacement), text)
    return re.sub(r" {2,}", " ", text)


def leftover_abbreviations(text: str) -> list[str]:
    """The abbreviations from the table still present in `text` (for tests and checks)."""
    found = [m.group(0) for pattern, _, _ in _ABBREVIATION_PATTERNS for m in pattern.finditer(text)]
    return found + [m.group(0) for m in _STREET_SUFFIX.finditer(text)]


# --- spoken form of free text --------------------------------------------------------------

_SPOKEN_UNITS: list[tuple[str, str | Callable[[re.Match[str]], str]]] = [
    (r"\bkm/u\b|\bkm/h\b|\bkm per uur\b", "kilometer per uur"),
    (r"&", " en "),
    (r"%", " procent"),
    (r"\bkm\b", "kilometer"),
    (r"\bkg\b", "kilo"),
    (r"(?<=\d)\s*[x×]\s*(?=\d)", " bij "),  # sizes: "30x40 cm" -> "30 bij 40 cm"
    (r"(?<=\d)\s*cm\b\.?", lambda m: _expand(m, " centimeter")),
]
_SPOKEN_UNIT_PATTERNS = [(re.compile(p, re.IGNORECASE), r) for p, r in _SPOKEN_UNITS]

MONTHS = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)
_MONTH_SHORT = {
    "jan": 1,
    "feb": 2,
    "febr": 2,
    "mrt": 3,
    "mar": 3,
    "apr": 4,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "okt": 10,
    "nov": 11,
    "dec": 12,
}
_MONTH_NUMBER = {**{name: i + 1 for i, name in enumerate(MONTHS)}, **_MONTH_SHORT}
_MONTH_WORD = "|".join(sorted(_MONTH_NUMBER, key=len, reverse=True))

_PHONE_IN_TEXT = re.compile(r"(?<![\w-])(\+\d{2}[\s-]?\d[\d\s-]{7,12}\d|0\d{1,3}[\s-]?\d{4,8})(?![\w-])")
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
_KENTEKEN = re.compile(
    r"\bkentekens?(?:plaat)?\b[:\s]+(?:(?:is|was|begint met|eindigt op|met|van)\s+)?$", re.IGNORECASE
)
_HEIGHT_M = re.compile(r"\b(\d)[.,](\d{2})\s*(m|meter)\b\.?", re.IGNORECASE)
_HEIGHT_CM = re.compile(r"\b(\d{2,3})\s*(cm|centimeter)\b\.?", re.IGNORECASE)
_METRES = re.compile(r"\b(\d+)\s*m\b\.?")
_DATE_FULL = re.compile(r"(?<![\w/.-])(\d{1,2})([-/.])(\d{1,2})\2(\d{4}|\d{2})(?![\w/-]|[.,]\d)")
_DATE_SHORT = re.compile(r"(?<![\w/.-])(\d{1,2})([-/])(\d{1,2})(?![\w/-]|[.,]\d)")
_DATE_MONTH = re.compile(rf"\b(\d{{1,2}})\s+({_MONTH_WORD})(\.)?(?:\s+(\d{{4}}))?(?!\w)", re.IGNORECASE)
_WEEKDAYS = {
    "ma": "maandag",
    "di": "dinsdag",
    "wo": "woensdag",
    "do": "donderdag",
    "vr": "vrijdag",
    "za": "zaterdag",
    "zo": "zondag",
}
# A weekday shortened before a date: "vr 26-11" -> "vrijdag 26-11" (only there: "zo" is a word).
_WEEKDAY_BEFORE_DATE = re.compile(
    rf"\b(ma|di|wo|do|vr|za|zo)\.?(?=\s+\d{{1,2}}(?:[-/]\d|\s+(?:{_MONTH_WORD})\b))", re.IGNORECASE
)
_DATE_CUE = re.compile(
    r"\b(op|sinds|vanaf|per|datum|d\.d\.|dd|geboren|ma|di|wo|do|vr|za|zo|maandag|dinsdag|woensdag|"
    r"donderdag|vrijdag|zaterdag|zondag|tot en met|t/m|vermist)\s*:?\s*$",
    re.IGNORECASE,
)
_RANGE_UNIT = re.compile(
    r"^\s*(jaar|jr|uur|u\b|cm|centimeter|m\b|meter|km|kilometer|kilo|kg|euro|minuten|min|"
    r"personen|pers|man|mannen|vrouwen|jongens|meisjes|kinderen|keer|dagen|weken|maanden|"
    r"procent|%|graden|stuks|huizen|auto)",
    re.IGNORECASE,
)
_TIME_COLON = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)(?!\d)(\s*(?:uur\b|u\b))?")
_TIME_DOT_UUR = re.compile(r"\b([01]?\d|2[0-3])\.([0-5]\d)\s*(?:uur\b|u\b)")
_TIME_LETTER = re.compile(r"\b([01]?\d|2[0-3])[uh]([0-5]\d)?\b")
_TIME_FOUR_UUR = re.compile(r"\b([01]\d|2[0-3])([0-5]\d)\s*uur\b")
_TIME_AFTER_CUE = re.compile(
    r"\b(om|rond|omstreeks|vanaf|sinds|tussen|tot|na|voor|ongeveer)\s+([01]?\d|2[0-3])\.([0-5]\d)\b(?![.,]\d)",
    re.IGNORECASE,
)
_MONEY = re.compile(r"€\s*(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d{2}|-{1,2}))?")
_RANGE = re.compile(r"\b(\d{1,6})\s*(?:-|tot)\s*(\d{1,6})\b")
_ORDINAL = re.compile(r"\b(\d{1,4})(?:e|de|ste)\b")
_DECIMAL = re.compile(r"\b(\d+)[,.](\d+)\b")
_NUMBER = re.compile(r"\b\d{1,9}\b")
# 112 is the emergency number, said digit by digit, after "bel" (a few words may come between:
# "bel bij twijfel 112") or "alarmnummer"/"nummer"/"via"; a house number 112 stays a number.
_EMERGENCY = re.compile(
    r"\b((?:bel(?:len)?|belt)\b[^.!?\d]{0,30}?|alarmnummer|nummer|via)\s+112\b", re.IGNORECASE
)
_ROAD = re.compile(r"\b([ANS])(\d{1,3})\b")  # motorways and provincial roads: "de A13"
_POSTCODE = re.compile(r"\b([1-9]\d{3})\s?([A-Z]{2})\b")
_HOUSE_LETTER = re.compile(r"\b(\d{1,5})([a-zA-Z])\b")
_THOUSANDS = re.compile(r"\b(\d{1,3})\.(\d{3})\b")


def _groups_spoken(groups: list[str]) -> str:
    return ", ".join(
        " ".join(LETTER_NAMES[c] if c.isalpha() else digit_word(c) for c in group) for group in groups
    )


def _plates_spoken(text: str) -> str:
    """Licence plates as people type them, spelled group by group.

    Recognised: any token that fits a Dutch sidecode, in any case, with dashes or without
    ("12abc3", "gh-123-j"), except a joined 9999XX (a postcode, not a 1960s plate); three
    groups separated by spaces when the letters are capitals ("GH 123 J"). After the word
    "kenteken" also lower case with spaces, and any token with a digit or a short run of
    capitals (a partial or foreign plate: "kenteken begint met GH").
    """
    tokens = list(_TOKEN.finditer(text))
    out: list[str] = []
    at = 0
    i = 0
    while i < len(tokens):
        token = tokens[i]
        after_kenteken = bool(_KENTEKEN.search(text[: token.start()]))
        spoken: str | None = None
        end_token = i
        three = tokens[i : i + 3]
        if (
            len(three) == 3
            and all("-" not in t.group(0) and len(t.group(0)) <= 3 for t in three)
            and text[three[0].end() : three[1].start()] == " "
            and text[three[1].end() : three[2].start()] == " "
        ):
            candidate = " ".join(t.group(0) for t in three)
            groups = sidecode_groups(candidate)
            letters = "".join(c for c in candidate if c.isalpha())
            if groups and (after_kenteken or letters.isupper()):
                spoken, end_token = _groups_spoken(groups), i + 2
        if spoken is None:
            word = token.group(0)
            groups = sidecode_groups(word)
            postcode = "-" not in word and _shape(word) == "9999XX"
            if groups and (after_kenteken or not postcode):
                spoken = _groups_spoken(groups)
            elif after_kenteken and (
                any(c.isdigit() for c in word) or (word.isupper() and len(word.replace("-", "")) <= 3)
            ):
                spoken = _groups_spoken(plate_groups(word))
        if spoken is not None:
            out.append(text[at : token.start()] + spoken)
            at = tokens[end_token].end()
            i = end_token + 1
        else:
            i += 1
    out.append(text[at:])
    return "".join(out)


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        year += 2000 if year <= 50 else 1900
    return year


def date_spoken(day: int, month: int, year: int | None = None) -> str:
    """(28, 11) -> "achtentwintig november"; with 2026 -> "... tweeduizend zesentwintig"."""
    spoken = f"{number_words(day)} {MONTHS[month - 1]}"
    return spoken + (f" {number_words(year)}" if year is not None else "")


def _valid_date(day: int, month: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= (29 if month == 2 else 30 if month in (4, 6, 9, 11) else 31)


def _short_date(match: re.Match) -> str:
    """ "28-11" is a date, "20-25 jaar" a range: a slash, a cue before ("op 3-5", "sinds
    28-11") or a second number below the first make a date; a unit after makes a range."""
    day, month = int(match.group(1)), int(match.group(3))
    before = match.string[: match.start()]
    after = match.string[match.end() :]
    if match.group(0) == "24/7":
        return "Dag en nacht" if match.start() == 0 else "dag en nacht"
    if not _valid_date(day, month) or _RANGE_UNIT.match(after):
        return match.group(0)
    if re.search(r"\btussen(?: de)?\s*$", before, re.IGNORECASE):
        return match.group(0)
    if match.group(2) == "/" or _DATE_CUE.search(before) or month < day:
        return date_spoken(day, month)
    return match.group(0)


def _month_date(match: re.Match) -> str:
    day, month = int(match.group(1)), _MONTH_NUMBER[match.group(2).lower()]
    if not _valid_date(day, month):
        return match.group(0)
    spoken = date_spoken(day, month, int(match.group(4)) if match.group(4) else None)
    if match.group(3) and not match.group(4):
        rest = match.string[match.end() :].lstrip()
        if not rest or rest[0].isupper():
            spoken += "."
    return spoken


def _full_date(match: re.Match) -> str:
    day, month = int(match.group(1)), int(match.group(3))
    if not _valid_date(day, month):
        return match.group(0)
    return date_spoken(day, month, _year(match.group(4)))


def _money(match: re.Match) -> str:
    euros = int(match.group(1).replace(".", ""))
    cents = match.group(2)
    spoken = f"{number_words(euros)} euro"
    if cents and cents.isdigit() and int(cents):
        spoken += f" {number_words(int(cents))}"
    return spoken


def _range(match: re.Match) -> str:
    """ "20-25" -> "twintig tot vijfentwintig"; after "tussen": "tussen veertien en zestien"."""
    low, high = number_words(int(match.group(1))), number_words(int(match.group(2)))
    if re.search(r"\btussen(?: de)?\s*$", match.string[: match.start()], re.IGNORECASE):
        return f"{low} en {high}"
    return f"{low} tot {high}"


def to_spoken(text: str) -> str:
    """Turn cleaned Dutch written text into the form a TTS voice reads well.

    Order matters: phone numbers and plates first (they contain digits and dashes), then
    dates, heights and times, abbreviations, then ranges, ordinals and plain numbers.
    Where the text is ambiguous, the reading a listener can act on wins: "28-11" is a date,
    "20-25 jaar" a range, "om 14.35" a time.
    """
    text = _PHONE_IN_TEXT.sub(
        lambda m: digits_spoken(m.group(0)) if _digit_count(m.group(0)) >= 8 else m.group(0), text
    )
    text = _plates_spoken(text)
    text = _EMERGENCY.sub(lambda m: f"{m.group(1)} {digits_spoken('112')}", text)
    text = _POSTCODE.sub(
        lambda m: f"{digits_spoken(m.group(1))}, " + " ".join(LETTER_NAMES[c] for c in m.group(2)), text
    )
    text = _ROAD.sub(lambda m: f"{LETTER_NAMES[m.group(1)]} {number_words(int(m.group(2)))}", text)
    text = _WEEKDAY_BEFORE_DATE.sub(lambda m: _expand(m, _WEEKDAYS[m.group(1).lower()], may_end=False), text)
    text = _DATE_FULL.sub(_full_date, text)
    text = _DATE_MONTH.sub(_month_date, text)
    text = _DATE_SHORT.sub(_short_date, text)
    text = _HEIGHT_M.sub(lambda m: _expand(m, height_spoken(int(m.group(1)) * 100 + int(m.group(2)))), text)
    text = _HEIGHT_CM.sub(lambda m: _expand(m, f"{number_words(int(m.group(1)))} centimeter"), text)
    text = _TIME_COLON.sub(lambda m: time_spoken(int(m.group(1)), int(m.group(2))), text)
    text = _TIME_DOT_UUR.sub(lambda m: time_spoken(int(m.group(1)), int(m.group(2))), text)
    text = _TIME_FOUR_UUR.sub(lambda m: time_spoken(int(m.group(1)), int(m.group(2))), text)
    text = _TIME_LETTER.sub(lambda m: time_spoken(int(m.group(1)), int(m.group(2) or 0)), text)
    text = _TIME_AFTER_CUE.sub(
        lambda m: f"{m.group(1)} {time_spoken(int(m.group(2)), int(m.group(3)))}", text
    )
    text = _MONEY.sub(_money, text)
    text = expand_abbreviations(text)
    for pattern, replacement in _SPOKEN_UNIT_PATTERNS:
        text = pattern.sub(replacement, text)
    text = _METRES.sub(lambda m: _expand(m, f"{number_words(int(m.group(1)))} meter"), text)
    text = _THOUSANDS.sub(lambda m: m.group(1) + m.group(2), text)
    text = _RANGE.sub(_range, text)
    text = _ORDINAL.sub(lambda m: ordinal_words(int(m.group(1))), text)
    text = _HOUSE_LETTER.sub(
        lambda m: f"{number_words(int(m.group(1)))} {LETTER_NAMES[m.group(2).upper()]}", text
    )
    text = _DECIMAL.sub(lambda m: decimal_words(m.group(0)), text)
    text = _NUMBER.sub(lambda m: number_words(int(m.group(0))), text)
    return re.sub(r"\s+", " ", text).strip()


def _digit_count(text: str) -> int:
    return sum(c.isdigit() for c in text)


def word_count(text: str) -> int:
    """Words as a reader counts them: separated by whitespace."""
    return len(text.split())
