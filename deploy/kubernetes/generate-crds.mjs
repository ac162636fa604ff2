// Writes the CustomResourceDefinitions that deploy/kubernetes and the Helm chart
// ship, from the configuration schema (src/config/schema/crds.ts): Traefik's
// kinds in traefik.io and the same kinds in portico.io. Run after `npm run build`:
//   node deploy/kubernetes/generate-crds.mjs
// test/unit/deploy-manifests.test.ts fails when these files differ from crdYaml().
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { crdYaml } = await import(path.join(root, 'dist/src/config/schema/crds.js'));

const CRD_FILES = {
  'traefik.io': [
    'deploy/kubernetes/crds/traefik.io.yaml',
    'deploy/helm/portico/crds/traefik.io.yaml',
  ],
  'portico.io': [
    'deploy/kubernetes/crds/portico.io.yaml',
    'deploy/helm/portico/crds/portico.io.yaml',
  ],
};

for (const [group, files] of Object.entries(CRD_FILES)) {
  const text = crdYaml(group);
  for (const file of files) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
    console.log(`wrote ${file}`);
  }
}
