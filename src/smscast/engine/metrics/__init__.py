"""Prometheus metrics: what the processes count as they work (`instruments`), what the
database says at scrape time (`figures`, `collector`), and the registry a scrape reads
(`registry`), one process's or, with `PROMETHEUS_MULTIPROC_DIR`, every process's on
the machine.

Public use cases: `metrics_registry()` and `render()` behind `GET /metrics` and
`smscast worker --metrics-port`; `time_statements()` to time an engine's statements;
`forget_process()` when a process stops; `read_figures()` for the database's side;
`count_decisions()` and `observe_query()` for the counting done as the work happens.

May call: `core`, `store` and `config`; `prometheus_client`.
"""
