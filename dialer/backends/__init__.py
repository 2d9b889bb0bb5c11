"""Adapters of the CallBackend port (dialer/backend.py): asterisk, twilio; the simulator lives in dialer/."""
