"""Operations: what operators run to keep an installation healthy, not what users do.

Readiness for load balancers and orchestrators (`check_readiness()`, behind `GET
/readyz`: the database answers, its schema is the newest this code knows, and how the
connectors stand) and backups (`backup_database()` and `restore_database()`, behind
`smscast db backup` and `smscast db restore`: SQLite's online backup API while the server
runs, `pg_dump` and `pg_restore` on PostgreSQL; a restore first asks `live_leases()`
whether a worker is still running on the database).

May call: `core`, `store` and `config`; the standard library's `sqlite3` and the
PostgreSQL client programs for backups.
"""
