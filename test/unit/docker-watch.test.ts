/*
 * The Docker provider's event half on its own (providers/docker/watch.ts and
 * the diagnostic log of index.ts): which events mean "stopping", how the
 * event stream is read, and that a bad label is logged once while it exists.
 * The whole provider against a real daemon is in test/integration/docker.test.ts.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createDiagnosticLog } from '../../providers/docker/index.js';
import type { ContainerInfo, LabelDiagnostic } from '../../providers/docker/build.js';
import {
  createContainerWatch,
  isStopSignal,
  readEvents,
  type DockerEvent,
} from '../../providers/docker/watch.js';
import { eventually } from '../helpers/eventually.js';

describe('isStopSignal', () => {
  it('a stop without a signal, or a terminating signal, means stopping', () => {
    expect(isStopSignal(undefined, undefined)).toBe(true);
    expect(isStopSignal('15', undefined)).toBe(true);
    expect(isStopSignal('SIGKILL', undefined)).toBe(true);
  });

  it("the container's own stop signal counts, by name or number", () => {
    expect(isStopSignal('SIGQUIT', 'SIGQUIT')).toBe(true);
    expect(isStopSignal('QUIT', 'SIGQUIT')).toBe(true);
    expect(isStopSignal('3', 'SIGQUIT')).toBe(true);
  });

  it('another signal (a reload) does not', () => {
    expect(isStopSignal('SIGHUP', undefined)).toBe(false);
    expect(isStopSignal('1', 'SIGQUIT')).toBe(false);
  });
});

describe('readEvents', () => {
  it('parses JSON lines split across chunks, skips bad ones, and ends with the stream', async () => {
    const stream = new PassThrough();
    const seen: DockerEvent[] = [];
    const done = readEvents(stream, new AbortController().signal, (ev) => seen.push(ev));
    stream.write('{"Action":"start","id":"a"}\n{"Act');
    stream.write('ion":"die","id":"b"}\nnot json\n\n');
    stream.end();
    await done;
    expect(seen).toEqual([
      { Action: 'start', id: 'a' },
      { Action: 'die', id: 'b' },
    ]);
  });

  it('ends when the signal aborts', async () => {
    const stream = new PassThrough();
    const ac = new AbortController();
    const done = readEvents(stream, ac.signal, () => {});
    ac.abort();
    await done;
    expect(stream.destroyed).toBe(true);
  });
});

describe('createContainerWatch', () => {
  const c = (id: string, stopSignal?: string): ContainerInfo => ({
    id,
    name: `/${id}`,
    labels: {},
    state: { status: 'running' },
    networks: [],
    ports: [],
    ...(stopSignal ? { stopSignal } : {}),
  });

  it('takes a container told to stop out at once, and re-lists after events', async () => {
    let listed = [c('a'), c('b', 'SIGQUIT')];
    let lists = 0;
    const published: string[][] = [];
    const watch = createContainerWatch({
      list: () => {
        lists++;
        return Promise.resolve(listed);
      },
      publish: (cs) => published.push(cs.map((x) => x.id)),
      relistDelayMs: 1,
      onListError: () => {},
      debug: () => {},
    });
    await watch.relist();
    expect(published).toEqual([['a', 'b']]);
    // a reload signal keeps it; its own stop signal takes it out before any list
    watch.onEvent({ Action: 'kill', Actor: { ID: 'b', Attributes: { signal: 'SIGHUP' } } });
    expect(published).toHaveLength(1);
    watch.onEvent({ Action: 'kill', Actor: { ID: 'b', Attributes: { signal: '3' } } });
    expect(published[1]).toEqual(['a']);
    listed = [c('a')];
    await eventually(() => expect(lists).toBeGreaterThanOrEqual(2));
    await eventually(() => expect(published.at(-1)).toEqual(['a']));
    watch.close();
  });

  it('ignores events of other object types', async () => {
    let lists = 0;
    const seen: object[] = [];
    const watch = createContainerWatch({
      list: () => {
        lists++;
        return Promise.resolve([]);
      },
      publish: () => {},
      relistDelayMs: 1,
      onListError: () => {},
      debug: (o) => seen.push(o),
    });
    watch.onEvent({ Type: 'network', Action: 'create' });
    expect(seen).toEqual([]);
    watch.onEvent({ Type: 'container', Action: 'start', id: 'abc' });
    expect(seen).toEqual([{ provider: 'docker', action: 'start', container: 'abc' }]);
    await eventually(() => expect(lists).toBe(1));
    watch.close();
  });
});

describe('createDiagnosticLog', () => {
  it('logs a bad label once while it exists, and again after it came back', () => {
    const lines: string[] = [];
    const log = createDiagnosticLog({
      error: (_o, msg) => lines.push(`error ${msg}`),
      warn: (_o, msg) => lines.push(`warn ${msg}`),
    });
    const d: LabelDiagnostic = {
      container: 'web',
      key: 'traefik.enable',
      value: 'maybe',
      message: 'expected true or false',
      level: 'error',
    };
    log([d]);
    log([d]);
    expect(lines).toEqual([
      'error container web: label traefik.enable="maybe": expected true or false',
    ]);
    log([]);
    log([{ ...d, level: 'warning' }]);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^warn /);
  });
});
