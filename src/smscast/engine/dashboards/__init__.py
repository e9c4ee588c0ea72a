"""The portal's dashboard, on the engine side.

Public use cases:

- `layouts`: `list_dashboards`, `get_dashboard`, `ensure_default_dashboard` (a first
  visit creates the default one), `create_dashboard`, `rename_dashboard`,
  `save_layout`, `set_shared`, `delete_dashboard`, `copy_dashboard`.
- `metrics`: `dashboard_metrics` (every figure a layout's tiles show for a time range
  and filters) and `live_snapshot` (the KPIs and a change marker for the SSE stream).

The tile catalogue and layout rules are pure and live in `smscast.core.dashboard_tiles`.
"""
