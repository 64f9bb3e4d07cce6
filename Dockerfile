# syntax=docker/dockerfile:1
# The pipeline's processes, compiled: one image, one process per container, chosen by the command
# (docker-compose.yml and deploy/kubernetes run the same image):
#   node dist/workers/control-plane-worker.js      node dist/streaming/dynamo-sink/main.js
#   node dist/streaming/cdc-relay/main.js          node dist/streaming/s3-sink/main.js
#   node dist/streaming/generator/main.js ...      node dist/cli/pipeline.js provision
#   node dist/lake-endpoint/main.js --host 0.0.0.0 (the local Glue/Athena endpoint, for the Docker stack)
# Node 26 is the Active LTS line (since 2026-10-28).
ARG NODE_IMAGE=node:26-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS production-dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    # Scrapable from outside the container; a fixed port for probes and scrape configs.
    METRICS_HOST=0.0.0.0 \
    METRICS_PORT=9464 \
    DATA_DIR=/data
WORKDIR /app
# Code and dependencies stay root-owned (read-only to the process); only the data directories are its own,
# so a named volume mounted there starts out writable by it.
COPY --from=production-dependencies /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY reports ./reports
COPY scripts/http-probe.js ./scripts/
RUN mkdir -p /data /app/.data && chown node:node /data /app/.data
# The official image's unprivileged user (uid 1000).
USER node
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["node", "scripts/http-probe.js"]
CMD ["node", "dist/workers/control-plane-worker.js"]
