"""Every alert says where: the area of the location is spoken, written and in the SMS, for
every incident type; the SMS keeps the place and time when it must drop details."""

import pytest

from prompts.messages import Sender, compose_alert
from prompts.place import area_of
from prompts.sms import sms_length

SENDER = Sender("Meldkamer Haaglanden", "+3197010000000")
DESCRIPTIONS = {
    "suspect": {"gender": "male", "age": "30", "clothing": "een rode jas"},
    "missing_person": {"gender": "female", "age": "80", "last_seen_place": "het station"},
    "missing_child": {"gender": "male", "age": "7", "hair": "blond", "last_seen_time": "14:35"},
    "vehicle": {"vehicle_kind": "car", "colour": "blue", "plate": "12-ABC-3", "last_seen_place": "de A13"},
    "other": {"subject": "een loslopend paard"},
}


@pytest.mark.parametrize("incident_type", sorted(DESCRIPTIONS))
def test_every_incident_type_names_the_place_in_voice_display_sms_and_email(incident_type):
    message = compose_alert(
        incident_type,
        DESCRIPTIONS[incident_type],
        "",
        "0800-0011",
        area=area_of("Markt 1, Delft"),
        sender=SENDER,
    )
    assert "voor de omgeving Delft, rond de Markt" in message.voice
    assert "voor de omgeving Delft, rond de Markt" in message.display
    assert "omgeving Delft, rond de Markt" in message.sms
    assert "omgeving Delft, rond de Markt" in message.email_for("https://example.test/afmelden")[0]
    assert "Markt 1" not in message.sms  # the neighbourhood, not the door


@pytest.mark.parametrize(
    ("label", "area"),
    [
        ("Markt 1, Delft", "Delft, rond de Markt"),
        ("Oude Delft 12a, Delft", "Delft, rond de Oude Delft"),
        ("Rembrandtplein 3, Amsterdam", "Amsterdam, rond het Rembrandtplein"),
        ("Delft", "Delft"),
        ("Kaartpunt 52.01000, 4.35000", ""),
        ("2611AB 1", ""),
        ("", ""),
    ],
)
def test_area_of_a_location_label(label, area):
    assert area_of(label) == area


def test_vehicle_last_seen_place_and_time_are_spoken_and_sent():
    d = {"vehicle_kind": "van", "colour": "white", "plate": "VX-123-B", "last_seen_place": "de Markt"}
    message = compose_alert("vehicle", d | {"last_seen_time": "14:35"}, "", "0800-0011")
    assert "Het voertuig is voor het laatst gezien om veertien uur vijfendertig bij de Markt" in message.voice
    assert "laatst gezien bij de Markt om 14:35 uur" in message.sms


def test_a_long_child_sms_keeps_where_and_when_before_lesser_details():
    d = {
        "gender": "female",
        "age": "6",
        "height_cm": 115,
        "build": "petite",
        "skin_colour": "light",
        "hair": "lang bruin in een staart",
        "features": "een pleister op de linkerknie en een beugel",
        "clothing": "roze winterjas, spijkerbroek, gele laarsjes en een rugzakje met eenhoorns",
        "medical_note": "heeft astma en kan benauwd raken bij inspanning",
        "last_seen_place": "speeltuin in het Rijsterborgherpark",
        "last_seen_time": "16:30",
    }
    free = "Moeder is in de buurt. Kind reageert op de naam Noor. Ze kan bang zijn voor honden. " * 2
    message = compose_alert(
        "missing_child", d, free.strip(), "0800-0011", area="Deventer, rond de Keizerstraat", sender=SENDER
    )
    assert sms_length(message.sms).segments <= 3
    assert "omgeving Deventer, rond de Keizerstraat" in message.sms
    assert "laatst gezien bij speeltuin in het Rijsterborgherpark om 16:30 uur" in message.sms
    assert "in een roze winterjas" in message.sms and "lang bruin in een staart haar" in message.sms
    assert "astma" not in message.sms  # a lesser detail went first
