#!/usr/bin/env bash
# Runs Portico as the "ours" target of ../shared/bench/peers.sh (see docs/benchmarks.md):
#   OURS_CMD="bash $PWD/test/bench/peers-ours.sh" OURS_PORT=18090 bash ../shared/bench/peers.sh
# Routing on (Host rule), access log on (to a file), Prometheus metrics on, 1 worker per proxy
# core as the harness gives every peer.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d)
cat >"$dir/dynamic.yml" <<YAML
http:
  routers:
    bench:
      rule: Host(\`${BENCH_ROUTE_HOST:-bench.local}\`)
      service: backend
  services:
    backend:
      loadBalancer:
        servers:
          - url: ${BENCH_BACKEND_URL}
YAML
exec node "$here/dist/src/bin.js" \
  --entryPoints.web.address="127.0.0.1:${OURS_PORT}" \
  --providers.file.filename="$dir/dynamic.yml" --providers.file.watch=false \
  --workers="${PORTICO_WORKERS:-1}" --log.level=error \
  --accessLog=true --accessLog.filePath="$dir/access.log" \
  --metrics.prometheus=true --metrics.prometheus.entryPoint=web
