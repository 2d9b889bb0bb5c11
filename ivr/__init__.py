"""The IVR: one call-flow model, the alert flow, and the Asterisk (FastAGI) renderer.

- `ivr.flow`: the model (Play, Menu, Record, Transfer, AwaitMessageEnd, Branch, Hangup, named
  handlers) and the stateless, resumable `Engine`; `walk()` runs a flow with scripted inputs.
- `ivr.alert_flow`: the outbound alert call (machine -> message after the beep; person ->
  alert, menu 1 repeat / 2 control room / 3 will look out / 9 stop, confirmed).
- `ivr.outcome_flow`: the outcome call (afloopbericht once, then 1 to hear it again).
- `ivr.verification_flow`: a participant's verification code, twice, digit by digit.
- `ivr.callback_flow`: the call-back number's flow, on the same model.
- `ivr.prompt_texts`: Dutch text of each fixed prompt key (the prompts package owns most).
- `ivr.routing`: who a caller is put through to (the centralist, else the control room).
- `ivr.fastagi` + `ivr.agi_renderer` + `ivr.asterisk_audio`: `burgernet ivr serve`, the
  FastAGI server Asterisk hands calls to; its docstring lists what the dialplan must do.
- `ivr.twiml`: the TwiML renderer (Twilio), one step per webhook request.

Renderers translate steps into their wire format and report what happened; every decision
about the flow is in the flow definitions and the engine.
"""
