# syntax=docker/dockerfile:1
#
# The Kairos image: `kairos start` (an agent node) by default; `kairos migrate`, `kairos dashboard`
# and the job/run commands are one argument away (`docker run kairos:0.1.0 migrate`).
#
#   docker build -t kairos:0.1.0 .
#   docker run --rm -e DATABASE_URL=postgres://… kairos:0.1.0 migrate
#   docker run -d -e DATABASE_URL=postgres://… -p 127.0.0.1:9464:9464 kairos:0.1.0
#
# Base: Debian bookworm-slim rather than Alpine. Shell jobs expect glibc, bash and coreutils
# behaving as on the hosts people test them on, and tini comes from Debian's archive; Alpine would
# save about 25 MB at the price of musl surprises in users' shell jobs. Pin a digest
# (node:20.19-bookworm-slim@sha256:…) in your own build for bit-for-bit reproducible images.
#
# What the image leaves out: the embedded PostgreSQL (a 60 MB native package that
# `embedded-postgres` pulls in as an optional dependency). A node in a container talks to a real
# server through DATABASE_URL; without it `kairos start` stops at once with
# "No embedded PostgreSQL for linux-x64 …; set DATABASE_URL to use an existing server".

# ---- build: compile TypeScript and pack exactly what npm would publish ----------------------
FROM node:20.19-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are copied, and no dependency needs
# an install script to compile Kairos.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
COPY sql ./sql
# `npm pack` applies package.json's "files" list, so the image carries what the npm package
# carries (bin, dist, sql, and whatever is added there later, such as dashboard assets).
RUN npm run build \
 && npm pack --ignore-scripts --pack-destination /tmp \
 && mkdir /package \
 && tar -xzf /tmp/kairos-scheduler-*.tgz -C /package --strip-components=1

# ---- deps: production dependencies only ---------------------------------------------------
FROM node:20.19-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional drops the embedded PostgreSQL binaries (see above) and other platform extras.
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# ---- runtime ------------------------------------------------------------------------------
FROM node:20.19-bookworm-slim AS runtime
# tini as PID 1: shell jobs spawn children, and a child that outlives its parent is re-parented
# to PID 1, which must reap it or it stays a zombie; Node does not reap processes it did not
# spawn. tini also forwards SIGTERM to Kairos, which then drains running jobs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
# The probe and metrics server on all the container's interfaces (the container's network is its
# own; publishing a port is explicit). These override `http:` in a YAML file: change them here or
# with -e / the orchestrator's environment.
ENV NODE_ENV=production \
    KAIROS_LOG_FORMAT=json \
    KAIROS_HTTP_PORT=9464 \
    KAIROS_HTTP_HOST=0.0.0.0
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /package ./
RUN chmod 0755 bin/kairos.js \
 && ln -s /app/bin/kairos.js /usr/local/bin/kairos
# The base image's `node` user, by number so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
# /healthz, /readyz and /metrics of `kairos start` (KAIROS_HTTP_PORT).
EXPOSE 9464
# Node itself does the request: slim images have no curl or wget.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.KAIROS_HTTP_PORT || '9464') + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "kairos"]
CMD ["start"]
