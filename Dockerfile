# syntax=docker/dockerfile:1
#
# kajitori's container image: the `kajitori` command (reconciler, Slack bot and the local
# sandbox) on Python 3.11 with git (for GitPython) and kubectl (for Kustomize sources), run as
# the non-root user 10001. The Helm chart in helm/kajitori runs it with a read-only root
# filesystem; HOME and /tmp are writable volumes there.
#
#   docker build -t kajitori:0.1.0 .
#   docker run --rm kajitori:0.1.0 --help
#
# Multi-architecture: docker buildx build --platform linux/amd64,linux/arm64 ...

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: the virtualenv and kubectl -------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

# kubectl, pinned by version and checked against the SHA-256 published with that release
# (dl.k8s.io/release/<version>/bin/linux/<arch>/kubectl.sha256). Bump all three together.
ARG KUBECTL_VERSION=v1.33.0
ARG KUBECTL_SHA256_AMD64=9efe8d3facb23e1618cba36fb1c4e15ac9dc3ed5a2c2e18109e4a66b2bac12dc
ARG KUBECTL_SHA256_ARM64=48541d119455ac5bcc5043275ccda792371e0b112483aa0b29378439cf6322b9
ARG TARGETARCH
RUN set -eu; \
    arch="${TARGETARCH:-$(dpkg --print-architecture)}"; \
    case "${arch}" in \
        amd64) sum="${KUBECTL_SHA256_AMD64}" ;; \
        arm64) sum="${KUBECTL_SHA256_ARM64}" ;; \
        *) echo "no pinned kubectl checksum for architecture ${arch}" >&2; exit 1 ;; \
    esac; \
    python -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
        "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/${arch}/kubectl" /tmp/kubectl; \
    echo "${sum}  /tmp/kubectl" | sha256sum --check --strict -; \
    install -m 0755 /tmp/kubectl /usr/local/bin/kubectl; \
    rm /tmp/kubectl

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/kajitori
ENV PATH=/opt/kajitori/bin:${PATH}
WORKDIR /src

# The pinned dependencies first, so that a change of kajitori's sources alone reuses this
# layer; then kajitori itself without resolving anything again, and `pip check` to prove the
# lock satisfies every requirement.
COPY requirements.lock ./
RUN pip install --require-virtualenv -r requirements.lock
COPY pyproject.toml README.md ./
COPY reconciler ./reconciler
COPY bot ./bot
COPY sandbox ./sandbox
RUN pip install --require-virtualenv --no-deps . \
    && pip check \
    && kajitori --help >/dev/null

# ---- runtime ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}

LABEL org.opencontainers.image.title="kajitori" \
      org.opencontainers.image.description="ChatOps for pull-based GitOps: an Argo CD-style reconciler and a Slack bot" \
      org.opencontainers.image.licenses="Apache-2.0"

# git for GitPython (openssh-client for SSH repositories), tini as PID 1 so that the git and
# kubectl child processes are reaped and SIGTERM reaches kajitori.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates git openssh-client tini \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --gid 10001 kajitori \
    && useradd --uid 10001 --gid 10001 --home-dir /home/kajitori --create-home \
        --shell /usr/sbin/nologin kajitori \
    && install -d -o 10001 -g 10001 /var/lib/kajitori /var/cache/kajitori

COPY --from=build /usr/local/bin/kubectl /usr/local/bin/kubectl
COPY --from=build /opt/kajitori /opt/kajitori

ENV PATH=/opt/kajitori/bin:${PATH} \
    HOME=/home/kajitori \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

USER 10001:10001
WORKDIR /home/kajitori
EXPOSE 8080

ENTRYPOINT ["/usr/bin/tini", "--", "kajitori"]
CMD ["run", "--config", "/etc/kajitori/config.yaml", "--in-cluster"]
