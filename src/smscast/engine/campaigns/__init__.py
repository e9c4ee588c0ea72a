"""Campaigns: segments (who), the campaign's life (draft, scheduled, sending, paused,
completed), its launch — the plan, then segment members materialised batch by batch into
outbox rows with their text, coupon and tracked link — A/B tests and their winners,
coupon pools, tracked links and the preview before launch.

Routes, the CLI and the portal call: `count_segment()`, `save_segment()`,
`list_segments()`, `segment_by_id()`, `edit_segment()`, `delete_segment()`,
`create_campaign()`, `list_campaigns()`, `change_status()`, `preview_campaign()`,
`launch_campaign()`, `add_codes()`, `generate_codes()`, `pool_summaries()`,
`redeem_coupon()`, `follow_link()`.
The portal's campaign pages also call `list_campaign_overviews()`, `campaign_details()`
and `report_figures()` (the report as CSV rows); its campaign builder (`builder_drafts`)
calls `start_builder_draft()`, `save_builder_draft()`, `load_builder_draft()`,
`list_builder_drafts()`, `finish_builder_draft()`, `template_variables()`,
`audience_expression()`, `draft_from_fields()`, `check_audience()` and
`check_draft_message()` (the launch's own encoding and parts, writing nothing).
The runtime's clockwork calls `launch_due_campaigns()`, `decide_ab_winners()`,
`complete_finished_campaigns()` and `fall_back_due()` (`fallback.py`: once a second,
the next channel of a chain for messages refused or not delivered in time).
A campaign on several channels reports each one's figures through
`campaign_report_with_channels()` (`channel_figures()` in `channel_report.py`).

May call: `core`, `store`, `config`, `accounts` (workspaces, audit), `sending`
(the connectors and sender routes a launch checks), `webhooks` (campaign events) and the counters in
`engine.stats` / `engine.tally`.
"""
