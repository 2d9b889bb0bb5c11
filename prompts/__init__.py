"""Prompts: Dutch alert and outcome messages, text-to-speech and telephony audio.

- `prompts.messages`: compose_alert, compose_outcome, AlertMessage (voice/display/SMS/e-mail)
- `prompts.fields`: description_fields (the signalement form per incident type), validation
- `prompts.spoken`: Dutch spoken-form normalisation; refusal of unspeakable text
- `prompts.sms`: GSM-7/UCS-2 encoding and segment counting
- `prompts.tts`: TtsEngine (espeak-ng, Piper), twilio_say_attributes
- `prompts.audio`: render() through pydub into cached 8 kHz WAV/sln/ulaw and web WAV
- `prompts.ivr_prompts`: IVR_PROMPTS and ivr_prompt_audio (recorded replacements)
"""
