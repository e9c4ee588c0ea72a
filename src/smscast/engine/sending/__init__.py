"""Sending: the one way out. The outbox (every outgoing text is a row, and the row is
the task), routing each message to its sender number and connector, the dispatcher that
claims due messages of one connector and feeds them to it, the last checks before a
message leaves (validity, consent, quiet hours), texts held by quiet hours, connector
rows, their leases and their exchange log, and single messages sent over the API.

The runtime and the runner call `route_queued()`, `Dispatcher`, `take_lease()`,
`release_lease()`, `free_connectors()`, `mark_interrupted()`,
`cancel_cancelled_campaigns()`, `record_log_entries()`, `build_connector()`; routes,
the CLI and the portal call `send_message()`, `add_connector()`, `update_connector()`,
`list_connectors()`, `show_connector()`, `connectors_of()`,
`connector_log_entries()`, `outbox_counts()`, `test_connector()` (a real bind or
authenticated request that sends nothing) and `connector_traffic()`
(`connector_check.py`); other packages queue texts with
`enqueue_messages()`.

Quiet hours are checked at dispatch in `dispatch_checks.py` (`check_before_sending()`),
with consent on the message's own channel, suppressed addresses and the WhatsApp
24-hour window. `outgoing.py` adds what a channel carries beside the text when a message
leaves (an email's signed one-click unsubscribe link, a push subscription's keys, the
contact's language); `simulated_channels.py` gives `smscast serve`'s channel fakes their
connectors (`ensure_channel_simulators()`); `national_tables.py` reads a connector's
national shift tables without importing any channel (`national_tables_of()`, which a
launch needs before its first text can go).

May call: `core`, `store`, `channels`, `config`, `accounts`, `contacts` (a single
message's contact and consent), `delivery` (status change events, message history),
`inbound` (a sender number), `webhooks`, `engine.db_thread` and `engine.tally`.
"""
