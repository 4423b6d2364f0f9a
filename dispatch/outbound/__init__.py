"""What we owe outside parties, written in the same transaction and delivered afterwards: the
outbox, the 110 desk's messages, callbacks and the SMS questionnaire."""
