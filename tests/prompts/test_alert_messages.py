"""Alert and outcome messages for every incident type and channel."""

from __future__ import annotations

import pytest

from db.models import IncidentType, Outcome
from prompts.errors import InvalidDescription, UnknownIncidentType, UnknownOutcome, UnspeakableText
from prompts.fields import description_fields, validate_description
from prompts.messages import compose_alert, compose_outcome, describe, shorten_sms
from prompts.sms import sms_length

CALLBACK = "0800-0011"
CALLBACK_SPOKEN = "nul acht nul nul, nul nul één één"

SUSPECT = {
    "gender": "male",
    "age": "20-25",
    "height_cm": 180,
    "build": "slim",
    "skin_colour": "tinted",
    "hair": "kort zwart",
    "clothing": "een blauwe jas en een spijkerbroek",
    "items": "een zwarte rugtas",
    "transport": "bicycle",
    "direction": "richting het station",
}
MISSING_PERSON = {
    "name": "Anna de Vries",
    "name_consent": True,
    "gender": "female",
    "age": "82",
    "height_cm": 165,
    "hair": "grijs",
    "clothing": "een beige regenjas",
    "medical_urgency": True,
    "medical_note": "Zij heeft dementie en kan verward zijn",
    "last_seen_place": "de Markt",
    "last_seen_time": "14:35",
}
MISSING_CHILD = {
    "gender": "female",
    "age": "7",
    "clothing": "een roze jas",
    "last_seen_place": "de speeltuin",
    "last_seen_time": "9:05",
}
VEHICLE = {
    "vehicle_kind": "car",
    "colour": "blue",
    "make": "Volkswagen",
    "model": "Golf",
    "plate": "12abc3",
    "direction": "de A13",
}
OTHER = {"subject": "een loslopend paard", "details": "Bruin met witte manen"}


def _assert_script_shape(message, seen: str) -> None:
    assert message.voice.startswith("Hier volgt een oproep van Burgernet.")
    assert message.voice.endswith(f"Ziet u {seen}, bel dan gratis {CALLBACK_SPOKEN}.")
    assert message.display.startswith("Hier volgt een oproep van Burgernet.")
    assert message.display.endswith(f"Ziet u {seen}, bel dan gratis {CALLBACK}.")
    assert "Wilt u uitkijken naar" in message.voice
    assert not any(c.isdigit() for c in message.voice), message.voice


def test_suspect_alert():
    message = compose_alert("suspect", SUSPECT, "", CALLBACK)
    _assert_script_shape(message, "deze persoon")
    assert "Wilt u uitkijken naar een man van ongeveer twintig tot vijfentwintig jaar." in message.voice
    assert "Hij is ongeveer één meter tachtig lang en heeft een slank postuur." in message.voice
    assert "Hij heeft een getinte huidskleur." in message.voice
    assert "Hij heeft kort zwart haar." in message.voice
    assert "Hij draagt een blauwe jas en een spijkerbroek." in message.voice
    assert "Hij heeft een zwarte rugtas bij zich." in message.voice
    assert "Hij is op een fiets gevlucht in de richting van het station." in message.voice
    assert "Onderneem zelf geen actie." in message.voice
    assert "een man van ongeveer 20 tot 25 jaar" in message.display
    assert "1,80 m" in message.display


def test_the_offence_is_not_named():
    message = compose_alert("suspect", SUSPECT, "", CALLBACK)
    for word in ("inbraak", "overval", "diefstal", "verdachte"):
        assert word not in message.voice.lower()


def test_missing_person_alert_with_consented_name():
    message = compose_alert("missing_person", MISSING_PERSON, "", CALLBACK)
    _assert_script_shape(message, "deze persoon")
    assert "Wilt u uitkijken naar Anna de Vries, een vermiste vrouw van tweeëntachtig jaar." in message.voice
    assert "Zij heeft grijs haar." in message.voice
    assert "Zij heeft dringend medische hulp nodig." in message.voice
    assert "Zij heeft dementie en kan verward zijn." in message.voice
    assert "Zij is voor het laatst gezien om veertien uur vijfendertig bij de Markt." in message.voice
    assert "om 14:35 uur bij de Markt" in message.display
    assert "Onderneem zelf geen actie" not in message.voice


def test_missing_persons_name_needs_the_familys_consent():
    description = dict(MISSING_PERSON, name_consent=False)
    with pytest.raises(InvalidDescription) as caught:
        compose_alert("missing_person", description, "", CALLBACK)
    assert caught.value.field == "name"
    assert "toestemming" in caught.value.user_message


