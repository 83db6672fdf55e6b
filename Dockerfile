# syntax=docker/dockerfile:1
# triagebot: multi-stage image (needs BuildKit, the default builder since Docker 23). Build:  docker build -t triagebot .
# Run:    docker run -d --env-file triagebot.env -v triagebot-data:/var/lib/triagebot triagebot
# (see deploy/compose.yaml and README "Running with Docker")

ARG PYTHON=python:3.11-slim-bookworm
# Optional extras: "images" adds NudeNet + OpenCV (nudity detection, crop-robust re-share matching, videos);
# "ocr" adds RapidOCR (text in images, +27 MB; also set [images] ocr = true). E.g. --build-arg EXTRAS=images,ocr
ARG EXTRAS=images

# ---- build: wheels for triagebot and every dependency --------------------------------------
FROM ${PYTHON} AS build
ARG EXTRAS
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY classifiers ./classifiers
RUN pip wheel --wheel-dir /wheels ".[${EXTRAS}]"

# ---- runtime: no compiler, no sources, non-root -------------------------------------------
FROM ${PYTHON}
ARG EXTRAS
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    TRIAGEBOT_CONFIG=/etc/triagebot/triagebot.toml
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels "triagebot[${EXTRAS}]" \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/triagebot --shell /usr/sbin/nologin triagebot \
 && install -d -o triagebot -g triagebot -m 0750 /var/lib/triagebot
# The model, lexicons and demo chat live in site-packages, owned by root: read-only for the bot.
COPY deploy/triagebot.docker.toml /etc/triagebot/triagebot.toml
USER triagebot
WORKDIR /var/lib/triagebot
# The database (and its -wal/-shm files) is the only state: keep it on a volume and back it up.
VOLUME ["/var/lib/triagebot"]
# /healthz and /metrics, bound to 127.0.0.1 inside the container by the baked config (HEALTHCHECK uses it).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4).status != 200)"]
# Fatal problems (rejected token, unusable database) exit non-zero at once: let the runtime restart or alert.
STOPSIGNAL SIGTERM
ENTRYPOINT ["triagebot"]
CMD ["run"]
