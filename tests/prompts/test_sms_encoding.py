"""GSM-7 / UCS-2 encoding and segment counting."""

from __future__ import annotations

import pytest

from prompts.sms import is_gsm7, sms_length, to_gsm7


@pytest.mark.parametrize(
    "text, encoding, units, segments",
    [
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # the euro sign is an extension character: two septets
        ("€" * 81, "GSM-7", 162, 2),
        ("[x]" + "a" * 156, "GSM-7", 161, 2),
        ("é ü ä ö ñ à è ù ì ò Å Ø ß É", "GSM-7", 27, 1),
        ("ë" * 70, "UCS-2", 70, 1),
        ("ë" * 71, "UCS-2", 71, 2),
        ("ł" * 134, "UCS-2", 134, 2),
        ("ł" * 135, "UCS-2", 135, 3),
    ],
)
def test_sms_length(text, encoding, units, segments):
    length = sms_length(text)
    assert (length.encoding, length.units, length.segments) == (encoding, units, segments)


def test_transliteration_keeps_dutch_readable_in_gsm7():
    assert to_gsm7("Zoë’s “jas” – café naïef") == 'Zoe\'s "jas" - café naief'
    assert is_gsm7(to_gsm7("Zoë’s “jas” – café naïef"))
    # Letters Unicode does not decompose get their usual Latin spelling.
    assert to_gsm7("Łucja Guðrún Œuvray") == "Lucja Gudrun OEuvray"
    # Letters without a readable GSM-7 form stay, and force UCS-2.
    assert to_gsm7("Həsənov") == "Həsənov"
    assert not is_gsm7("Həsənov")
