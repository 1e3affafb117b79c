# Custody ledger API / projection worker image. Non-root, with a healthcheck.
# tests/integration/test_install.py repeats these steps outside Docker: a wheel built
# from what this stage copies, installed non-editably, then `ledger migrate` and
# `ledger serve` run from an empty directory. The migrations ship inside the package.
# The build stage compiles the domain with mypyc (decision 0027; setup.py): the same
# source, about 1.6 times as fast. The compiler stays in this stage.
FROM python:3.11-slim-bookworm AS build
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir "setuptools>=70.1" "mypy>=1.11,<2"
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY domain ./domain
COPY ledger ./ledger
COPY api ./api
COPY migrations ./migrations
RUN LEDGER_COMPILE=1 pip install --no-cache-dir --no-build-isolation --prefix=/install . \
    && python -c "import sys; sys.path.insert(0, '/install/lib/python3.11/site-packages'); import domain; assert domain.COMPILED, domain.COMPILED_STATE"

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LEDGER_HOST=0.0.0.0 \
    LEDGER_PORT=8000 \
    LEDGER_DATABASE_URL=sqlite:////var/lib/ledger/ledger.db \
    LEDGER_SIGNING_KEY_FILE=/var/lib/ledger/signing-key.pem
RUN groupadd --system --gid 10001 ledger && useradd --system --uid 10001 --gid ledger --home-dir /var/lib/ledger ledger \
    && mkdir -p /var/lib/ledger && chown ledger:ledger /var/lib/ledger
COPY --from=build /install /usr/local
WORKDIR /app
USER 10001:10001
EXPOSE 8000
VOLUME ["/var/lib/ledger"]
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('LEDGER_PORT', '8000')}/healthz\", timeout=2)"]
# Alone (SQLite in the volume) the container migrates, then serves; migrating an
# up-to-date database does nothing. compose.yml runs `ledger migrate` once, as its own
# service, and overrides this with `ledger serve` / `ledger project`.
CMD ["sh", "-c", "ledger migrate && exec ledger serve"]
