"""The fixed IVR prompts, in Dutch, in one place.

Used by the outbound alert call (menu: 1 hear again, 2 put through to the control room,
3 confirm you will look out, 9 stop receiving Burgernet calls, with confirmation) and by the
call-back line (welcome, choice of action, recording, thanks, transfer, no action active).

Placeholders: `{callback_number}` is filled from settings and read digit by digit; others
(`{code}`, `{digit}`, `{description}`) are passed by the caller. An administrator replaces
any prompt without placeholders by a recorded human voice: put `<key>.wav` in
`<instance_path>/prompts/`; `ivr_prompt_audio` then uses that file (through the same audio
pipeline) instead of the synthetic voice.
"""

from __future__ import annotations

import string
from pathlib import Path

from prompts.audio import RenderedPrompt, render, render_recording
from prompts.errors import PromptError, UnknownPrompt
from prompts.spoken import clean_text, digits_spoken, number_words, phone_spoken, to_spoken
from prompts.tts import TtsEngine

IVR_PROMPTS: dict[str, str] = {
    # --- the outbound alert call ---
    "alert_menu": (
        "Druk op 1 om dit bericht nog een keer te horen. "
        "Druk op 2 om te worden doorverbonden met de meldkamer. "
        "Druk op 3 als u gaat uitkijken. "
        "Druk op 9 als u geen oproepen van Burgernet meer wilt ontvangen."
    ),
    "repeat": "Ik herhaal het bericht.",
    "confirm_thanks": (
        "Bedankt dat u wilt uitkijken. Ziet u iets, bel dan gratis {callback_number}. "
        "Heeft u spoed, bel dan 112."
    ),
    "transfer": "U wordt nu doorverbonden met de meldkamer. Een ogenblik geduld alstublieft.",
    "transfer_failed": (
        "Het doorverbinden is helaas niet gelukt. Bel gratis {callback_number} om uw melding "
        "door te geven. Heeft u spoed, bel dan 112."
    ),
    "opt_out_confirm": (
        "U wilt geen oproepen van Burgernet meer ontvangen op dit nummer. "
        "Druk op 1 om dit te bevestigen. Druk op een andere toets om terug te gaan."
    ),
    "opted_out": (
        "U bent afgemeld. U ontvangt geen oproepen van Burgernet meer op dit nummer. "
        "Bedankt voor uw deelname."
    ),
    "opt_out_cancelled": "U blijft aangemeld bij Burgernet.",
    "invalid": "Deze keuze is niet geldig.",
    "no_input": "Ik heb geen keuze gehoord.",
    "goodbye": "Bedankt voor het luisteren. Tot ziens.",
    "machine_callback": (
        "Dit was een oproep van Burgernet. Heeft u iets gezien, bel dan gratis {callback_number}."
    ),
    "technical_error": (
        "Er is een technische storing. Probeer het later opnieuw. Heeft u spoed, bel dan 112."
    ),
    # --- the call-back line ---
    "callback_welcome": "Welkom bij Burgernet. Fijn dat u belt.",
    "callback_choose_action": ("Er lopen op dit moment meerdere acties. Kies de actie waarover u belt."),
    "callback_action_option": "Belt u over {description}, druk dan op {digit}.",
    "callback_record": (
        "Spreek na de piep uw melding in. Zeg wat u heeft gezien, waar en wanneer. "
        "Druk op het hekje als u klaar bent."
    ),
    "callback_no_recording": "Ik heb geen melding gehoord.",
    "callback_thanks": "Bedankt voor uw melding. Uw melding is vastgelegd.",
    "callback_transfer": (
        "U wordt nu doorverbonden met de centralist van de meldkamer. Blijft u aan de lijn."
    ),
    "callback_transfer_failed": (
        "Het doorverbinden is helaas niet gelukt. Uw melding is vastgelegd en wordt direct "
        "doorgegeven aan de meldkamer. Heeft u spoed, bel dan 112."
    ),
    "callback_one_action": "U belt over de volgende actie.",
    "callback_offer_control_room": (
        "Wilt u toch de meldkamer spreken, druk dan op 1. Anders kunt u ophangen."
    ),
    "callback_saved_bye": (
        "Uw melding wordt zo snel mogelijk bekeken. Heeft u spoed, bel dan 112. Tot ziens."
    ),
    "callback_room_unreachable": (
        "De meldkamer is op dit moment niet bereikbaar. Heeft u spoed, bel dan 112. Tot ziens."
    ),
    "callback_goodbye": "Bedankt voor uw telefoontje. Tot ziens.",
    "callback_no_action": ("Er is op dit moment geen actie actief. Heeft u spoed, bel dan 112."),
    "callback_transfer_or_record": (
        "U wordt nu doorverbonden met de meldkamer. Wilt u liever uw waarneming inspreken, druk dan 1."
    ),
    "callback_unreachable_record": (
        "De meldkamer is nu niet bereikbaar. Spreek na de piep uw waarneming in."
    ),
    # The call queue: said on joining, and again and again while waiting.
    "callback_queue_position": "Alle centralisten zijn in gesprek. U bent nummer {position} in de wachtrij.",
    "callback_queue_expected_wait": "De verwachte wachttijd is ongeveer {minutes} minuten.",
    "callback_queue_expected_wait_minute": "De verwachte wachttijd is ongeveer één minuut.",
    "callback_queue_hold": (
        "Blijft u aan de lijn, u wordt zo snel mogelijk geholpen. Wilt u niet wachten, druk dan 1 "
        "om uw waarneming in te spreken."
    ),
    # When a report cannot be (all) kept (a full or broken disk): said as it is, never "vastgelegd".
    "callback_cannot_record": "Door een technische storing kan uw waarneming nu niet worden opgenomen.",
    "callback_recording_failed": "Door een technische storing is uw waarneming helaas niet opgenomen.",
    "callback_recording_partial": (
        "Door een technische storing is uw waarneming maar voor een deel opgenomen."
    ),
    # --- the outcome call (afloopbericht) ---
    "outcome_repeat_offer": "Druk op 1 om dit bericht nog een keer te horen.",
    # --- the verification call (the code's digits are spoken between these) ---
    "verification_intro": "Dit is Burgernet. Uw verificatiecode is:",
    "verification_repeat": "Ik herhaal:",
    "verification_end": "Niet aangevraagd? Dan kunt u ophangen. Tot ziens.",
    # --- registration ---
    "verification_code": ("Dit is Burgernet. Uw verificatiecode is {code}. Ik herhaal: {code}."),
}

