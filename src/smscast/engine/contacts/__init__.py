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

May call: `core`, `store`, `config`, `accounts` (workspaces, audit), `webhooks`
(consent events), `campaigns` (a segment expression as a condition, for search) and
the counters in `engine.stats`.
"""
