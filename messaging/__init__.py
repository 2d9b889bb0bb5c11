"""SMS and email: one MessageSender port, with Twilio Messages and SMTP adapters."""
