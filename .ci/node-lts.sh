#!/usr/bin/env bash
# The machines run Node 20; Portico must also run on the current LTS lines. This runs
# the suites that lean on Node internals (TLS handshake, HTTP parser limits, cluster,
# streaming) under Node 22 and 24, fetched from the npm registry (the `node` package).
set -euo pipefail
cd "$(dirname "$0")/.."
SUITES=(
  test/unit
  test/integration/tls.test.ts
  test/integration/tls-options.test.ts
  test/integration/acme-tls-alpn.test.ts
  test/integration/proxy.test.ts
  test/integration/h1-pool.test.ts
  test/integration/hardening.test.ts
  test/integration/runtime.test.ts
  test/integration/api.test.ts
  test/integration/metrics.test.ts
)
for v in ${NODE_LTS_VERSIONS:-22 24}; do
  echo "== node $v"
  npm exec --yes --package="node@$v" -- node --version
  npm exec --yes --package="node@$v" -- node node_modules/vitest/vitest.mjs run "${SUITES[@]}"
done
