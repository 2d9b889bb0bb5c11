from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from config.clock import FakeClock
from db.models import Address, GeocodeStatus, Participant, ParticipantStatus, PhoneKind, PhoneNumber
from participants.addresses import (
    InvalidAddress,
    normalise_addition,
    normalise_postcode,
    parse_house_number,
)
from participants.csv_files import CsvFileError
from participants.geocoding import DirectCoordinates, GazetteerGeocoder, GeocoderChain, import_gazetteer
from participants.importer import import_participants
from participants.windows import InvalidTimeWindow, TimeWindow, format_time_window, parse_time_window

HEADER = (
    "external_ref,name,birth_year,email,phone_1,phone_2,channels,status,verified,"
    "home_postcode,home_house_number,home_addition,home_lat,home_lon,"
    "work_postcode,work_house_number,work_window"
)
GOOD = [
    "r1,Jan de Vries,1960,jan@example.org,015-2158000,06 12345678,voice|sms,active,ja,2611 gw,87,,,,2628cc,5,ma-vr 08:00-18:00",
    "r2,Anna Bakker,1990,,06-87654321,,sms,,yes,2611BB,39,a,,,,,",
    "r3,Piet Smit,1975,,0152123456,,voice,opted_out,nee,2699ZZ,1,,,,,,",  # not in the gazetteer
    "r4,Els Visser,1950,els@example.org,,,email,paused,1,2611GW,12,,52.0101,4.3550,,,",
]
BAD = [
    "r5,Te Jong,2015,,0612345670,,voice,,ja,2611GW,1,,,,,,",  # under 16
    "r6,Geen Nummer,1980,,0800-0011,,voice,,ja,26111,1,,,,,,",  # 0800 and a bad postcode
    ",Zonder Ref,1980,,0612345671,,voice,,ja,2611GW,1,,,,,,",
    "r7,Fout Kanaal,1980,nope,0612345672,,fax,,ja,2611GW,1,,,,,,",
    "r1,Dubbel,1980,,0612345673,,voice,,ja,2611GW,1,,,,,,",  # the ref of row 2 again
    "r8,Sms Zonder Mobiel,1980,,0152000000,,sms,,ja,2611GW,1,,,,2611GW,2,elke dag",
    "r9,Geen Adres,1980,,0612345674,,voice,,ja,,,,,,,,",
]
BAG = """openbareruimte;huisnummer;huisletter;huisnummertoevoeging;postcode;woonplaats;gemeente;provincie;object_id;object_type;nevenadres;x;y;lon;lat
Markt;87;;;2611GW;Delft;Delft;Zuid-Holland;1;VBO;;0;0;4.3579700;52.0113800
Oude Delft;39;A;;2611BB;Delft;Delft;Zuid-Holland;2;VBO;;0;0;4.3540000;52.0125000
Mekelweg;5;;;2628CC;Delft;Delft;Zuid-Holland;3;VBO;;0;0;4.3726000;51.9990000
"""
CLOCK = FakeClock(datetime(2026, 11, 28, 12, 0, tzinfo=UTC))


def write(tmp_path, rows, name="deelnemers.csv"):
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def gazetteer(db, tmp_path):
    path = tmp_path / "bag.csv"
    path.write_text(BAG, encoding="utf-8")
    with db.transaction() as session:
        import_gazetteer(session, path)


def run_import(db, path):
    with db.transaction() as session:
        chain = GeocoderChain([DirectCoordinates(), GazetteerGeocoder(session)])
        return import_participants(session, path, chain, CLOCK)


def snapshot(db):
    with db.session() as session:
        people = session.scalars(
            select(Participant)
            .order_by(Participant.id)
            .options(selectinload(Participant.addresses), selectinload(Participant.phones))
        ).all()
        return [
            (
                p.id,
                p.external_ref,
                p.name,
                p.birth_year,
                p.email,
                p.email_verified,
                p.channels,
                p.status,
                p.updated_at,
                sorted(
                    (
                        a.id,
                        a.kind,
                        a.postcode,
                        a.house_number,
                        a.house_number_addition,
                        a.lat,
                        a.lon,
                        a.geocode_status,
                        a.geocode_error,
                        a.window_days,
                        a.window_start_min,
                        a.window_end_min,
                        a.updated_at,
                    )
                    for a in p.addresses
                ),
                sorted((ph.id, ph.e164, ph.kind, ph.verified, ph.updated_at) for ph in p.phones),
            )
            for p in people
        ]