def test_missing_child_alert():
    message = compose_alert("missing_child", MISSING_CHILD, "", CALLBACK)
    _assert_script_shape(message, "dit kind")
    assert "Wilt u uitkijken naar een vermist meisje van zeven jaar." in message.voice
    assert "om negen uur vijf bij de speeltuin" in message.voice
    boy = compose_alert("missing_child", dict(MISSING_CHILD, gender="male"), "", CALLBACK)
    assert "een vermiste jongen van zeven jaar" in boy.voice


def test_vehicle_alert_spells_and_repeats_the_plate():
    message = compose_alert("vehicle", VEHICLE, "", CALLBACK)
    _assert_script_shape(message, "dit voertuig")
    assert (
        "Wilt u uitkijken naar een blauwe auto van het merk Volkswagen, type Golf, "
        "met kenteken één twee, aa bee cee, drie."
    ) in message.voice
    assert "Ik herhaal het kenteken: één twee, aa bee cee, drie." in message.voice
    assert "met kenteken 12-ABC-3." in message.display
    assert "Ik herhaal" not in message.display
    assert "12-ABC-3" in message.sms


def test_vehicle_without_kind_uses_the_neuter_noun():
    message = compose_alert("vehicle", {"colour": "red", "plate": "GH-123-J"}, "", CALLBACK)
    assert "een rood voertuig" in message.display


def test_other_alert():
    message = compose_alert("other", OTHER, "", CALLBACK)
    _assert_script_shape(message, "iets")
    assert "Wilt u uitkijken naar een loslopend paard. Bruin met witte manen." in message.voice


def test_free_text_is_cleaned_and_spoken():
    message = compose_alert("suspect", SUSPECT, "  Hij   liep  om 14:35 hard weg!!! ", CALLBACK)
    assert "Hij liep om 14:35 hard weg!" in message.display
    assert "Hij liep om veertien uur vijfendertig hard weg!" in message.voice


def test_area_is_named_in_the_opening():
    message = compose_alert("suspect", SUSPECT, "", CALLBACK, area="Delft, rond de Markt")
    assert message.voice.startswith(
        "Hier volgt een oproep van Burgernet voor de omgeving Delft, rond de Markt."
    )


def test_unspeakable_free_text_is_refused():
    with pytest.raises(UnspeakableText) as caught:
        compose_alert("suspect", SUSPECT, "Meer info op www.politie.nl 👮", CALLBACK)
    assert "internetadres" in caught.value.user_message


def test_unspeakable_description_field_is_refused():
    with pytest.raises(UnspeakableText):
        compose_alert("suspect", dict(SUSPECT, clothing="<i>rode</i> jas"), "", CALLBACK)


@pytest.mark.parametrize(
    "description, field, dutch",
    [
        ({"colour": "turquoise"}, "colour", "kies een van de mogelijkheden"),
        ({"plate": "12-AB*-3"}, "plate", "Kenteken"),
        ({"plate": "12ABC3", "wheels": 4}, "wheels", "Onbekende velden"),
    ],
)
def test_invalid_vehicle_descriptions(description, field, dutch):
    with pytest.raises(InvalidDescription) as caught:
        compose_alert("vehicle", description, "", CALLBACK)
    assert caught.value.field == field
    assert dutch in caught.value.user_message


@pytest.mark.parametrize(
    "description, field",
    [
        ({"age": "oud"}, "age"),
        ({"age": "200"}, "age"),
        ({"height_cm": "lang"}, "height_cm"),
        ({"height_cm": 300}, "height_cm"),
        ({"clothing": "x" * 161}, "clothing"),
        ({"gender": "male"}, None),  # too thin: nothing to look out for
    ],
)
def test_invalid_suspect_descriptions(description, field):
    with pytest.raises(InvalidDescription) as caught:
        compose_alert("suspect", description, "", CALLBACK)
    assert caught.value.field == field
    assert caught.value.user_message


def test_too_long_free_text_and_bad_callback_number_are_refused():
    with pytest.raises(InvalidDescription, match="at most 300"):
        compose_alert("suspect", SUSPECT, "woord " * 80, CALLBACK)
    with pytest.raises(InvalidDescription, match="call-back number"):
        compose_alert("suspect", SUSPECT, "", "bel ons")


def test_unknown_incident_type():
    with pytest.raises(UnknownIncidentType):
        compose_alert("burglary", SUSPECT, "", CALLBACK)


