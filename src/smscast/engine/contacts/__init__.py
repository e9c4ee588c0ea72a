"""Contacts: the people a workspace may text, their attributes, and their consent —
edits one at a time, CSV imports (streamed, merged by phone, refused rows reported),
exports, erasure, and the append-only consent ledger with its evidence.

Routes, the CLI and the portal call: `create_contact()`, `get_contact()`,
`update_contact()`, `list_contacts()`, `upsert_contacts()`, `show_contact()`,
`count_contacts()`, `export_contacts()`, `erase_contact()`, `import_contacts()`,
`start_import()`, `show_import()`, `list_imports()`, `import_error_report()`,
`record_consent()`, `consent_history()`, `rebuild_consent_state()`, and for the portal's
contact list and its mapped imports `search_contacts()`, `export_found_contacts()`,
`save_upload()`, `preview_upload()`, `start_upload_import()`.

Channels beside SMS: a contact's address on each is found by `contact_of_address()`
(`addresses.py`); `channel_overview()` (`channel_overview.py`) shows one contact on every
channel (address, suppression, push subscriptions, consent per channel and purpose);
`push_subscriptions.py` keeps the web push subscriptions made or ended on the sign-up
page (and the page's VAPID key); `unsubscribe.py` turns an email's unsubscribe link into
an opt-out of email, with the link as evidence.

May call: `core`, `store`, `config`, `accounts` (workspaces, audit), `webhooks`
(consent events), `campaigns` (a segment expression as a condition, for search) and
the counters in `engine.stats`.
"""
