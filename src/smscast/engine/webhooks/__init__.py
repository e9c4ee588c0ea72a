"""Webhooks: the calls smscast makes to other systems — endpoints that subscribe to
events, events queued for them (one at a time, or in bulk on the busy paths), a
message's own callback URL and a keyword rule's webhook action as one-off targets, the
address policy every outgoing request obeys, and the one sender that signs, sends and
retries them all.

Routes, the CLI and the portal call `create_webhook()`, `update_webhook()`,
`delete_webhook()`, `list_webhooks()`, `show_webhook()`, `list_deliveries()`,
`send_test_event()`, `list_callback_deliveries()`, `show_callback_secret()`,
`list_rule_deliveries()`, `resend_delivery()` (`resend.py`); other packages queue
events with `emit_event()` and `emit_events()`; `smscast serve` runs
`run_webhook_worker()`.

May call: `core`, `store`, `config`, `accounts`.
"""
