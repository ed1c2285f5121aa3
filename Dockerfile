# The sugang service: HTTP API, admission worker and metrics, on MySQL and Redis.
#
#   docker build --build-arg REVISION=$(git rev-parse HEAD) -t sugang .
#
# service/test/image/ runs this file's build and runtime steps on the same Node version and
# starts the result against MariaDB and Redis, and checks the rules below (dockerfile.test.ts).

# An exact release, not a floating tag: the same Dockerfile builds the same Node. Dependabot
# proposes updates of this pin. A digest would pin it harder, but only a registry can give one.
ARG NODE_VERSION=24.22.3

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
# The lockfile decides every version. Only the service workspace and the root's tools
# (TypeScript) are installed; optional dependencies are left out, so better-sqlite3 (native, for
# the embedded store only) is neither downloaded nor compiled, and no install script runs.
COPY package.json package-lock.json tsconfig.base.json ./
COPY service/package.json service/
RUN --mount=type=cache,target=/root/.npm \
    npm ci --workspace service --include-workspace-root --omit=optional --ignore-scripts --no-audit --no-fund
COPY service/tsconfig.build.json service/
COPY service/src service/src
RUN npm run build --workspace service

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ARG SOURCE_URL=https://github.com/sugang/sugang
ARG REVISION=unknown
# The licence is package.json's: not open source.
LABEL org.opencontainers.image.title="sugang" \
      org.opencontainers.image.description="Course registration for the rush minute: fair Redis queue admission on MySQL." \
      org.opencontainers.image.licenses="UNLICENSED" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.revision="${REVISION}"
WORKDIR /app
# Production dependencies of the service only: no compiler, test runner or tsx, and no SQLite.
# The files stay root's: the service user can read them, not change them.
COPY package.json package-lock.json ./
COPY service/package.json service/
RUN --mount=type=cache,target=/root/.npm \
    npm ci --workspace service --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund
COPY --from=build /app/service/dist service/dist
COPY service/bin service/bin

# The listeners bind every interface of the container; the metrics port is for the scraper and
# must stay off the load balancer.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    METRICS_HOST=0.0.0.0 \
    METRICS_PORT=9464
EXPOSE 3000 9464
# The base image's node user, by number so a runtime can check it is not root before starting.
USER 1000:1000
# Liveness only: readiness (MySQL and Redis answering) is the load balancer's question, and a
# container restarted for a database outage would not bring the database back. The slim image has
# no curl; Node's fetch does.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/health/live', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node is PID 1 with no shell or npm in between, so SIGTERM reaches the service, which drains
# (close-with-grace) and exits 0.
CMD ["node", "service/bin/sugang.js", "serve"]
