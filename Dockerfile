# Multi-stage build of one Conferencing Node. The build stage runs the same commands as
# scripts/start (scripts/lib/prepare.sh): `npm ci`, the native RTP I/O addon, then `tsc -p tsconfig.build.json`;
# test/fresh-clone.test.ts runs these RUN lines on a fresh copy of the repository.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# @discordjs/opus compiles its native addon when no prebuilt binary matches; native/rtpio and native/srtp are ours.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY native ./native
RUN npm run --silent build:native
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx --no-install tsc -p tsconfig.build.json
RUN npm prune --omit=dev --no-audit --no-fund --loglevel=error

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/native/rtpio/build/Release/rtpio.node ./native/rtpio/build/Release/rtpio.node
COPY --from=build /app/native/srtp/build/Release/srtp.node ./native/srtp/build/Release/srtp.node
COPY web ./web
COPY examples ./examples
COPY LICENSE ./LICENSE
USER node
# The ports of examples/docker.yaml (and the embedded default's SIP, HTTP and RTP): SIP over UDP
# and TCP, SIP over TLS, HTTP(S) with the page, API and /ws, the control channel between nodes,
# plain RTP for SIP media and backplanes, browsers' ICE. A config with other ports publishes those.
EXPOSE 5060/udp 5060/tcp 5061/tcp 8080/tcp 7070/tcp 40000-40999/udp 50000-50199/udp
# /healthz answers 200 while the node takes calls (503 while it drains); the URL follows the
# config's http address and port: set CONFNODE_HEALTH_URL when they differ.
ENV CONFNODE_HEALTH_URL=http://127.0.0.1:8080/healthz
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.CONFNODE_HEALTH_URL,{signal:AbortSignal.timeout(2500)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Addresses default to 127.0.0.1: in a container pass a config whose node address is the
# container's own, e.g. `docker run ... confnode --config /etc/confnode.yaml --node n1`.
ENTRYPOINT ["node", "dist/node/main.js"]
