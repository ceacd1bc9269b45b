"""The outbox, its worker, and the senders: SMTP email and an SMS webhook; reminders."""
