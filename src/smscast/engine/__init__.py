"""The running system: use-case functions that own their transactions, and workers.

One sub-package per subject, the same words as `cli/` and `api/routes/` use::

    accounts/    workspaces, people and roles, sign-in, API keys, audit log
    contacts/    contacts, CSV imports, exports, erasure, the consent ledger
    campaigns/   segments, campaign life, launch and materialising, A/B, coupons, links
    sending/     the outbox, routing, the dispatcher, checks at dispatch, quiet hours,
                 connectors and their leases and exchange log, single API messages
    delivery/    delivery reports, message events and callbacks, carrier callbacks,
                 message history
    inbound/     received texts, routing them, keyword rules, double opt-in, numbers,
                 tickets, response reports
    webhooks/    endpoints, events, one-off targets, the address policy, the one sender
    dashboards/  the portal's saved tile layouts and the figures they show

Each package's docstring names its public use cases (what routes, the CLI, the portal
and workers call) and what it may call; callers import those, not `_private` helpers.

What stays at the top joins several packages or serves them all:

- `runtime`: the running system — connectors held by lease, their dispatchers, and the
  clockwork (launches, A/B winners, routing, expiry); it composes every package.
- `runner`: one held connector at work — fed by `sending`'s dispatcher, its events
  persisted through `events`.
- `events`: what a connector tells us, persisted — delivery reports to `delivery`,
  inbound texts to `inbound`, its exchange log to `sending`.
- `stats`: campaign counters in hourly buckets and the report that sums them, read by
  campaigns, contacts, inbound and the dashboards.
- `traffic`: every text's counters (campaign or not) in hourly buckets per route -
  connector, number, purpose, campaign - written by sending, delivery, inbound and
  campaigns, read by the dashboards.
- `tally`: those counters gathered over one batch by whoever changes them (sending,
  delivery, inbound) and written once per campaign (and route) and hour.
- `db_thread`: database work off the event loop, for the runtime and the dispatcher.
- `collector`: the garbage collector set for a long-running service process.
- `idempotency`: the API's replayed answers to retried POSTs; about requests, not a
  subject.

Quiet hours at dispatch: `sending/dispatch_checks.py`. Keyword precedence:
`core/router.py` decides, `inbound/receive.py` and `inbound/actions.py` carry it out.
A delivery report is matched to its message in `delivery/reports.py`.
"""
