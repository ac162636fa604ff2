# Portico's container image (issue 14 item 8): a multi-stage build on Node's
# current LTS, slim Debian variant. The first stage installs the dev
# dependencies and compiles TypeScript to dist/; the runtime stage installs the
# production dependencies only and copies dist/ in, so the image carries no
# compiler, test tools or sources.
#
#   docker build -t portico:dev .
#   docker run --rm -p 80:80 -p 8080:8080 -e PORTICO_PING=true \
#     -v "$PWD/dynamic.yml:/etc/portico/dynamic.yml:ro" \
#     portico:dev --entryPoints.web.address=:80 --api.insecure \
#     --providers.file.filename=/etc/portico/dynamic.yml
#
# NODE_IMAGE can point at a mirror or a pinned digest (docs/deploy-kubernetes.md).
ARG NODE_IMAGE=node:24-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
# the lock file alone first, so the dependency layer is cached across source edits;
# --ignore-scripts: `prepare` builds, and the sources are not here yet
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY providers ./providers
COPY middlewares ./middlewares
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /opt/portico
COPY package.json package-lock.json ./
# production dependencies only; --ignore-scripts again: `prepare` would run the
# TypeScript build, which needs the dev dependencies (dist/ comes from the build stage)
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force \
    && rm -rf /root/.npm /tmp/*
COPY --from=build /src/dist ./dist
COPY dashboard ./dashboard
COPY deploy/quickstart ./deploy/quickstart
# `portico` on PATH; /etc/portico is the working directory, so a mounted
# /etc/portico/portico.yml is found like Traefik's /etc/traefik/traefik.yml;
# /data is where acme.json goes (Traefik's chart mounts its volume there).
RUN chmod 0755 dist/src/bin.js \
    && ln -s /opt/portico/dist/src/bin.js /usr/local/bin/portico \
    && mkdir -p /etc/portico /data \
    && chown 65532:65532 /data \
    && chmod 0700 /data

# A numeric user, so Kubernetes can verify runAsNonRoot; 65532 as in Traefik's chart.
USER 65532:65532
WORKDIR /etc/portico
# 80/443: the usual web/websecure ports (Docker lets a non-root process bind
# them: it sets net.ipv4.ip_unprivileged_port_start=0 in containers); 8000:
# Portico's web entrypoint when none is configured; 8080: the `traefik`
# entrypoint (API, dashboard, /ping).
EXPOSE 80 443 8000 8080
# Asks /ping on the ping entrypoint. The health check is a process of its own,
# started with no arguments: it reads /etc/portico/portico.yml and the
# PORTICO_*/TRAEFIK_* variables, never the flags given to the container, so
# `docker run IMAGE --ping` alone is reported unhealthy. Working forms:
# `-e PORTICO_PING=true` next to the flags (plus PORTICO_PING_ENTRYPOINT and its
# PORTICO_ENTRYPOINTS_<NAME>_ADDRESS if not traefik on :8080), or `ping: {}` in
# the configuration file (docs/deploy-kubernetes.md, "Health check").
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["portico", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["portico"]
