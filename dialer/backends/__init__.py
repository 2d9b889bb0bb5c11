"""Adapters of the CallBackend port (deliveries/call_backend.py): asterisk, twilio; the simulator lives in dialer/."""