def test_description_fields_cover_every_incident_type():
    for kind in IncidentType:
        specs = description_fields(kind)
        assert specs, kind
        names = [spec.name for spec in specs]
        assert len(names) == len(set(names))
        for spec in specs:
            assert spec.label and spec.kind in {"text", "choice", "number", "age", "time", "plate", "flag"}
            if spec.kind == "choice":
                assert spec.choices
            if spec.kind == "text":
                assert spec.max_length
    suspect = {spec.name for spec in description_fields("suspect")}
    assert {
        "gender",
        "age",
        "height_cm",
        "build",
        "skin_colour",
        "hair",
        "clothing",
        "items",
        "transport",
        "direction",
    } <= suspect
    assert {"make", "model", "colour", "plate", "direction"} <= {
        spec.name for spec in description_fields("vehicle")
    }


def test_validate_description_drops_empty_values_and_normalises():
    cleaned = validate_description(
        "vehicle", {"plate": " gh 123 j ", "make": "", "model": None, "colour": "red"}
    )
    assert cleaned == {"plate": "GH-123-J", "colour": "red"}
    person = validate_description(
        "missing_person", {"age": "ca. 25 jaar", "last_seen_time": "9.05", "medical_urgency": "on"}
    )
    assert person == {"age": "25", "last_seen_time": "09:05", "medical_urgency": True}


def test_describe_gives_a_short_label():
    assert describe("vehicle", VEHICLE) == "blauwe auto Volkswagen Golf 12-ABC-3"
    assert describe("suspect", SUSPECT) == "man van ongeveer 20-25 jaar"


# --- SMS -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, description",
    [
        ("suspect", SUSPECT),
        ("missing_person", MISSING_PERSON),
        ("missing_child", MISSING_CHILD),
        ("vehicle", VEHICLE),
        ("other", OTHER),
    ],
)
def test_sms_is_complete_within_three_gsm7_segments(kind, description):
    message = compose_alert(kind, description, "Extra toelichting van de centralist.", CALLBACK)
    assert message.sms_encoding == "GSM-7"
    assert message.sms_segments <= 3 and len(message.sms) <= 3 * 153
    assert message.sms.startswith("Burgernet: kijk uit naar ")
    assert "Extra toelichting van de centralist." in message.sms  # nothing had to be dropped
    assert message.sms.endswith(f"Gezien? Bel gratis {CALLBACK}. Stop? Sms STOP naar dit nummer.")


def test_sms_shortening_drops_free_text_then_low_priority_parts():
    message = compose_alert("suspect", SUSPECT, "Hij liep hard weg. " * 15, CALLBACK)
    assert message.sms_segments <= 3
    assert "Hij liep hard weg" not in message.sms  # free text goes first
    assert "in een blauwe jas en een spijkerbroek" in message.sms
    assert "slank" in message.sms  # the description itself fits three segments
    # Deterministic: the same input gives the same SMS.
    assert compose_alert("suspect", SUSPECT, "Hij liep hard weg. " * 15, CALLBACK).sms == message.sms
    # In one segment the low-priority parts go first; the clothing and the flight are kept longest.
    head, parts = (
        "een man van ongeveer 20-25 jaar",
        [
            (3, "1,80 m"),
            (5, "slank"),
            (1, "in een blauwe jas en een spijkerbroek"),
            (1, "op een fiets richting het station"),
        ],
    )
    one = shorten_sms(head, parts, "", f"Gezien? Bel gratis {CALLBACK}", max_segments=1)
    assert sms_length(one).segments == 1
    assert "in een blauwe jas en een spijkerbroek" in one and "op een fiets richting het station" in one
    assert "slank" not in one


def test_short_sms_keeps_free_text():
    message = compose_alert("vehicle", {"plate": "12-ABC-3"}, "Mogelijk gestolen.", CALLBACK)
    assert message.sms == (
        "Burgernet: kijk uit naar een voertuig 12-ABC-3. Mogelijk gestolen. "
        f"Gezien? Bel gratis {CALLBACK}. Stop? Sms STOP naar dit nummer."
    )


def test_sms_transliterates_to_gsm7_where_readable():
    message = compose_alert("missing_child", dict(MISSING_CHILD, name="Zoë", name_consent=True), "", CALLBACK)
    assert "Zoë" in message.voice
    assert "Zoe" in message.sms
    assert message.sms_encoding == "GSM-7"


def test_letters_without_a_decomposition_are_transliterated_too():
    message = compose_alert("missing_person", dict(MISSING_PERSON, name="Łucja Wąs"), "", CALLBACK)
    assert "Łucja Wąs" in message.display
    assert "Lucja Was" in message.sms
    assert message.sms_encoding == "GSM-7"