_CALLER_FIELDS = {"code", "digit", "description", "position", "minutes"}


def placeholders(key: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(_template(key)) if name}


def _template(key: str) -> str:
    try:
        return IVR_PROMPTS[key]
    except KeyError:
        raise UnknownPrompt(
            f"unknown IVR prompt {key!r}; known: {', '.join(sorted(IVR_PROMPTS))}",
            "Onbekende gesproken tekst.",
        ) from None


def _spoken_value(name: str, value) -> str:
    if name == "code":
        return digits_spoken(" ".join(str(value)))
    if name in ("digit", "position", "minutes"):
        return number_words(int(value))
    return to_spoken(clean_text(str(value)))


def ivr_prompt_text(
    key: str, settings, spoken: bool = True, *, callback_number: str | None = None, **values
) -> str:
    """The prompt's text with placeholders filled; spoken form (digits as words) by default.
    `callback_number` is the action's control room's number (prompts.callback_number); the
    global `settings.callback_number` when not given."""
    template = _template(key)
    needed = placeholders(key)
    missing = needed - {"callback_number"} - set(values)
    if missing:
        raise PromptError(
            f"prompt {key!r} needs {', '.join(sorted(missing))}", "De gesproken tekst mist gegevens."
        )
    unknown = set(values) - needed
    if unknown:
        raise PromptError(
            f"prompt {key!r} has no placeholder {', '.join(sorted(unknown))}",
            "De gesproken tekst klopt niet.",
        )
    filled = dict(values)
    filled["callback_number"] = callback_number or settings.callback_number
    if spoken:
        filled = {
            name: _spoken_value(name, value) if name in _CALLER_FIELDS else phone_spoken(value)
            for name, value in filled.items()
        }
        return to_spoken(template.format(**filled))
    return template.format(**filled)


def recording_path(key: str, settings) -> Path:
    """Where an administrator puts a recorded human voice that replaces prompt `key`."""
    return Path(settings.instance_path) / "prompts" / f"{key}.wav"


def ivr_prompt_audio(key: str, settings, engine: TtsEngine | None = None, **values) -> RenderedPrompt:
    """The audio of a fixed prompt: the administrator's recording when present (only for
    prompts without caller-supplied values), otherwise the TTS rendering."""
    _template(key)
    recording = recording_path(key, settings)
    if not (placeholders(key) & _CALLER_FIELDS) and recording.exists():
        return render_recording(recording, settings, label=f"recording:{key}")
    return render(ivr_prompt_text(key, settings, **values), settings, engine)


def static_prompt_keys() -> list[str]:
    """Prompts that need no caller-supplied values (they can be rendered ahead of time)."""
    return [key for key in IVR_PROMPTS if not (placeholders(key) & _CALLER_FIELDS)]
