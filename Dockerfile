# syntax=docker/dockerfile:1
# One image for every CloudThrift process; the command picks the service:
#   cloudthrift bootstrap | worker scanner|analyzer|notifier|executor | serve | scan | dlq ...
# The production image (the default) carries no moto. docker-compose.yml builds with
# `--build-arg EXTRAS=local`, which adds it for `cloudthrift aws-emulator`, its local AWS.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtualenv with the pinned dependencies, then the project itself -------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/cloudthrift
WORKDIR /src
# Extras of pyproject.toml to add, comma-separated: `local` is moto (about 220 MiB, bench/README.md).
ARG EXTRAS=""
# Dependencies first (from pyproject.toml, pinned by constraints.txt): this layer survives code edits.
COPY pyproject.toml constraints.txt ./
RUN python -c "import os, tomllib; project = tomllib.load(open('pyproject.toml', 'rb'))['project']; extras = [e.strip() for e in os.environ.get('EXTRAS', '').split(',') if e.strip()]; print('\n'.join(project['dependencies'] + [d for e in extras for d in project['optional-dependencies'][e]]))" \
        > requirements.txt \
    && /opt/cloudthrift/bin/pip install --constraint constraints.txt --requirement requirements.txt
COPY README.md LICENSE ./
COPY shared ./shared
COPY services ./services
RUN /opt/cloudthrift/bin/pip install --constraint constraints.txt --no-deps . \
    && /opt/cloudthrift/bin/python -m compileall -q /opt/cloudthrift/lib

# --- runtime: the virtualenv only, run as an unprivileged user ----------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# CLOUDTHRIFT_LOG_FORMAT=json: JSON log lines, and structlog imported without rich (shared/logs.py),
# about 5 MiB less resident per worker; commands that print tables still import rich themselves.
ENV PATH=/opt/cloudthrift/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CLOUDTHRIFT_LOG_FORMAT=json
RUN groupadd --system --gid 10001 cloudthrift \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin cloudthrift
COPY --from=build /opt/cloudthrift /opt/cloudthrift
WORKDIR /app
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["cloudthrift"]
CMD ["--help"]
