"""Prometheus metrics: what the processes count as they work (`instruments`), what the
database says at scrape time (`figures`, `collector`), and the registry a scrape reads
(`registry`), one process's or, with `PROMETHEUS_MULTIPROC_DIR`, every process's on
the machine."""
