import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import func, select

from db.models import Address, AddressKind, GazetteerAddress, GeocodeStatus, Participant
from participants.geocoding import (
    AddressNotFound,
    AddressQuery,
    DirectCoordinates,
    GazetteerGeocoder,
    GeocoderChain,
    GeocoderUnavailable,
    GeocodingError,
    PdokGeocoder,
    geocode_address,
    import_gazetteer,
)

BAG_HEADER = (
    "openbareruimte;huisnummer;huisletter;huisnummertoevoeging;postcode;woonplaats;gemeente;"
    "provincie;object_id;object_type;nevenadres;x;y;lon;lat"
)
BAG_ROWS = [
    "Markt;87;;;2611GW;Delft;Delft;Zuid-Holland;0503010000012345;VBO;;84612.3;447389.1;4.3579700;52.0113800",
    "Oude Delft;39;A;;2611 BB;Delft;Delft;Zuid-Holland;0503010000000001;VBO;;84300.0;447500.0;4.3540000;52.0125000",
    "Oude Delft;39;;;2611BB;Delft;Delft;Zuid-Holland;0503010000000002;VBO;;84300.0;447500.0;4.3541000;52.0126000",
    "Mekelweg;5;;;2628CC;Delft;Delft;Zuid-Holland;0503010000000003;VBO;;86000.0;445900.0;4.3726000;51.9990000",
]


