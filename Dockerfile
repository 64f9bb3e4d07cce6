# The pipeline's own processes (streaming consumers, control-plane worker, local Glue/Athena endpoint)
# for users with Docker. Without Docker, `npm start` runs the same processes directly.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
ENV NODE_ENV=production
CMD ["node_modules/.bin/tsx", "src/cli/main.ts"]
