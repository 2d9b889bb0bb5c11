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

_PLATE_GROUP = r"[A-Z0-9]{1,3}"
PLATE_IN_TEXT = re.compile(rf"\b({_PLATE_GROUP})-({_PLATE_GROUP})-({_PLATE_GROUP})\b")


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


def looks_like_dutch_plate(candidate: str) -> bool:
    groups = candidate.upper().split("-")
    joined = "".join(groups)
    return (
        len(groups) == 3
        and len(joined) == 6
        and any(c.isalpha() for c in joined)
        and any(c.isdigit() for c in joined)
        and all(g.isalpha() or g.isdigit() for g in groups)
    )


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


# --- spoken form of free text --------------------------------------------------------------

_ABBREVIATIONS = [
    (r"\bkm/u\b|\bkm/h\b|\bkm per uur\b", "kilometer per uur"),
    (r"\bca\.(?=\s|$)|\bca\b", "ongeveer"),
    (r"\bong\.(?=\s|$)", "ongeveer"),
    (r"\bcirca\b", "ongeveer"),
    (r"\+/-|\+-|±", "ongeveer"),
    (r"\bjr\.(?=\s|$)|\bjr\b", "jaar"),
    (r"\bjrs\.?(?=\s|$)", "jaar"),
    (r"\bmnd\.?(?=\s|$)", "maanden"),
    (r"\bo\.a\.(?=\s|$)", "onder andere"),
    (r"\bbijv\.(?=\s|$)|\bbv\.(?=\s|$)", "bijvoorbeeld"),
    (r"\bi\.v\.m\.(?=\s|$)", "in verband met"),
    (r"\bi\.p\.v\.(?=\s|$)", "in plaats van"),
    (r"\bt\.h\.v\.(?=\s|$)", "ter hoogte van"),
    (r"\bz\.s\.m\.(?=\s|$)", "zo snel mogelijk"),
    (r"\bnr\.(?=\s|$)", "nummer"),
    (r"\bevt\.(?=\s|$)", "eventueel"),
    (r"\bincl\.(?=\s|$)", "inclusief"),
    (r"\bexcl\.(?=\s|$)", "exclusief"),
    (r"\bstr\.(?=\s|$)", "straat"),
    (r"\btel\.(?=\s|$)", "telefoon"),
    (r"\bkm\b", "kilometer"),
    (r"\bkg\b", "kilo"),
    (r"&", " en "),
    (r"%", " procent"),
    (r"€\s*", "euro "),
]
_ABBREVIATION_PATTERNS = [(re.compile(p, re.IGNORECASE), r) for p, r in _ABBREVIATIONS]

_PHONE_IN_TEXT = re.compile(r"(?<![\w-])(\+\d{2}[\s-]?\d[\d\s-]{7,12}\d|0\d{1,3}[\s-]?\d{4,8})(?![\w-])")
_HEIGHT_M = re.compile(r"\b(\d)[.,](\d{2})\s*(m|meter)\b\.?", re.IGNORECASE)
_HEIGHT_CM = re.compile(r"\b(\d{2,3})\s*(cm|centimeter)\b\.?", re.IGNORECASE)
_METRES = re.compile(r"\b(\d+)\s*m\b\.?")
_TIME_COLON = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)\b(\s*uur\b)?")
_TIME_DOT_UUR = re.compile(r"\b([01]?\d|2[0-3])\.([0-5]\d)\s*uur\b")
_RANGE = re.compile(r"\b(\d{1,6})\s*(?:-|tot)\s*(\d{1,6})\b")
_ORDINAL = re.compile(r"\b(\d{1,4})(?:e|de|ste)\b")
_DECIMAL = re.compile(r"\b(\d+),(\d+)\b")
_NUMBER = re.compile(r"\b\d{1,9}\b")
_EMERGENCY = re.compile(
    r"\b((?:bel(?:len)?|belt)(?: dan)?(?: direct)?(?: het)?|alarmnummer|nummer)\s+112\b", re.IGNORECASE
)
_ROAD = re.compile(r"\b([ANS])(\d{1,3})\b")  # motorways and provincial roads: "de A13"
_POSTCODE = re.compile(r"\b([1-9]\d{3})\s?([A-Z]{2})\b")
_HOUSE_LETTER = re.compile(r"\b(\d{1,5})([a-zA-Z])\b")
_THOUSANDS = re.compile(r"\b(\d{1,3})\.(\d{3})\b")


def _expand_match(match: re.Match[str], replacement: str) -> str:
    return _expand(match, replacement)


def _expand(match: re.Match, replacement: str) -> str:
    """An abbreviation's full stop also ends the sentence when the text ends there or a
    capital follows; keep that full stop in the expansion."""
    if not match.group(0).endswith("."):
        return replacement
    rest = match.string[match.end() :].lstrip()
    return replacement + "." if not rest or rest[0].isupper() else replacement


def to_spoken(text: str) -> str:
    """Turn cleaned Dutch written text into the form a TTS voice reads well.

    Order matters: phone numbers and plates first (they contain digits and dashes), then
    heights and times, then ranges, ordinals and plain numbers; abbreviations throughout.
    """
    text = _PHONE_IN_TEXT.sub(
        lambda m: digits_spoken(m.group(0)) if _digit_count(m.group(0)) >= 8 else m.group(0), text
    )
    text = PLATE_IN_TEXT.sub(
        lambda m: plate_spoken(m.group(0)) if looks_like_dutch_plate(m.group(0)) else m.group(0),
        text,
    )
    text = _EMERGENCY.sub(lambda m: f"{m.group(1)} {digits_spoken('112')}", text)
    text = _POSTCODE.sub(
        lambda m: f"{digits_spoken(m.group(1))}, " + " ".join(LETTER_NAMES[c] for c in m.group(2)), text
    )
    text = _ROAD.sub(lambda m: f"{LETTER_NAMES[m.group(1)]} {number_words(int(m.group(2)))}", text)
    text = _HEIGHT_M.sub(lambda m: _expand(m, height_spoken(int(m.group(1)) * 100 + int(m.group(2)))), text)
    text = _HEIGHT_CM.sub(lambda m: _expand(m, f"{number_words(int(m.group(1)))} centimeter"), text)
    text = _TIME_COLON.sub(lambda m: time_spoken(int(m.group(1)), int(m.group(2))), text)
    text = _TIME_DOT_UUR.sub(lambda m: time_spoken(int(m.group(1)), int(m.group(2))), text)
    for pattern, replacement in _ABBREVIATION_PATTERNS:
        text = pattern.sub(functools.partial(_expand_match, replacement=replacement), text)
    text = _METRES.sub(lambda m: _expand(m, f"{number_words(int(m.group(1)))} meter"), text)
    text = _THOUSANDS.sub(lambda m: m.group(1) + m.group(2), text)
    text = _RANGE.sub(lambda m: f"{number_words(int(m.group(1)))} tot {number_words(int(m.group(2)))}", text)
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
