# Multi-stage build of one Conferencing Node. The build stage runs the same commands as
# scripts/start (scripts/lib/prepare.sh): `npm ci`, the native RTP I/O addon, then `tsc -p tsconfig.build.json`;
# test/fresh-clone.test.ts runs these RUN lines on a fresh copy of the repository.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# @discordjs/opus compiles its native addon when no prebuilt binary matches; native/rtpio is ours.
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
COPY web ./web
COPY examples ./examples
USER node
# SIP (UDP+TCP), HTTP; RTP uses the range in the config (default 40000-40999/udp).
EXPOSE 5060/udp 5060/tcp 8080/tcp
# Addresses default to 127.0.0.1: in a container pass a config whose node address is the
# container's own, e.g. `docker run ... confnode --config /etc/confnode.yaml --node n1`.
ENTRYPOINT ["node", "dist/node/main.js"]
