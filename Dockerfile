# Production image: Debian's Chromium + fonts, the package without dev dependencies, wa-js
# fetched and integrity-checked at build time, a non-root user, data on /var/data.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DATA_DIR=/var/data \
    WA_JS_CACHE_DIR=/opt/ghl-whatsapp/wa-js \
    CHROMIUM_PATH=/usr/bin/chromium \
    HOST=0.0.0.0 \
    PORT=10000

# The same script CI runs, so a broken install step fails CI before it fails a deploy.
COPY scripts/system-deps.sh /tmp/system-deps.sh
RUN bash /tmp/system-deps.sh && rm -rf /var/lib/apt/lists/* /tmp/system-deps.sh

WORKDIR /opt/ghl-whatsapp/src
COPY pyproject.toml README.md manifest.json ./
COPY ghl_app ./ghl_app
COPY connectors ./connectors
COPY web ./web
COPY migrations ./migrations
RUN pip install . && ghl-whatsapp fetch-wajs

RUN useradd --create-home --uid 10001 app \
    && mkdir -p /var/data \
    && chown -R app:app /var/data \
    && chmod -R a+rX /opt/ghl-whatsapp
USER app
WORKDIR /home/app

EXPOSE 10000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD python -c "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz', timeout=4)"
# `serve` applies pending migrations, then listens on HOST:PORT with proxy headers trusted.
CMD ["ghl-whatsapp", "serve"]
