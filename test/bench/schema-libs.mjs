#!/usr/bin/env node
/*
 * Which schema library for the one configuration schema (issue 12 §1)?
 * `node test/bench/schema-libs.mjs [routers]` validates the same dynamic
 * configuration (N routers, N one-server services, a headers middleware on
 * every tenth) with the same schema written in each candidate, and prints:
 * build time of the schema, first validation (compile included) and the
 * median of later validations, whether a typo is found, and the JSON Schema
 * each gives out (size, whether ajv accepts it and the config validates
 * against it).
 *
 * Candidates the project does not depend on are optional: install them
 * without saving to try them (`npm i --no-save zod valibot
 * @valibot/to-json-schema @sinclair/typebox`); missing ones are skipped.
 * Pure CPU, no network; bounded by the sizes given.
 */
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

const N = Number(process.argv[2] ?? 10_000);
const ROUNDS = 7;

function config(n) {
  const routers = {};
  const services = {};
  const middlewares = {};
  for (let i = 0; i < n; i++) {
    routers[`r${i}`] = {
      rule: `Host(\`h${i}.example\`)`,
      service: `s${i}`,
      entryPoints: ['web'],
      priority: i,
      ...(i % 10 === 0 ? { middlewares: [`m${i}`], tls: { certResolver: 'le' } } : {}),
    };
    services[`s${i}`] = {
      loadBalancer: {
        servers: [{ url: `http://10.0.${i >> 8}.${i & 255}:80` }],
        passHostHeader: true,
      },
    };
    if (i % 10 === 0)
      middlewares[`m${i}`] = {
        headers: { customRequestHeaders: { 'X-Tenant': String(i) }, frameDeny: true },
      };
  }
  return { http: { routers, services, middlewares } };
}

/** Time to import the package in a fresh process: what it adds to Portico's start. */
function importMs(pkg) {
  const code = `const t=performance.now();await import(${JSON.stringify(pkg)});console.log(performance.now()-t)`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], {
    encoding: 'utf8',
  });
  return Number(out).toFixed(0);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const ms = (x) => x.toFixed(1);

async function optional(name) {
  try {
    return await import(name);
  } catch {
    return undefined;
  }
}

/* ---------------------------------------------------------------- schemas */

