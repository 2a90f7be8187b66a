# The three images, one file: readside-query, readside-projection, readside-operator.
# Build from the repository root with the workspace member and its package:
#   docker build --build-arg MEMBER=services/query --build-arg PACKAGE=readside-query \
#     -t readside-query .
#   docker build --build-arg MEMBER=services/projection --build-arg PACKAGE=readside-projection \
#     --build-arg DEFAULT_ARGS=run -t readside-projection .
#   docker build --build-arg MEMBER=operator --build-arg PACKAGE=readside-operator \
#     -t readside-operator .
# (`make images-app` does exactly this.) Every image carries the Alembic migrations
# (/app/migrations: the projection's `migrate` and the Helm hook use them).
# Targets: `runtime` (the default, last stage) and `dev` (Tilt/skaffold live update: the
# workspace packages editable from /src, owned by the app user, and a restart supervisor).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Only the manifests of the libs and the member: the dependency layer below changes only when
# the lock or a manifest does, not with every source edit.
FROM ${PYTHON_IMAGE} AS manifests
ARG MEMBER
WORKDIR /src
COPY libs libs
COPY ${MEMBER} ${MEMBER}
RUN find libs ${MEMBER} -type f ! -name pyproject.toml -delete

FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.9
ARG MEMBER
ARG PACKAGE
ARG DEFAULT_ARGS=""
# UV_SYSTEM_CERTS: trust the image's CA store (e.g. a TLS-intercepting proxy's CA).
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_SYSTEM_CERTS=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
RUN test -n "${MEMBER}" && test -n "${PACKAGE}" \
 || { echo "build with --build-arg MEMBER=<workspace member> --build-arg PACKAGE=<package>" >&2; exit 1; }
RUN python -m pip install --quiet "uv==${UV_VERSION}"
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY --from=manifests /src /src
RUN uv sync --frozen --no-dev --no-install-workspace --package ${PACKAGE}
# Then the workspace packages themselves, installed (not editable) into the same venv.
COPY libs libs
COPY ${MEMBER} ${MEMBER}
RUN uv sync --frozen --no-dev --no-editable --package ${PACKAGE} \
 && test -x /app/.venv/bin/${PACKAGE}
# The entry point, whatever the package: exec form cannot expand a build argument.
RUN mkdir -p /app/bin \
 && printf '#!/bin/sh\n[ "$#" -gt 0 ] || set -- %s\nexec /app/.venv/bin/%s "$@"\n' \
      "${DEFAULT_ARGS}" "${PACKAGE}" > /app/bin/entrypoint \
 && chmod 0755 /app/bin/entrypoint
# The migrations, bytecode-compiled here so that nothing is written at run time.
COPY migrations /app/migrations
RUN /app/.venv/bin/python -m compileall -q /app/migrations

FROM ${PYTHON_IMAGE} AS base
ENV PATH=/app/.venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    READSIDE_MIGRATIONS=/app/migrations
RUN groupadd --system --gid 10001 readside \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin readside
WORKDIR /app
COPY --from=build /app/bin/entrypoint /app/bin/entrypoint
COPY --from=build /app/migrations /app/migrations
# Numeric, so that Kubernetes can verify runAsNonRoot.
USER 10001:10001
ENTRYPOINT ["/app/bin/entrypoint"]

# The dev loop's build (Tilt, skaffold -p kind; never shipped): the same venv, with the
# workspace packages reinstalled editable from /src, which keeps the repository's layout. Live
# update then syncs e.g. services/<member>/src to /src/services/<member>/src, the very files
# Python imports, whatever the base image's Python version (no site-packages path involved).
FROM build AS dev-build
ARG PACKAGE
RUN UV_COMPILE_BYTECODE=0 uv sync --frozen --no-dev --package ${PACKAGE}

# Dev target: /src owned by the app user (live update writes there; the chart's
# values-live-update.yaml leaves the root filesystem writable), plus the restart supervisor,
# which watches SUPERVISE_WATCH.
FROM base AS dev
ENV SUPERVISE_WATCH=/src
COPY --from=dev-build /app/.venv /app/.venv
COPY --from=dev-build --chown=10001:10001 /src /src
COPY deploy/dev/supervise.py /app/bin/supervise.py

FROM base AS runtime
COPY --from=build /app/.venv /app/.venv
