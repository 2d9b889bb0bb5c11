"""Generate the RTP audio the sipp phones replay: a person's short "hallo" and an answering
machine's long greeting with a beep. Run once; the .pcap files beside this script are its output.

    .venv/bin/python tests/e2e/asterisk/scenarios/make_audio_pcaps.py

The audio is synthetic (tones shaped like words): Asterisk's answering-machine detection looks
only at the lengths of sound and silence, which is what these files control. G.711 A-law,
payload type 8, 20 ms packets, in Ethernet/IPv4/UDP frames as sipp's pcap player expects.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

RATE = 8000
PTIME_MS = 20
SAMPLES_PER_PACKET = RATE * PTIME_MS // 1000
HERE = Path(__file__).resolve().parent


def _alaw(sample: int) -> int:
    """ITU-T G.711 A-law encoding of one 16-bit linear sample."""
    sign = 0x80 if sample >= 0 else 0x00
    magnitude = min(abs(sample), 32635) >> 3
    if magnitude < 32:
        code = magnitude >> 1
    else:
        exponent = magnitude.bit_length() - 5
        code = (exponent << 4) | ((magnitude >> exponent) & 0x0F)
    return (code | sign) ^ 0x55


def tone(seconds: float, frequency: float, amplitude: int = 9000) -> list[int]:
    n = int(seconds * RATE)
    # A little vibrato makes it less like a pure dial tone to the DSP.
    return [
        int(amplitude * math.sin(2 * math.pi * frequency * (1 + 0.05 * math.sin(i / 300)) * i / RATE))
        for i in range(n)
    ]


def silence(seconds: float) -> list[int]:
    return [0] * int(seconds * RATE)


def _udp_frame(payload: bytes) -> bytes:
    ip_len = 20 + 8 + len(payload)
    eth = b"\x00\x00\x00\x00\x00\x02" + b"\x00\x00\x00\x00\x00\x01" + b"\x08\x00"
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        ip_len,
        0,
        0,
        64,
        17,
        0,
        bytes([127, 0, 0, 1]),
        bytes([127, 0, 0, 1]),
    )
    udp = struct.pack("!HHHH", 6000, 20000, 8 + len(payload), 0)
    return eth + ip + udp + payload


def write_rtp_pcap(path: Path, samples: list[int]) -> None:
    packets = []
    for seq, start in enumerate(range(0, len(samples), SAMPLES_PER_PACKET)):
        chunk = samples[start : start + SAMPLES_PER_PACKET]
        chunk += [0] * (SAMPLES_PER_PACKET - len(chunk))
        rtp = struct.pack("!BBHII", 0x80, 8, seq & 0xFFFF, start & 0xFFFFFFFF, 0x42555247)
        packets.append(rtp + bytes(_alaw(s) for s in chunk))
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, payload in enumerate(packets):
        frame = _udp_frame(payload)
        micros = i * PTIME_MS * 1000
        out.append(struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(frame), len(frame)))
        out.append(frame)
    path.write_bytes(b"".join(out))


def person_hello() -> list[int]:
    """ "Hallo?" (0.6 s), then listening in silence: detected as a person."""
    return tone(0.6, 220) + silence(3.0)


def person_greeting() -> list[int]:
    """ "Goedemiddag, met Jan de Vries" (five words, 1.7 s of speech), then listening in
    silence: a person, which Asterisk's default AMD settings (2 words, 1.5 s) call a machine."""
    words = [(0.7, 0.35), (0.2, 0.08), (0.3, 0.08), (0.12, 0.08), (0.4, 0.0)]
    samples: list[int] = []
    for i, (spoken, pause) in enumerate(words):
        samples += tone(spoken, 200 + 15 * i) + silence(pause)
    return samples + silence(4.0)


def machine_greeting() -> list[int]:
    """Five seconds of words with short pauses, a beep, then silence: detected as a machine."""
    words: list[int] = []
    for i in range(6):
        words += tone(0.7, 180 + 20 * i) + silence(0.15)
    return words + silence(0.3) + tone(0.5, 1000, 12000) + silence(2.0)


if __name__ == "__main__":
    write_rtp_pcap(HERE / "person_hello.pcap", person_hello())
    write_rtp_pcap(HERE / "machine_greeting.pcap", machine_greeting())
    write_rtp_pcap(HERE / "person_greeting.pcap", person_greeting())
    # A caller who stopped talking: lets Asterisk's silence detection end a recording.
    write_rtp_pcap(HERE / "silence_10s.pcap", silence(10.0))
    print("written: person_hello, machine_greeting, person_greeting, silence_10s (.pcap) in", HERE)