def test_rows_are_checked_and_rejections_reported_per_row(db, tmp_path, gazetteer):
    report = run_import(db, write(tmp_path, GOOD + BAD))
    assert (report.created, report.updated, report.unchanged) == (4, 0, 0)
    found = {(e.row, e.field) for e in report.errors}
    assert found == {
        (6, "birth_year"),
        (7, "phone_1"),
        (7, "home_postcode"),
        (8, "external_ref"),
        (9, "email"),
        (9, "channels"),
        (10, "external_ref"),
        (11, "channels"),
        (11, "work_window"),
        (12, "home_postcode"),
    }
    reasons = {(e.row, e.field): e.reason for e in report.errors}
    assert "16 or older" in reasons[(6, "birth_year")]
    assert "toll-free" in reasons[(7, "phone_1")]
    assert "already on row 2" in reasons[(10, "external_ref")]
    assert "sms chosen but no mobile number" in reasons[(11, "channels")]
    assert report.rejected == 7 and not report.ok
    # The address that could not be geocoded is kept, and reported as a warning.
    assert [(w.row, w.field) for w in report.warnings] == [(4, "home_postcode")]
    assert db.count(Participant) == 4


def test_imported_values_are_normalised(db, tmp_path, gazetteer):
    run_import(db, write(tmp_path, GOOD))
    with db.session() as session:
        jan = session.scalars(select(Participant).where(Participant.external_ref == "r1")).one()
        assert jan.channels == ["voice", "sms"] and jan.email_verified
        assert sorted((p.e164, p.kind, p.verified) for p in jan.phones) == [
            ("+31152158000", PhoneKind.LANDLINE, True),
            ("+31612345678", PhoneKind.MOBILE, True),
        ]
        home, work = sorted(jan.addresses, key=lambda a: a.kind.value)
        assert (home.postcode, home.lat, home.street, home.geocode_status) == (
            "2611GW",
            52.01138,
            "Markt",
            GeocodeStatus.OK,
        )
        assert (work.postcode, work.window_days, work.window_start_min, work.window_end_min) == (
            "2628CC",
            31,
            480,
            1080,
        )
        anna = session.scalars(select(Participant).where(Participant.external_ref == "r2")).one()
        assert (anna.addresses[0].house_number_addition, anna.addresses[0].lat) == ("A", 52.0125)
        piet = session.scalars(select(Participant).where(Participant.external_ref == "r3")).one()
        assert piet.status is ParticipantStatus.OPTED_OUT and not piet.phones[0].verified
        failed = piet.addresses[0]
        assert failed.geocode_status is GeocodeStatus.FAILED and failed.lat is None
        assert "not in the gazetteer" in failed.geocode_error
        els = session.scalars(select(Participant).where(Participant.external_ref == "r4")).one()
        assert (els.addresses[0].lat, els.addresses[0].lon) == (52.0101, 4.355)  # given directly
        assert els.status is ParticipantStatus.PAUSED


def test_reimporting_the_same_file_changes_nothing(db, tmp_path, gazetteer):
    path = write(tmp_path, GOOD + BAD)
    run_import(db, path)
    before = snapshot(db)
    CLOCK.advance(3600)
    report = run_import(db, path)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 4)
    assert snapshot(db) == before


