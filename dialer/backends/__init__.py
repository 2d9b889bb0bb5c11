"""Adapters of the CallBackend port (deliveries/call_backend.py): asterisk, twilio.

The simulator, training mode's phone network, lives in dialer/simulator.py."""
