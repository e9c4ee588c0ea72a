"""Inbound: texts people send to our numbers — stored, told apart from a carrier's
resend, routed (the pure router in `core.router` decides: compliance keywords, keyword
rule, number rule, campaign reply, ticket), and the decision carried out in the same
transaction (replies queued, opt-in and opt-out with the exact words as evidence,
double opt-in, tickets opened). Also the numbers a workspace owns, their keyword rules,
support tickets answered by agents, and how people answered (response reports).

The event pump calls `handle_inbound_batch()`; routes, the CLI and the portal call
`handle_inbound()`, `add_number()`, `list_numbers()`, `set_auto_reply()`,
`add_keyword_rule()`, `list_keyword_rules()`, `remove_keyword_rule()`,
`link_keyword_campaign()`, `edit_compliance_word()`, `list_compliance_words()`,
`list_tickets()`, `show_ticket()`, `reply_to_ticket()`, `assign_ticket()`,
`add_ticket_note()`, `solve_ticket()`, `reopen_ticket()`, `number_report()`,
`keyword_rule_report()`, `find_inbound_outcome()`.

The portal's pages also call: for numbers `number_overview()`, `number_details()`,
`recent_inbound()` (`number_views.py`); for keywords
`preview_route()` (`route_preview.py`: the router's own decision for a sample text,
writing nothing), `update_keyword_rule()`, `set_keyword_rule_enabled()`,
`keyword_rule_by_id()`, `compliance_words_by_language()`, `compliance_replies()`,
`set_compliance_reply()`; for the inbox `inbox_version()`, `inbox_tickets()`
(`inbox_feed.py`: one cheap query a tick for the live list), `list_saved_replies()`,
`get_saved_reply()`, `save_saved_reply()`, `delete_saved_reply()`,
`fill_saved_reply()`, `mark_replying()`, `stop_replying()`, `who_is_replying()`,
`ticket_pulse()` (`presence.py`); for response analysis `response_analysis()`,
`analysis_rows()` (`response_analysis.py`, by day on the report's own definitions
`response_figures()` and `first_answer_delays()`).

Email and WhatsApp arrive through the same router: `addressed.py` finds the contact,
number and answered campaign of a message addressed by email or WhatsApp number, and
`mail_receiver.py` is the SMTP listener inside `smscast serve` that stores replies,
bounces and complaints for their workspace (`start_mail_receiver()`).

Keyword precedence is decided in `core/router.py` and carried out by `receive.py`
(routing a batch) and `actions.py` (its effects).

May call: `core`, `store`, `channels`, `config`, `accounts`, `sending` (replies leave
through the one outbox), `webhooks`, and the counters in `engine.stats` /
`engine.tally`.
"""
