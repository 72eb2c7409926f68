# Concord FHIR server. Build: docker build -t concord . ; run with DATABASE_URL for PostgreSQL, or
# without it for the embedded store in /data.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
# Two glibc malloc arenas instead of one per thread (up to 8 per core): freed memory is reused across
# threads rather than kept in each thread's arena (docs/adr/0026). glibc reads it only at process start.
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 CONCORD_DATA_DIR=/data MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY migrations ./migrations
COPY profiles ./profiles
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/readyz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
# A young generation of 2 x 8 MB instead of V8's 2 x 16 MB (Node 24: 2 x 32 MB), which V8 keeps committed
# after a burst until its own memory-reducing collection (docs/adr/0026, addendum).
# V8_SEMI_SPACE_MB overrides it (16 is V8's own on Node 20): the cap costs 5-9 % more CPU on bulk writes.
CMD ["sh", "-c", "exec node --max-semi-space-size=${V8_SEMI_SPACE_MB:-8} dist/src/main.js"]
