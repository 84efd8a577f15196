# syntax=docker/dockerfile:1

# Build stage: compile wheels for recloop and its dependencies into a venv.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/recloop
WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN /opt/recloop/bin/pip install --upgrade pip \
    && /opt/recloop/bin/pip install .

# Runtime stage: the venv only, run as an unprivileged user.
FROM python:3.11-slim
ENV PATH=/opt/recloop/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    RECLOOP_DATABASE_URL=sqlite:////data/recloop.db
RUN groupadd --system recloop \
    && useradd --system --gid recloop --home-dir /data --no-create-home recloop \
    && install -d -o recloop -g recloop /data
COPY --from=build /opt/recloop /opt/recloop
USER recloop
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
# The image has no curl; the standard library is enough for a probe.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
CMD ["recloop", "serve", "--host", "0.0.0.0", "--port", "8000"]