def test_sms_outside_gsm7_is_ucs2_within_three_segments():
    # The schwa has no readable GSM-7 form: UCS-2, 67 characters a segment; the free text goes
    # before the description does.
    message = compose_alert(
        "missing_person", dict(MISSING_PERSON, name="Aysel Həsənova"), "Extra. " * 10, CALLBACK
    )
    assert "Həsənova" in message.sms
    assert message.sms_encoding == "UCS-2"
    assert message.sms_segments == sms_length(message.sms).segments == 3
    assert "Extra" not in message.sms
    assert "laatst gezien bij de Markt" in message.sms and CALLBACK in message.sms


def test_sms_that_cannot_fit_reports_its_segments():
    head = "man met een heel lange omschrijving " * 5
    sms = shorten_sms(head, [(1, "rode jas")], "", f"Gezien? Bel gratis {CALLBACK}", max_segments=1)
    length = sms_length(sms)
    assert length.encoding == "GSM-7"
    assert length.segments == 2
    assert "rode jas" in sms  # complete information rather than a mutilated message


# --- e-mail --------------------------------------------------------------------------------


def test_email_variants():
    message = compose_alert("suspect", dict(SUSPECT, clothing="een jas met opdruk 'A&B'"), "", CALLBACK)
    assert message.email_subject.startswith("Burgernet-oproep: kijk uit naar een man")
    assert len(message.email_subject) <= 90
    assert message.email_text.startswith(message.display)
    assert "112" in message.email_text
    assert "A&amp;B" in message.email_html and "A&B" not in message.email_html
    assert message.email_html.startswith("<!DOCTYPE html>")
    assert '<html lang="nl">' in message.email_html


# --- outcome messages (afloopbericht) -----------------------------------------------------


@pytest.mark.parametrize(
    "outcome, kind, expected",
    [
        ("arrested", "suspect", "De persoon naar wie wij u vroegen uit te kijken, is aangehouden."),
        ("arrested", "vehicle", "is een verdachte aangehouden."),
        ("found", "missing_person", "De vermiste persoon naar wie wij u vroegen uit te kijken, is gevonden."),
        ("found", "missing_child", "Het vermiste kind naar wie wij u vroegen uit te kijken, is gevonden."),
        ("vehicle_found", "vehicle", "Het voertuig waarnaar wij u vroegen uit te kijken, is gevonden."),
        (
            "no_result",
            "suspect",
            "De actie is beëindigd zonder resultaat. U hoeft niet langer uit te kijken.",
        ),
        ("other", "other", "De actie is beëindigd."),
    ],
)
def test_outcome_messages(outcome, kind, expected):
    message = compose_outcome(outcome, kind, CALLBACK)
    assert message.voice.startswith("Hier volgt een bericht van Burgernet.")
    assert expected in message.voice
    assert expected in message.display
    assert message.voice.endswith("Hartelijk dank voor uw hulp.")
    assert message.sms.startswith("Burgernet: ")
    assert message.sms.endswith("Bedankt voor uw hulp! Stop? Sms STOP naar dit nummer.")
    assert message.sms_segments == 1 and message.sms_encoding == "GSM-7"
    assert message.email_subject.startswith("Burgernet: ")
    assert not any(c.isdigit() for c in message.voice)


def test_outcome_without_result_gives_the_police_number():
    message = compose_outcome(Outcome.NO_RESULT, IncidentType.SUSPECT, CALLBACK)
    assert "0900-8844" in message.display
    assert "nul negen nul nul, acht acht vier vier" in message.voice
    assert "0900" not in compose_outcome("found", "missing_person", CALLBACK).display


def test_outcome_note_is_cleaned_spoken_and_checked():
    message = compose_outcome("found", "missing_person", CALLBACK, note="Zij is om 16:10 gevonden.")
    assert "Zij is om 16:10 gevonden." in message.display
    assert "Zij is om zestien uur tien gevonden." in message.voice
    assert "16:10" in message.sms
    with pytest.raises(UnspeakableText):
        compose_outcome("found", "missing_person", CALLBACK, note="Zie www.politie.nl")


def test_found_child_outcome_subject():
    assert compose_outcome("found", "missing_child", CALLBACK).email_subject == "Burgernet: kind gevonden"
    assert compose_outcome("found", "missing_person", CALLBACK).email_subject == "Burgernet: persoon gevonden"


def test_unknown_outcome():
    with pytest.raises(UnknownOutcome) as caught:
        compose_outcome("escaped", "suspect", CALLBACK)
    assert caught.value.user_message
