/*
 * The layer check (`npm run lint` runs it): imports point down the layer list,
 * and no two folders import each other, directly or through others.
 * docs/architecture.md ("Layers") is the same map in prose: change both.
 *
 * Layers, top to bottom. A file may import its own layer and the layers below
 * it; inside one layer, folders may import each other as long as no cycle
 * forms (the folder-cycle rule below).
 */
const LAYERS = [
  // process model, subcommands, the built-in whoami, build tools
  ['app', '^src/(bin|cli|runtime|runtime-[a-z-]+)\\.ts$|^src/(quickstart|tools)/'],
  // sources → snapshots (pure translators + I/O loops)
  ['providers', '^providers/'],
  // read-only views of the runtime state (the API; the dashboard is static files)
  ['api', '^src/api/'],
  // configuration → immutable routing table, and the swap (router-server)
  ['routing', '^src/routing/'],
  // entrypoints, access log and metrics, the compiled table, upstream clients,
  // load balancers, middlewares, certificates, limits shared across workers
  [
    'data plane',
    '^src/(server|observability|table|proxy|services|tls|cluster|tcp|udp)/|^middlewares/',
  ],
  // the configuration model and the rule language
  ['config', '^src/(config|rules)/'],
  // request context, status answers, state registry, value parsers, errors
  ['kernel', '^src/kernel/'],
];

const ALL = LAYERS.map(([, path]) => `(?:${path})`).join('|');

/*
 * Edges allowed to break the layer order while they are being removed: each
 * one named, with the reason and who removes it, for example
 *   { name: 'labels-reads-middleware-registry', layer: 'config',
 *     from: '^src/config/labels\\.ts$', to: '^middlewares/registry\\.ts$',
 *     folders: ['src/config', 'middlewares'] }
 * (that one existed until issue 12 section 1 moved the middleware option
 * schemas into src/config/schema/). The excepted file may import only the
 * named targets above its layer, and the two folders join no other cycle.
 * None today.
 */
const EXCEPTIONS = [];

/** the layers above layer i, as one regex */
const above = (i) =>
  LAYERS.slice(0, i)
    .map(([, path]) => `(?:${path})`)
    .join('|');

const layerRules = LAYERS.flatMap(([name, path], i) => {
  if (i === 0) return [];
  const exceptions = EXCEPTIONS.filter((e) => e.layer === name);
  const rule = {
    name: `layer-${name.replace(/ /g, '-')}`,
    severity: 'error',
    comment: `${name} must not import a layer above it (${LAYERS.slice(0, i)
      .map(([n]) => n)
      .join(', ')}); see docs/architecture.md "Layers"`,
    from: { path },
    to: { path: above(i) },
  };
  if (exceptions.length === 0) return [rule];
  // the excepted file gets its own rule, which lets through only its excepted targets
  return [
    { ...rule, from: { path, pathNot: exceptions.map((e) => e.from).join('|') } },
    ...exceptions.map((e) => ({
      ...rule,
      name: `${rule.name} (except ${e.name})`,
      from: { path: e.from },
      to: { path: above(i), pathNot: e.to },
    })),
  ];
});

const exceptedFolders = EXCEPTIONS.flatMap((e) => e.folders);
const folderPattern = (folders) => `^(${folders.join('|')})$`;

module.exports = {
  forbidden: [
    {
      name: 'no-folder-cycle',
      severity: 'error',
      comment:
        'two folders import each other (directly or through others): move the shared helper down a layer, or pass a function in',
      scope: 'folder',
      from: exceptedFolders.length ? { pathNot: folderPattern(exceptedFolders) } : {},
      to: { circular: true },
    },
    ...EXCEPTIONS.map((e) => ({
      name: `no-folder-cycle (except ${e.name})`,
      severity: 'error',
      comment: 'the excepted folders may import each other directly, but join no other cycle',
      scope: 'folder',
      from: { path: folderPattern(e.folders) },
      to: { circular: true, pathNot: folderPattern(e.folders) },
    })),
    ...layerRules,
    {
      name: 'kernel-imports-only-node',
      severity: 'error',
      comment: 'the kernel imports only node: modules and other kernel files',
      from: { path: '^src/kernel/' },
      to: { pathNot: '^src/kernel/', dependencyTypesNot: ['core'] },
    },
    {
      name: 'providers-import-no-data-plane',
      severity: 'error',
      comment:
        "a provider's translator imports the configuration model, the rules and the kernel, never the data plane",
      from: { path: '^providers/' },
      to: { path: '^(src|middlewares)/', pathNot: '^src/(config|rules|kernel)/' },
    },
    {
      name: 'file-outside-layers',
      severity: 'error',
      comment:
        'every source file belongs to a layer: add its folder to LAYERS here and to docs/architecture.md',
      from: { path: '^(src|providers|middlewares)/', pathNot: ALL },
      to: {},
    },
    {
      name: 'import-outside-layers',
      severity: 'error',
      comment:
        'every source file belongs to a layer: add its folder to LAYERS here and to docs/architecture.md',
      from: {},
      to: { path: '^(src|providers|middlewares)/', pathNot: ALL },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'an import the checker cannot resolve is an import it cannot check',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // type-only imports couple folders too
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'],
    },
  },
};