def write_bag(tmp_path, rows, name="bag.csv"):
    path = tmp_path / name
    path.write_text("\n".join([BAG_HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_gazetteer_import_reports_bad_rows_and_is_idempotent(db, tmp_path):
    bad = [
        "Nergensstraat;12;;;ABCD12;Delft;Delft;Zuid-Holland;1;VBO;;0;0;4.35;52.01",
        "Nergensstraat;nul;;;2611AA;Delft;Delft;Zuid-Holland;1;VBO;;0;0;4.35;52.01",
        "Nergensstraat;3;;;2611AA;Delft;Delft;Zuid-Holland;1;VBO;;0;0;4.35;noord",
    ]
    path = write_bag(tmp_path, BAG_ROWS + bad)
    with db.transaction() as session:
        report = import_gazetteer(session, path)
    assert (report.inserted, report.updated, report.unchanged) == (4, 0, 0)
    assert [(e.row, e.field) for e in report.errors] == [(6, "postcode"), (7, "huisnummer"), (8, "lat")]
    assert report.rejected == 3
    with db.transaction() as session:
        again = import_gazetteer(session, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)
    assert db.count(GazetteerAddress) == 4
    moved = BAG_ROWS[:3] + [BAG_ROWS[3].replace("51.9990000", "51.9991000")]
    with db.transaction() as session:
        third = import_gazetteer(session, write_bag(tmp_path, moved, "bag2.csv"))
    assert (third.inserted, third.updated, third.unchanged) == (0, 1, 3)


def test_gazetteer_geocoder_matches_addition_and_falls_back(db, tmp_path):
    with db.transaction() as session:
        import_gazetteer(session, write_bag(tmp_path, BAG_ROWS))
    with db.session() as session:
        geocoder = GazetteerGeocoder(session)
        markt = geocoder.geocode(AddressQuery("2611GW", 87))
        assert (markt.lat, markt.lon, markt.street, markt.municipality, markt.source) == (
            52.01138,
            4.35797,
            "Markt",
            "Delft",
            "gazetteer",
        )
        assert geocoder.geocode(AddressQuery("2611BB", 39, "A")).lat == 52.0125
        assert geocoder.geocode(AddressQuery("2611BB", 39)).lat == 52.0126
        assert geocoder.geocode(AddressQuery("2611BB", 39, "B")).lat == 52.0126  # same building
        with pytest.raises(AddressNotFound, match="2611GW 88 is not in the gazetteer"):
            geocoder.geocode(AddressQuery("2611GW", 88))


# --- the PDOK Locatieserver contract -------------------------------------------------------


def pdok_doc(street, number, postcode, lon, lat, letter=None, addition=None):
    """One document as the Locatieserver `free` endpoint returns it for type:adres."""
    nlt = f"{number}{letter or ''}{'-' + addition if addition else ''}"
    doc = {
        "bron": "BAG",
        "woonplaatscode": "1926",
        "type": "adres",
        "woonplaatsnaam": "Delft",
        "huis_nlt": nlt,
        "openbareruimtetype": "Weg",
        "gemeentecode": "0503",
        "weergavenaam": f"{street} {nlt}, {postcode} Delft",
        "straatnaam_verkort": street,
        "id": f"adr-{postcode}{nlt}",
        "gemeentenaam": "Delft",
        "identificatie": "0503010000012345-0503200000012345",
        "provinciecode": "PV28",
        "postcode": postcode,
        "provincienaam": "Zuid-Holland",
        "centroide_ll": f"POINT({lon} {lat})",
        "nummeraanduiding_id": "0503200000012345",
        "adresseerbaarobject_id": "0503010000012345",
        "huisnummer": number,
        "provincieafkorting": "ZH",
        "centroide_rd": "POINT(84612.3 447389.1)",
        "straatnaam": street,
        "score": 17.2,
    }
    if letter:
        doc["huisletter"] = letter
    if addition:
        doc["huisnummertoevoeging"] = addition
    return doc


PDOK_ADDRESSES = [
    pdok_doc("Markt", 87, "2611GW", 4.35797, 52.01138),
    pdok_doc("Oude Delft", 39, "2611BB", 4.3541, 52.0126),
    pdok_doc("Oude Delft", 39, "2611BB", 4.3540, 52.0125, letter="A"),
]


class LocatieserverStub(BaseHTTPRequestHandler):
    requests: list = []
    mode = "ok"

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        type(self).requests.append((url.path, query))
        if type(self).mode == "error":
            self.send_response(503)
            self.end_headers()
            self.wfile.write(b"Service Unavailable")
            return
        if type(self).mode == "slow":
            time.sleep(0.6)
        terms = dict(part.split(":", 1) for part in query["q"][0].split(" AND "))
        docs = [
            d
            for d in PDOK_ADDRESSES
            if d["postcode"] == terms["postcode"] and str(d["huisnummer"]) == terms["huisnummer"]
        ]
        body = {
            "response": {
                "numFound": len(docs),
                "start": 0,
                "maxScore": 17.2 if docs else 0.0,
                "numFoundExact": True,
                "docs": docs,
            }
        }
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def locatieserver():
    LocatieserverStub.requests = []
    LocatieserverStub.mode = "ok"
    server = ThreadingHTTPServer(("127.0.0.1", 0), LocatieserverStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/bzk/locatieserver/search/v3_1", LocatieserverStub
    server.shutdown()
    server.server_close()
    thread.join()


def test_pdok_geocoder_speaks_the_free_endpoint(locatieserver):
    base_url, stub = locatieserver
    geocoder = PdokGeocoder(base_url + "/", timeout_s=2)
    result = geocoder.geocode(AddressQuery("2611GW", 87))
    assert (result.lat, result.lon, result.street, result.city, result.source) == (
        52.01138,
        4.35797,
        "Markt",
        "Delft",
        "pdok",
    )
    path, query = stub.requests[0]
    assert path == "/bzk/locatieserver/search/v3_1/free"
    assert query["q"] == ["postcode:2611GW AND huisnummer:87"]
    assert query["fq"] == ["type:adres"]
    assert "centroide_ll" in query["fl"][0]
    assert geocoder.geocode(AddressQuery("2611BB", 39, "A")).lat == 52.0125
    assert geocoder.geocode(AddressQuery("2611BB", 39)).lat == 52.0126
    with pytest.raises(AddressNotFound, match="unknown to the PDOK Locatieserver"):
        geocoder.geocode(AddressQuery("2611GW", 1))


def test_pdok_failures_are_reported_not_hidden(locatieserver):
    base_url, stub = locatieserver
    stub.mode = "error"
    with pytest.raises(GeocoderUnavailable, match="did not answer"):
        PdokGeocoder(base_url).geocode(AddressQuery("2611GW", 87))
    stub.mode = "slow"
    with pytest.raises(GeocoderUnavailable, match="did not answer"):
        PdokGeocoder(base_url, timeout_s=0.2).geocode(AddressQuery("2611GW", 87))
    with pytest.raises(GeocoderUnavailable):
        PdokGeocoder("http://127.0.0.1:9/nothing", timeout_s=0.5).geocode(AddressQuery("2611GW", 87))


def test_direct_coordinates():
    assert DirectCoordinates().geocode(AddressQuery("2611GW", 87, lat=52.0, lon=4.3)).source == "direct"
    with pytest.raises(AddressNotFound):
        DirectCoordinates().geocode(AddressQuery("2611GW", 87))
    with pytest.raises(GeocodingError, match="out of range"):
        DirectCoordinates().geocode(AddressQuery("2611GW", 87, lat=152.0, lon=4.3))


def test_chain_and_failed_addresses_are_kept(db, tmp_path, locatieserver):
    base_url, stub = locatieserver
    with db.transaction() as session:
        import_gazetteer(session, write_bag(tmp_path, BAG_ROWS[3:]))  # only Mekelweg 5
    with db.transaction() as session:
        chain = GeocoderChain([DirectCoordinates(), GazetteerGeocoder(session), PdokGeocoder(base_url)])
        participant = Participant(name="Test", birth_year=1980, channels=["voice"])
        places = [("2628CC", 5), ("2611GW", 87), ("9999ZZ", 1)]
        for postcode, number in places:
            participant.addresses.append(
                Address(kind=AddressKind.HOME, postcode=postcode, house_number=number)
            )
        session.add(participant)
        session.flush()
        results = [geocode_address(a, chain) for a in participant.addresses]
        assert [r.source if r else None for r in results] == ["gazetteer", "pdok", None]
    assert len(stub.requests) == 2  # the gazetteer answered the first one
    with db.session() as session:
        failed = session.scalars(select(Address).where(Address.postcode == "9999ZZ")).one()
        assert failed.geocode_status is GeocodeStatus.FAILED and failed.lat is None
        assert "gazetteer: 9999ZZ 1 is not in the gazetteer" in failed.geocode_error
        assert "pdok: 9999ZZ 1 is unknown" in failed.geocode_error
        assert "direct: no coordinates given" in failed.geocode_error
        ok = session.scalar(select(func.count()).where(Address.geocode_status == GeocodeStatus.OK))
        assert ok == 2
        assert session.scalars(select(Address).where(Address.postcode == "2611GW")).one().street == "Markt"