def test_reimport_applies_changes_but_never_undoes_an_opt_out(db, tmp_path, gazetteer):
    run_import(db, write(tmp_path, GOOD))
    with db.transaction() as session:
        anna = session.scalars(select(Participant).where(Participant.external_ref == "r2")).one()
        anna.status = ParticipantStatus.OPTED_OUT  # she opted out since the last import
    changed = [
        GOOD[0].replace("06 12345678", "06 11112222").replace(",2628cc,5,ma-vr 08:00-18:00", ",,,"),
        GOOD[1],
        GOOD[2],
        GOOD[3],
    ]
    report = run_import(db, write(tmp_path, changed, "v2.csv"))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 3)
    with db.session() as session:
        jan = session.scalars(select(Participant).where(Participant.external_ref == "r1")).one()
        assert sorted(p.e164 for p in jan.phones) == ["+31152158000", "+31611112222"]
        assert [a.kind.value for a in jan.addresses] == ["home"]
        assert (
            session.scalars(select(Participant.status).where(Participant.external_ref == "r2")).one()
            is ParticipantStatus.OPTED_OUT
        )
        assert db.count(PhoneNumber) == 4 and db.count(Address) == 4


def test_whole_file_problems(db, tmp_path):
    missing = tmp_path / "missing_columns.csv"
    missing.write_text("external_ref;name\nx;y\n", encoding="utf-8")
    with pytest.raises(CsvFileError, match="missing column"):
        run_import(db, missing)
    unknown = tmp_path / "unknown_columns.csv"
    unknown.write_text("external_ref,name,birth_year,shoe_size\n", encoding="utf-8")
    with pytest.raises(CsvFileError, match="unknown column.*shoe_size"):
        run_import(db, unknown)


def test_semicolon_files_from_excel(db, tmp_path, gazetteer):
    path = tmp_path / "excel.csv"
    path.write_bytes(
        (
            "\ufeff"
            + HEADER.replace(",", ";")
            + "\r\n"
            + "r1;Jan;1960;;0612345678;;voice;;ja;2611 GW;87;;;;;;\r\n"
        ).encode("utf-8")
    )
    report = run_import(db, path)
    assert report.created == 1 and report.ok


@pytest.mark.parametrize(
    "raw, expected",
    [("2611 ab", "2611AB"), (" 2611ab ", "2611AB"), ("9999ZZ", "9999ZZ")],
)
def test_postcodes_are_normalised(raw, expected):
    assert normalise_postcode(raw) == expected


@pytest.mark.parametrize("raw", ["0611AB", "2611", "2611 A1", "2611SS", "AB2611", ""])
def test_bad_postcodes_are_refused(raw):
    with pytest.raises(InvalidAddress) as info:
        normalise_postcode(raw)
    assert info.value.field == "postcode" and "postcode" in info.value.user_message


def test_additions():
    assert normalise_addition("a", None) == "A"
    assert normalise_addition("", "-2 hg") == "2HG"
    assert normalise_addition("b", "bis") == "BBIS"


@pytest.mark.parametrize(
    "text, window",
    [
        ("ma-vr 08:00-18:00", TimeWindow(31, 480, 1080)),
        ("mon-fri 8:00-18:00", TimeWindow(31, 480, 1080)),
        ("za,zo", TimeWindow(96, None, None)),
        ("weekend 10:00-16:00", TimeWindow(96, 600, 960)),
        ("22:00-06:00", TimeWindow(None, 1320, 360)),
        ("fri-mon 09:00-24:00", TimeWindow(0b1110001, 540, 1440)),
        ("werkdagen", TimeWindow(31, None, None)),
        ("", None),
    ],
)
def test_time_windows(text, window):
    assert parse_time_window(text) == window


@pytest.mark.parametrize("text", ["elke dag", "ma-vr 08:00-08:00", "ma 25:00-26:00", "ma-xx 08:00-09:00"])
def test_bad_time_windows(text):
    with pytest.raises(InvalidTimeWindow):
        parse_time_window(text)


def test_time_window_as_text():
    assert format_time_window(31, 480, 1080) == "mon-fri 08:00-18:00"
    assert parse_time_window(format_time_window(0b1000001, 1320, 360)) == TimeWindow(0b1000001, 1320, 360)


@pytest.mark.parametrize("raw", ["²", "٣", "9" * 5000, "123456", "0", "-1", "12a"])
def test_house_numbers_are_ascii_digits_from_1_to_99999(raw):
    with pytest.raises(InvalidAddress):
        parse_house_number(raw)
    assert parse_house_number(" 87 ") == 87
