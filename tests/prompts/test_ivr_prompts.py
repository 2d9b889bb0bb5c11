"""The fixed IVR prompts: complete, Dutch, spoken forms, and recorded replacements."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
from pydub import AudioSegment
from pydub.generators import Sine

from config.settings import Settings
from prompts.audio import LEAD_IN_MS, TAIL_MS
from prompts.errors import AudioError, PromptError, UnknownPrompt
from prompts.ivr_prompts import (
    IVR_PROMPTS,
    ivr_prompt_audio,
    ivr_prompt_text,
    placeholders,
    recording_path,
    static_prompt_keys,
)

ALERT_CALL_KEYS = {
    "alert_menu",
    "repeat",
    "confirm_thanks",
    "transfer",
    "transfer_failed",
    "opt_out_confirm",
    "opted_out",
    "invalid",
    "goodbye",
}
CALLBACK_LINE_KEYS = {
    "callback_welcome",
    "callback_choose_action",
    "callback_record",
    "callback_thanks",
    "callback_no_action",
    "callback_transfer",
    "callback_transfer_failed",
    "callback_action_option",
    "callback_one_action",
    "callback_offer_control_room",
    "callback_saved_bye",
    "callback_room_unreachable",
    "callback_goodbye",
}


@pytest.fixture
def prompt_settings(tmp_path) -> Settings:
    return Settings(_env_file=None, instance_path=tmp_path / "instance", callback_number="0800-0011")


def test_every_prompt_the_call_flows_need_exists():
    assert ALERT_CALL_KEYS | CALLBACK_LINE_KEYS | {"verification_code"} <= set(IVR_PROMPTS)


def test_alert_menu_offers_the_four_choices():
    menu = IVR_PROMPTS["alert_menu"]
    assert "Druk op 1" in menu and "nog een keer te horen" in menu
    assert "Druk op 2" in menu and "doorverbonden met de meldkamer" in menu
    assert "Druk op 3" in menu and "uitkijken" in menu
    assert "Druk op 9" in menu and "geen oproepen van Burgernet meer" in menu
    assert "Druk op 1 om dit te bevestigen" in IVR_PROMPTS["opt_out_confirm"]


def test_no_action_prompt_text_is_exact():
    assert IVR_PROMPTS["callback_no_action"] == (
        "Er is op dit moment geen actie actief. Heeft u spoed, bel dan 112."
    )


def test_spoken_forms_have_no_digits_left():
    values = {
        "verification_code": {"code": "482913"},
        "callback_action_option": {"digit": 2, "description": "de vermiste man in Delft"},
        "callback_queue_position": {"position": 12},
        "callback_queue_expected_wait": {"minutes": 3},
    }
    settings = Settings(_env_file=None)
    for key in IVR_PROMPTS:
        text = ivr_prompt_text(key, settings, **values.get(key, {}))
        assert text and not any(c.isdigit() for c in text), (key, text)


def test_callback_number_and_112_are_read_digit_by_digit(prompt_settings):
    text = ivr_prompt_text("confirm_thanks", prompt_settings)
    assert "bel dan gratis nul acht nul nul, nul nul één één" in text
    assert "bel dan één één twee" in text
    assert "0800-0011" in ivr_prompt_text("confirm_thanks", prompt_settings, spoken=False)


def test_caller_values_are_filled_and_checked(prompt_settings):
    text = ivr_prompt_text("verification_code", prompt_settings, code="482913")
    assert "vier, acht, twee, negen, één, drie" in text
    option = ivr_prompt_text(
        "callback_action_option", prompt_settings, digit=2, description="de blauwe auto 12-ABC-3"
    )
    assert option == ("Belt u over de blauwe auto één twee, aa bee cee, drie, druk dan op twee.")
    with pytest.raises(PromptError, match="needs code"):
        ivr_prompt_text("verification_code", prompt_settings)
    with pytest.raises(PromptError, match="no placeholder"):
        ivr_prompt_text("goodbye", prompt_settings, code="1")
    with pytest.raises(UnknownPrompt):
        ivr_prompt_text("hello", prompt_settings)
    assert placeholders("verification_code") == {"code"}
    assert "verification_code" not in static_prompt_keys()
    assert "confirm_thanks" in static_prompt_keys()


def test_prompt_audio_is_rendered_by_tts(prompt_settings):
    prompt = ivr_prompt_audio("callback_no_action", prompt_settings)
    with wave.open(str(prompt.wav_8k)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
    assert 2 < prompt.duration_s < 10
    assert prompt.text.endswith("bel dan één één twee.")
    assert ivr_prompt_audio("callback_no_action", prompt_settings).cached


def _record(path: Path, seconds: float, rate: int = 44100, channels: int = 2) -> None:
    tone = Sine(440).to_audio_segment(duration=seconds * 1000, volume=-10).set_frame_rate(rate)
    tone = tone.set_channels(channels)
    path.parent.mkdir(parents=True, exist_ok=True)
    (AudioSegment.silent(500, frame_rate=rate).set_channels(channels) + tone).export(path, format="wav")


def test_administrator_recording_replaces_the_tts_prompt(prompt_settings):
    tts = ivr_prompt_audio("goodbye", prompt_settings)
    recording = recording_path("goodbye", prompt_settings)
    assert recording == prompt_settings.instance_path / "prompts" / "goodbye.wav"
    _record(recording, 1.5)
    replaced = ivr_prompt_audio("goodbye", prompt_settings)
    assert replaced.key != tts.key
    # Leading silence trimmed, lead-in and tail added, converted to 8 kHz mono.
    assert replaced.duration_s == pytest.approx(1.5 + (LEAD_IN_MS + TAIL_MS) / 1000, abs=0.05)
    with wave.open(str(replaced.wav_8k)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
    # Replacing the file again is picked up (cache keyed by content).
    _record(recording, 2.5)
    assert ivr_prompt_audio("goodbye", prompt_settings).duration_s == pytest.approx(3.0, abs=0.05)


def test_prompts_with_caller_values_ignore_recordings(prompt_settings):
    _record(recording_path("verification_code", prompt_settings), 1.0)
    prompt = ivr_prompt_audio("verification_code", prompt_settings, code="1234")
    assert "één, twee, drie, vier" in prompt.text


def test_a_broken_recording_gives_a_clear_error(prompt_settings):
    recording = recording_path("invalid", prompt_settings)
    recording.parent.mkdir(parents=True)
    recording.write_bytes(b"this is not audio")
    with pytest.raises(AudioError) as caught:
        ivr_prompt_audio("invalid", prompt_settings)
    assert "geluidsbestand" in caught.value.user_message
