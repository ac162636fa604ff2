#!/usr/bin/env bash
# The machines run Node 20; Portico must also run on the current LTS lines. This runs
# the suites that lean on Node internals (TLS handshake, HTTP parser limits, cluster,
# streaming, the llhttp binding of the HTTP/1.1 upstream client) under Node 22 and 24,
# fetched from the npm registry (the `node` package).
#
# The HTTP/1.1 upstream client runs on Node's llhttp binding (`_http_common`, DEP0199)
# and falls back to undici connections when a Node release lacks it
# (docs/architecture.md, "Node internals"). So that the fallback keeps working, the proxy
# suites also run with PORTICO_H1_CLIENT=undici, on this Node and on each LTS line.
# (h1-pool.test.ts and hostile-upstream.test.ts run both clients in every run anyway.)
set -euo pipefail
cd "$(dirname "$0")/.."
SUITES=(
  test/unit
  test/integration/tls.test.ts
  test/integration/tls-options.test.ts
  test/integration/acme-tls-alpn.test.ts
  test/integration/proxy.test.ts
  test/integration/h1-pool.test.ts
  test/integration/hostile-upstream.test.ts
  test/integration/hostile-client.test.ts
  test/integration/upstream-response.test.ts
  test/integration/crash-guard.test.ts
  test/integration/regex-redos.test.ts
  test/integration/hardening.test.ts
  test/integration/runtime.test.ts
  test/integration/api.test.ts
  test/integration/metrics.test.ts
)
UNDICI_SUITES=(
  test/integration/proxy.test.ts
  test/integration/hardening.test.ts
  test/integration/h1-pool.test.ts
  test/integration/hostile-upstream.test.ts
)
echo "== node $(node --version), PORTICO_H1_CLIENT=undici"
PORTICO_H1_CLIENT=undici node node_modules/vitest/vitest.mjs run "${UNDICI_SUITES[@]}"
for v in ${NODE_LTS_VERSIONS:-22 24}; do
  echo "== node $v"
  npm exec --yes --package="node@$v" -- node --version
  npm exec --yes --package="node@$v" -- node node_modules/vitest/vitest.mjs run "${SUITES[@]}"
  echo "== node $v, PORTICO_H1_CLIENT=undici"
  PORTICO_H1_CLIENT=undici npm exec --yes --package="node@$v" -- \
    node node_modules/vitest/vitest.mjs run "${UNDICI_SUITES[@]}"
done
