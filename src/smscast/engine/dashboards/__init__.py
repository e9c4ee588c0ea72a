"""Dashboards: the portal's saved tile layouts (named, per user, shareable in the
workspace) and the figures their tiles show, read from pre-aggregated counters only —
never a scan of the messages table per page view.

The portal calls `list_dashboards()`, `get_dashboard()`, `ensure_default_dashboard()`
(a first visit creates the default one), `create_dashboard()`, `rename_dashboard()`,
`save_layout()`, `set_shared()`, `delete_dashboard()`, `copy_dashboard()`,
`dashboard_metrics()` (every figure a layout's tiles show for a time range and
filters) and `live_snapshot()` (the KPIs and a change marker for the live stream).

The tile catalogue and layout rules are pure and live in `core/dashboard_tiles.py`.

May call: `core`, `store` and the counters of `engine.traffic` and `engine.stats`
(figures come from `traffic_stats`, every text by the route it really took).
"""
