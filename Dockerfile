# One image for both Fly.io process groups (fly.toml): `web` runs the gateway, `bridge` the
# RabbitMQ bridge. Built on the official Bun image, in two stages: dependencies are installed
# from the lockfile in the first (production only), and the runtime stage copies them with the
# sources and runs as the image's unprivileged `bun` user.
# Not built on the machine this was written on (no Docker engine there): test/deploy.test.ts
# checks its content against the code instead.

ARG BUN_VERSION=1.4.5

FROM oven/bun:${BUN_VERSION} AS deps
WORKDIR /app
COPY package.json bun.lock ./
RUN bun install --frozen-lockfile --production

FROM oven/bun:${BUN_VERSION}-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    BRIDGE_PORT=8090
COPY --from=deps --chown=bun:bun /app/node_modules ./node_modules
COPY --chown=bun:bun package.json bun.lock tsconfig.json ./
COPY --chown=bun:bun src ./src
USER bun
EXPOSE 8080 8090
# The gateway by default; fly.toml's [processes] name the command of each group.
CMD ["bun", "src/main/gateway.ts"]