function typebox(Type) {
  const Str = Type.String();
  const StrList = Type.Array(Type.String());
  const Router = Type.Object(
    {
      rule: Type.String({ description: 'the rule' }),
      service: Type.String(),
      entryPoints: Type.Optional(StrList),
      middlewares: Type.Optional(StrList),
      priority: Type.Optional(Type.Integer()),
      tls: Type.Optional(
        Type.Object(
          { certResolver: Type.Optional(Str), options: Type.Optional(Str) },
          { additionalProperties: false },
        ),
      ),
    },
    { additionalProperties: false },
  );
  const Server = Type.Object(
    { url: Type.String(), weight: Type.Optional(Type.Integer({ minimum: 0 })) },
    { additionalProperties: false },
  );
  const Service = Type.Object(
    {
      loadBalancer: Type.Optional(
        Type.Object(
          {
            servers: Type.Optional(Type.Array(Server)),
            passHostHeader: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
      ),
    },
    { additionalProperties: false },
  );
  const Headers = Type.Object(
    {
      customRequestHeaders: Type.Optional(Type.Record(Type.String(), Type.String())),
      frameDeny: Type.Optional(Type.Boolean()),
    },
    { additionalProperties: false },
  );
  const Middleware = Type.Object(
    { headers: Type.Optional(Headers) },
    { additionalProperties: false },
  );
  return Type.Object({
    http: Type.Object({
      routers: Type.Record(Type.String(), Router),
      services: Type.Record(Type.String(), Service),
      middlewares: Type.Record(Type.String(), Middleware),
    }),
  });
}

function zodSchema(z) {
  const Router = z.strictObject({
    rule: z.string().meta({ description: 'the rule' }),
    service: z.string(),
    entryPoints: z.array(z.string()).optional(),
    middlewares: z.array(z.string()).optional(),
    priority: z.number().int().optional(),
    tls: z
      .strictObject({ certResolver: z.string().optional(), options: z.string().optional() })
      .optional(),
  });
  const Server = z.strictObject({ url: z.string(), weight: z.number().int().min(0).optional() });
  const Service = z.strictObject({
    loadBalancer: z
      .strictObject({ servers: z.array(Server).optional(), passHostHeader: z.boolean().optional() })
      .optional(),
  });
  const Headers = z.strictObject({
    customRequestHeaders: z.record(z.string(), z.string()).optional(),
    frameDeny: z.boolean().optional(),
  });
  return z.object({
    http: z.object({
      routers: z.record(z.string(), Router),
      services: z.record(z.string(), Service),
      middlewares: z.record(z.string(), z.strictObject({ headers: Headers.optional() })),
    }),
  });
}

function valibotSchema(v) {
  const Router = v.strictObject({
    rule: v.pipe(v.string(), v.description('the rule')),
    service: v.string(),
    entryPoints: v.optional(v.array(v.string())),
    middlewares: v.optional(v.array(v.string())),
    priority: v.optional(v.pipe(v.number(), v.integer())),
    tls: v.optional(
      v.strictObject({ certResolver: v.optional(v.string()), options: v.optional(v.string()) }),
    ),
  });
  const Server = v.strictObject({
    url: v.string(),
    weight: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  });
  const Service = v.strictObject({
    loadBalancer: v.optional(
      v.strictObject({
        servers: v.optional(v.array(Server)),
        passHostHeader: v.optional(v.boolean()),
      }),
    ),
  });
  const Headers = v.strictObject({
    customRequestHeaders: v.optional(v.record(v.string(), v.string())),
    frameDeny: v.optional(v.boolean()),
  });
  return v.object({
    http: v.object({
      routers: v.record(v.string(), Router),
      services: v.record(v.string(), Service),
      middlewares: v.record(v.string(), v.strictObject({ headers: v.optional(Headers) })),
    }),
  });
}

/* ---------------------------------------------------------------- runners */

const candidates = [];

const tb1 = await optional('typebox');
const tb1c = await optional('typebox/compile');
const tb1v = await optional('typebox/value');
if (tb1 && tb1c && tb1v) {
  candidates.push({
    name: 'typebox 1.x (Compile)',
    pkg: 'typebox',
    build: () => typebox(tb1.default),
    prepare: (s) => tb1c.Compile(s),
    check: (c, v) => c.Check(v),
    jsonSchema: (s) => s,
  });
  candidates.push({
    name: 'typebox 1.x (Value.Check)',
    pkg: 'typebox',
    build: () => typebox(tb1.default),
    prepare: (s) => s,
    check: (s, v) => tb1v.default.Check(s, v),
    jsonSchema: (s) => s,
  });
}
const tb0 = await optional('@sinclair/typebox');
const tb0c = await optional('@sinclair/typebox/compiler');
if (tb0 && tb0c) {
  candidates.push({
    name: '@sinclair/typebox 0.34 (TypeCompiler)',
    pkg: '@sinclair/typebox',
    build: () => typebox(tb0.Type),
    prepare: (s) => tb0c.TypeCompiler.Compile(s),
    check: (c, v) => c.Check(v),
    jsonSchema: (s) => JSON.parse(JSON.stringify(s)),
  });
}
const zod = await optional('zod');
if (zod) {
  const z = zod.z ?? zod.default;
  candidates.push({
    name: 'zod 4',
    pkg: 'zod',
    build: () => zodSchema(z),
    prepare: (s) => s,
    check: (s, v) => s.safeParse(v).success,
    jsonSchema: (s) => z.toJSONSchema(s),
  });
}
const valibot = await optional('valibot');
const vjs = await optional('@valibot/to-json-schema');
if (valibot) {
  candidates.push({
    name: 'valibot 1',
    pkg: 'valibot',
    build: () => valibotSchema(valibot),
    prepare: (s) => s,
    check: (s, v) => valibot.safeParse(s, v).success,
    jsonSchema: vjs ? (s) => vjs.toJsonSchema(s) : undefined,
  });
}
const ajvMod = await optional('ajv/dist/2020.js');

const data = config(N);
const typo = config(10);
typo.http.middlewares.m0.headers.customRequestHeadrs = { a: 'b' };
console.log(
  `schema libraries, ${N} routers + ${N} services + ${N / 10} middlewares, node ${process.version}`,
);
console.log(
  '| library | import (cold) | build schema | first check | median check | typo found | JSON Schema bytes | ajv accepts it, config valid |',
);
console.log('| --- | ---: | ---: | ---: | ---: | --- | ---: | --- |');
for (const c of candidates) {
  let t = performance.now();
  const schema = c.build();
  const buildMs = performance.now() - t;
  t = performance.now();
  const prepared = c.prepare(schema);
  const ok = c.check(prepared, data);
  const firstMs = performance.now() - t;
  const times = [];
  for (let i = 0; i < ROUNDS; i++) {
    t = performance.now();
    c.check(prepared, data);
    times.push(performance.now() - t);
  }
  const typoFound = !c.check(prepared, typo);
  let js = '-';
  let ajvOk = '-';
  if (c.jsonSchema) {
    // the meta-schema URL differs per library (draft-07, 2020-12): ajv is asked about the body
    const { $schema: _ignored, ...out } = c.jsonSchema(schema);
    js = JSON.stringify(out).length;
    if (ajvMod) {
      const Ajv = ajvMod.default.default ?? ajvMod.default;
      try {
        const ajv = new Ajv({ strict: false, allErrors: false });
        const validate = ajv.compile(out);
        ajvOk = `yes, ${validate(data) && !validate(typo) ? 'valid, typo found' : 'MISMATCH'}`;
      } catch (err) {
        ajvOk = `no: ${err.message.slice(0, 60)}`;
      }
    }
  }
  console.log(
    `| ${c.name} | ${importMs(c.pkg)} ms | ${ms(buildMs)} ms | ${ms(firstMs)} ms${ok ? '' : ' (INVALID)'} | ${ms(median(times))} ms | ${typoFound ? 'yes' : 'NO'} | ${js} | ${ajvOk} |`,
  );
}

/* Portico's own decoder (case-insensitive keys, coercion, every error kept), when built. */
const portico = await optional('../../dist/src/config/validate.js');
if (portico) {
  const times = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now();
    portico.validateDynamic(data, 'file');
    times.push(performance.now() - t);
  }
  console.log(`| portico validateDynamic (dist/) | | | ${ms(median(times))} ms | | | |`);
}
