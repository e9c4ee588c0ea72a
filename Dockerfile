# syntax=docker/dockerfile:1
# smscast in a container: `docker build -t smscast .`, then see deploy/docker-compose.yml
# (PostgreSQL, one server, two workers) and README's "Running in production".

# --- build: the portal's npm files and the compiled translations go into the package,
# then wheels of smscast and of everything it needs (so the runtime compiles nothing).
FROM python:3.11-slim-bookworm AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN ./dev assets \
    && .venv/bin/pip wheel --no-cache-dir --wheel-dir /wheels .
# A wheel without the portal's JavaScript, the API docs' Swagger UI or the Polish .mo
# would serve a broken portal: fail the build instead.
RUN python - <<'EOF'
import glob, sys, zipfile
names = zipfile.ZipFile(glob.glob("/wheels/smscast-*.whl")[0]).namelist()
missing = [
    folder for folder in ("smscast/web/static/vendor/", "smscast/api/docs_static/")
    if not any(name.startswith(folder) for name in names)
]
missing += [n[:-3] + ".mo" for n in names if n.endswith(".po") and n[:-3] + ".mo" not in names]
sys.exit(f"the smscast wheel lacks {', '.join(missing)}" if missing else 0)
EOF

# --- runtime: Python, smscast and its dependencies; no compiler, no node.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels smscast
RUN groupadd --system --gid 10001 smscast \
    && useradd --system --uid 10001 --gid smscast --home-dir /var/lib/smscast \
        --create-home --shell /usr/sbin/nologin smscast
# Listen on every address of the container; no built-in simulator unless asked for
# (`deploy/docker-compose.yml` runs `smscast simulator` as a service of its own). On
# SQLite (one container, `-v smscast-data:/var/lib/smscast`) the database is in the
# data folder; set SMSCAST_DATABASE_URL to a PostgreSQL URL for several processes.
ENV SMSCAST_DATA_DIR=/var/lib/smscast \
    SMSCAST_DATABASE_URL=sqlite:////var/lib/smscast/smscast.db \
    SMSCAST_HOST=0.0.0.0 \
    SMSCAST_PORT=8000 \
    SMSCAST_SIMULATOR=false
WORKDIR /var/lib/smscast
USER smscast:smscast
EXPOSE 8000
# There is no curl in the image: Python asks /healthz (any answer but 2xx, or none, fails).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SMSCAST_PORT', '8000'), timeout=4)"
ENTRYPOINT ["smscast"]
CMD ["serve"]
