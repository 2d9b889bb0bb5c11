"""Where a caller may be put through to: a transfer target, typed and checked.

A control room's or a centralist's transfer target is one of three kinds, told apart by how
it is written (and stored in that canonical form):
- an endpoint of the PBX, `PJSIP/<name>`, named in the allow-list (settings
  `asterisk.transfer_endpoints`; the dialplan checks BURGERNET_TRANSFER_ENDPOINTS again);
- a SIP URI, `sip:<user>@<host>[:<port>]`, without parameters or headers;
- a Dutch phone number, stored in E.164 (`+31...`), never a premium-rate or shared-cost one.

Not every backend can reach every kind: Asterisk dials endpoints and numbers (a number goes out
through the dialplan's [burgernet-out]); Twilio dials numbers (`<Dial><Number>`) and SIP URIs
(`<Dial><Sip>`). Anything else (free text, a dial string with options, `Local/...`) is refused
on save, and the renderers refuse it again rather than dial it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType


class TargetKind(str, enum.Enum):
    ENDPOINT = "endpoint"
    SIP_URI = "sip_uri"
    NUMBER = "number"


# Which kinds each phone backend can put a caller through to.
USABLE_KINDS: dict[str, frozenset[TargetKind]] = {
    "asterisk": frozenset({TargetKind.ENDPOINT, TargetKind.NUMBER}),
    "twilio": frozenset({TargetKind.SIP_URI, TargetKind.NUMBER}),
    "simulator": frozenset(TargetKind),
}
KIND_LABELS = {
    TargetKind.ENDPOINT: "een toestel van de telefooncentrale (PJSIP/...)",
    TargetKind.SIP_URI: "een SIP-adres (sip:...)",
    TargetKind.NUMBER: "een Nederlands telefoonnummer",
}

ENDPOINT_PREFIX = "PJSIP/"
ENDPOINT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
DUTCH_E164 = re.compile(r"\+31[1-9][0-9]{8}")
SIP_URI = re.compile(r"sip:[A-Za-z0-9._+-]{1,64}@[A-Za-z0-9.-]{1,190}(:[0-9]{1,5})?")
REFUSED_NUMBER_TYPES = {
    PhoneNumberType.PREMIUM_RATE: "een betaalnummer",
    PhoneNumberType.SHARED_COST: "een nummer met gedeelde kosten",
    PhoneNumberType.PAGER: "een semafoonnummer",
}


class InvalidTransferTarget(ValueError):
    """A transfer target that may not be dialled; `dutch` is the message for the user."""

    def __init__(self, message: str, dutch: str):
        super().__init__(message)
        self.dutch = dutch


@dataclass(frozen=True)
class TransferTarget:
    kind: TargetKind
    value: str  # canonical: PJSIP/<name>, sip:<user>@<host>[:port], +31...

    def __str__(self) -> str:
        return self.value


def parse_transfer_target(text: str | None, *, endpoints: Collection[str]) -> TransferTarget:
    """The typed target written as `text`; InvalidTransferTarget when it may not be dialled."""
    raw = (text or "").strip()
    if not raw:
        raise InvalidTransferTarget("empty transfer target", "Vul een doorverbindbestemming in.")
    if raw[: len(ENDPOINT_PREFIX)].upper() == ENDPOINT_PREFIX:
        name = raw[len(ENDPOINT_PREFIX) :]
        if not ENDPOINT_NAME.fullmatch(name):
            raise InvalidTransferTarget(
                f"not an endpoint name: {raw!r}",
                "Een toestel schrijft u als PJSIP/<naam>, met alleen letters, cijfers, - en _.",
            )
        if name not in endpoints:
            allowed = ", ".join(f"PJSIP/{e}" for e in sorted(endpoints)) or "geen"
            raise InvalidTransferTarget(
                f"endpoint {name!r} is not on the allow-list",
                f"Toestel {name} staat niet op de lijst van toegestane toestellen ({allowed}).",
            )
        return TransferTarget(TargetKind.ENDPOINT, ENDPOINT_PREFIX + name)
    if raw[:4].lower() == "sip:":
        uri = "sip:" + raw[4:]
        if not SIP_URI.fullmatch(uri) or ".." in uri:
            raise InvalidTransferTarget(
                f"not a plain SIP URI: {raw!r}",
                "Een SIP-adres schrijft u als sip:gebruiker@host (zonder parameters).",
            )
        return TransferTarget(TargetKind.SIP_URI, uri)
    return TransferTarget(TargetKind.NUMBER, _dutch_number(raw))


def _dutch_number(raw: str) -> str:
    text = raw[1:] if raw.startswith("+") else raw
    if not re.fullmatch(r"[0-9 ()-]{6,30}", text):
        raise InvalidTransferTarget(
            f"not a transfer target: {raw!r}",
            "Vul een Nederlands telefoonnummer in, een SIP-adres (sip:...) of een toestel (PJSIP/...).",
        )
    text = raw.replace(" ", "").replace("-", "").replace("(", "").replace(")", "")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, "NL")
    except phonenumbers.NumberParseException as exc:
        raise InvalidTransferTarget(
            f"not a phone number: {raw!r}", "Dit is geen geldig telefoonnummer."
        ) from exc
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # The dialplan's rule too: +31 and nine digits, not +310... (numbers a plan has not handed
    # out yet, such as the testbed's 069..., are still numbers).
    if number.country_code != 31 or not DUTCH_E164.fullmatch(e164):
        raise InvalidTransferTarget(
            f"not a Dutch number: {raw!r}",
            "Doorverbinden kan alleen naar een Nederlands telefoonnummer (+31 en negen cijfers).",
        )
    refused = REFUSED_NUMBER_TYPES.get(phonenumbers.number_type(number))
    if refused:
        raise InvalidTransferTarget(
            f"refused number type: {raw!r}", f"Dit is {refused}; dat is niet toegestaan."
        )
    return e164


def check_usable(target: TransferTarget, backend: str) -> TransferTarget:
    """The target, or InvalidTransferTarget when `backend` cannot put a caller through to it."""
    if target.kind not in USABLE_KINDS.get(backend, frozenset(TargetKind)):
        usable = " of ".join(KIND_LABELS[k] for k in TargetKind if k in USABLE_KINDS[backend])
        raise InvalidTransferTarget(
            f"{backend} cannot dial a {target.kind.value}",
            f"Met deze telefonie ({backend}) kan doorverbinden alleen naar {usable}.",
        )
    return target
