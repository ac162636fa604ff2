#!/usr/bin/env bash
# Paired latency comparison at one connection: Caddy and Portico (and optionally a second
# Portico build) side by side, rounds alternating the targets, so that each round's
# difference to Caddy is taken minutes apart at most. On a shared VM the paced p50 of one
# target drifts by hundreds of microseconds over an hour; the per-round difference drifts far
# less, and its median is the figure docs/benchmarks.md quotes.
#
#   bash test/bench/paced-pairs.sh                      # Caddy vs this checkout's dist/
#   OTHER_DIST=/tmp/old/dist bash test/bench/paced-pairs.sh   # plus a second build (A/B)
#   ROUNDS=20 PACED=2 B2B=2 bash test/bench/paced-pairs.sh
#
# Same setup as ../shared/bench/peers.sh: nginx backend (1 worker) and every server on CPU 0,
# wrk on CPU 1, one Portico worker with the access log and Prometheus metrics on. Loopback
# only; every wrk run is bounded by -d and timeout(1); it stops only the processes it started.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
bench=${BENCH_DIR:-$here/../shared/bench}
ROUNDS=${ROUNDS:-12}
PACED=${PACED:-2}      # s per paced run (1 connection, 2 ms pause between requests)
B2B=${B2B:-2}          # s per back-to-back run (1 connection), 0 = skip
WARM=${WARM:-5}        # s of warm-up at 50 connections per target (JIT, pools)
for b in wrk nginx caddy taskset; do
  command -v "$b" >/dev/null || { echo "paced-pairs: $b is not installed (see ../shared/bench/README.md)" >&2; exit 2; }
done
[[ -f $here/dist/src/bin.js ]] || { echo "paced-pairs: run npm run build first" >&2; exit 2; }

run=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$run"
}
trap cleanup EXIT

bp=19380
mkdir -p "$run/tmp-backend"
sed -e "s|@RUN@|$run|g" -e "s|@BACKEND_PORT@|$bp|g" "$bench/conf/backend-nginx.conf" >"$run/backend.conf"
taskset -c 0 nginx -p "$run" -e "$run/nginx.err" -c "$run/backend.conf" &
pids+=($!)
sed -e "s|@RUN@|$run|g" -e "s|@PORT@|19381|g" -e "s|@BACKEND_PORT@|$bp|g" "$bench/conf/Caddyfile" >"$run/Caddyfile"
GOMAXPROCS=1 taskset -c 0 caddy run --adapter caddyfile --config "$run/Caddyfile" >"$run/caddy.log" 2>&1 &
pids+=($!)
cat >"$run/dynamic.yml" <<YAML
http:
  routers:
    bench:
      rule: Host(\`bench.local\`)
      service: backend
  services:
    backend:
      loadBalancer:
        servers:
          - url: http://127.0.0.1:$bp
YAML
portico() { # name dist port
  taskset -c 0 node "$2/src/bin.js" --entryPoints.web.address="127.0.0.1:$3" \
    --providers.file.filename="$run/dynamic.yml" --providers.file.watch=false --workers=1 \
    --log.level=error --accessLog=true --accessLog.filePath="$run/access-$1.log" \
    --metrics.prometheus=true --metrics.prometheus.entryPoint=web >"$run/$1.log" 2>&1 &
  pids+=($!)
}
names=(caddy portico)
declare -A port=([caddy]=19381 [portico]=19382)
portico portico "$here/dist" 19382
if [[ -n ${OTHER_DIST:-} ]]; then
  names+=(other)
  port[other]=19383
  portico other "$OTHER_DIST" 19383
fi

for _ in $(seq 50); do
  ready=1
  for n in "${names[@]}"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: bench.local' "http://127.0.0.1:${port[$n]}/" || true)
    [[ $code == 200 ]] || ready=0
  done
  ((ready)) && break
  sleep 0.2
done
((ready)) || { echo "paced-pairs: a target did not answer 200; logs in $run" >&2; exit 1; }

p50() { # port delay_ms seconds -> p50 in us
  WRK_DELAY_MS=$2 taskset -c 1 timeout $(($3 + 15)) wrk -t1 -c1 -d"$3s" --latency -H 'Host: bench.local' \
    -s "$bench/wrk-report.lua" "http://127.0.0.1:$1/" | sed -n 's/^WRKJSON //p' |
    node -e 'const j=JSON.parse(require("fs").readFileSync(0)); console.log(Math.round(j.lat_us.p50))'
}
for n in "${names[@]}"; do
  taskset -c 1 timeout $((WARM + 15)) wrk -t2 -c50 -d"${WARM}s" -H 'Host: bench.local' "http://127.0.0.1:${port[$n]}/" >/dev/null
done
declare -A paced b2b
for r in $(seq "$ROUNDS"); do
  order=()
  for i in "${!names[@]}"; do order+=("${names[$(((i + r) % ${#names[@]}))]}"); done
  for n in "${order[@]}"; do
    ((B2B > 0)) && b2b[$n]+=" $(p50 "${port[$n]}" 0 "$B2B")"
    paced[$n]+=" $(p50 "${port[$n]}" 2 "$PACED")"
  done
  echo "round $r/$ROUNDS done" >&2
done

node - "$ROUNDS" "${names[@]}" <<EOF
const names = process.argv.slice(3);
const paced = { $(for n in "${names[@]}"; do printf '%s: "%s", ' "$n" "${paced[$n]}"; done) };
const b2b = { $(for n in "${names[@]}"; do printf '%s: "%s", ' "$n" "${b2b[$n]:-}"; done) };
const nums = (s) => s.trim() === '' ? [] : s.trim().split(/\s+/).map(Number);
const q = (a, f) => { const s = [...a].sort((x, y) => x - y); return s.length ? s[Math.floor((s.length - 1) * f)] : NaN; };
const caddy = nums(paced.caddy);
console.log('target    p50 @1c (median)   p50 paced (median)   paced minus Caddy, same round: median (q1, q3)   rounds lower');
for (const n of names) {
  const p = nums(paced[n]);
  const d = p.map((v, i) => v - caddy[i]);
  const lower = d.filter((x) => x < 0).length;
  const diff = n === 'caddy' ? '-' : q(d, 0.5) + ' us (' + q(d, 0.25) + ', ' + q(d, 0.75) + ')';
  console.log(n.padEnd(9), String(q(nums(b2b[n]), 0.5) + ' us').padStart(17), String(q(p, 0.5) + ' us').padStart(20), '  ' + diff.padEnd(47), n === 'caddy' ? '' : lower + '/' + p.length);
}
EOF
