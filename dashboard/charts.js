/*
 * Small hand-drawn SVG line charts for the traffic samples (one per second).
 * Gaps (seconds with no request, where a percentile has no value) break the line.
 */
import { h, svg, fmtNum } from './dom.js';

const W = 240;
const H = 56;
const PAD = 3;

export const METRICS = [
  {
    key: 'rps',
    title: 'Requests/s',
    unit: '',
    value: (s) => s.requests,
  },
  {
    key: 'errors',
    title: 'Error rate (4xx+5xx)',
    unit: '%',
    value: (s) =>
      s.requests > 0 ? (100 * ((s.errors4xx ?? 0) + (s.errors5xx ?? 0))) / s.requests : null,
  },
  { key: 'p50', title: 'p50 latency', unit: ' ms', value: (s) => s.p50Ms ?? null },
  { key: 'p99', title: 'p99 latency', unit: ' ms', value: (s) => s.p99Ms ?? null },
];

function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** the line's path: M/L commands, a new M after every gap */
function pathOf(values, max) {
  const n = values.length;
  const step = n > 1 ? (W - 2 * PAD) / (n - 1) : 0;
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null) {
      pen = false;
      return;
    }
    const x = PAD + i * step;
    const y = H - PAD - (v / max) * (H - 2 * PAD);
    d += `${pen ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
    pen = true;
  });
  return d;
}

/** the newest defined value */
function latest(values) {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i];
  return null;
}

export function chart(samples, metric, { compact = false } = {}) {
  const values = samples.map((s) => num(metric.value(s)));
  const defined = values.filter((v) => v !== null);
  const max = Math.max(metric.key === 'errors' ? 100 : 1, ...defined);
  const now = latest(values);
  const shown = `${fmtNum(now)}${now === null ? '' : metric.unit}`;
  const label = `${metric.title}: now ${shown}, max ${fmtNum(defined.length ? Math.max(...defined) : null)}${metric.unit} over ${values.length} s`;
  const d = pathOf(values, max);
  return h(
    'figure',
    {
      class: `chart chart-${metric.key}${compact ? ' chart-compact' : ''}`,
      'data-metric': metric.key,
    },
    compact
      ? null
      : h(
          'figcaption',
          null,
          h('span', { class: 'chart-title' }, metric.title),
          h('output', { class: 'chart-value', 'data-testid': `traffic-${metric.key}` }, shown),
        ),
    svg(
      'svg',
      {
        viewBox: `0 0 ${W} ${H}`,
        preserveAspectRatio: 'none',
        role: 'img',
        'aria-label': label,
        class: 'spark',
      },
      svg('title', null, label),
      svg('line', { x1: 0, x2: W, y1: H - PAD, y2: H - PAD, class: 'axis' }),
      d ? svg('path', { d, class: 'line' }) : null,
    ),
  );
}

export function noTraffic() {
  return h('p', { class: 'muted', 'data-testid': 'no-traffic' }, 'no traffic data');
}

/** the four charts of one router, or "no traffic data" */
export function routerCharts(samples, available) {
  if (available === false) return noTraffic();
  const list = samples ?? [];
  if (list.length === 0)
    return h('p', { class: 'muted', 'data-testid': 'no-traffic' }, 'no traffic data yet');
  const sum = summary(list);
  return h(
    'div',
    null,
    h(
      'p',
      { class: 'traffic-summary' },
      h('output', { 'data-testid': 'traffic-total' }, String(sum.requests)),
      ' requests in the last minute',
      sum.errorRate === null ? '' : `, ${fmtNum(sum.errorRate)} % errors`,
    ),
    h(
      'div',
      { class: 'charts' },
      METRICS.map((m) => chart(list, m)),
    ),
  );
}

/** requests in the last `seconds` samples, and the latest second's numbers */
export function summary(samples, seconds = 60) {
  const list = (samples ?? []).slice(-seconds);
  let requests = 0;
  let errors = 0;
  for (const s of list) {
    requests += s.requests ?? 0;
    errors += (s.errors4xx ?? 0) + (s.errors5xx ?? 0);
  }
  const last = list[list.length - 1];
  return {
    requests,
    errorRate: requests > 0 ? (100 * errors) / requests : null,
    rps: last ? last.requests : 0,
    p50: last ? num(last.p50Ms) : null,
    p99: last ? num(last.p99Ms) : null,
  };
}
