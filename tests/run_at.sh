#!/bin/sh
# Runs pytest as if it were another moment: tests/run_at.sh '2026-12-06 22:30:00' [pytest args]
#
# The moment is UTC. Every process of the run (pytest, `smscast worker` subprocesses)
# sees the same shifted wall clock, which keeps running from that moment. The monotonic
# clock stays real (FAKETIME_DONT_FAKE_MONOTONIC=1): a shifted one makes every timed
# wait in Python (Event.wait, Lock.acquire, queue.get with a timeout) hang, since Python
# hands the kernel absolute monotonic deadlines. tests/run_at_site/sitecustomize.py
# then mends the one casualty, time.sleep (see there).
# PostgreSQL runs outside and keeps the real time: smscast never asks it for the time.
# The three moments the suite must pass at (issue 15):
#   tests/run_at.sh '2026-12-06 22:30:00'   # 23:30 in Warsaw, inside default quiet hours
#   tests/run_at.sh '2027-07-15 10:00:00'   # noon of a summer day (CEST)
#   tests/run_at.sh '2027-03-28 01:30:00'   # 02:30 Warsaw, the hour skipped by the DST change
set -eu
if [ $# -lt 1 ]; then
    echo "usage: tests/run_at.sh 'YYYY-MM-DD HH:MM:SS' [pytest args]  (the moment is UTC)" >&2
    exit 2
fi
if ! command -v faketime >/dev/null 2>&1; then
    echo "faketime is not installed: apt-get install -y faketime" >&2
    exit 2
fi
moment=$1
shift
root=$(cd "$(dirname "$0")/.." && pwd)
export FAKETIME_DONT_FAKE_MONOTONIC=1
export PYTHONPATH="$root/tests/run_at_site${PYTHONPATH:+:$PYTHONPATH}"
exec faketime "$moment UTC" "$root/.venv/bin/python" -m pytest "$@"
