"""Delivery: what became of each message after it left — delivery reports matched to
their messages (each part counted once, each message finished once), silent messages
expired, status changes turned into webhook events and callbacks, carrier callbacks
(Twilio, Infobip, Kannel) verified and turned into events, and the message history.

Every callback is checked in `callback_checks.py` first (the connector it names,
settings that can verify it, a connector log line). WhatsApp and voice providers call
back through `whatsapp_callbacks.py` (Cloud API signature and handshake, Infobip's
secret; statuses and inbound messages) and `voice_callbacks.py` (Twilio and Infobip:
call outcomes as delivery reports, the opt-out digit as a voice opt-out, the TwiML
Twilio plays after it). `address_gone.py` records addresses a channel says not to use
again (`record_addresses_gone()`: a bounce or gone subscription suppressed, a complaint
or pressed digit an opt-out of that channel).

The runtime calls `apply_reports()` and `expire_silent()`; the dispatcher's outbox
calls `queue_message_events()`; routes call `receive_callback()`, `list_messages()`,
`show_message()`.

A delivery report is matched in `reports.py` (by connector and carrier id, one
report per part).

May call: `core`, `store`, `channels` (the report and inbound event types),
`config`, `accounts`, `sending` (connectors and their exchange log), `inbound` (a
carrier callback may carry an inbound text), `webhooks`, and `engine.tally`.
"""
