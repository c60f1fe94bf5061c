/**
 * Entry of a container that runs a built asset (the rehearsal of cdk.out) instead of TypeScript
 * source. The asset is imported by plain Node first, as the Node.js Lambda runtime imports it, so
 * no loader hook can hide an ESM/CommonJS mismatch or a file the bundle lacks; only then is tsx
 * registered, to load the container's own TypeScript (container-entry.ts), which serves the
 * module already loaded.
 *
 * argv[2]: the asset's handler file; argv[3]: the export the template's Handler string names.
 */
import { pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';

const [file = '', exportName = 'handler'] = process.argv.slice(2);
const loaded = await import(pathToFileURL(file).href).then(
  (module) => ({ module }),
  (error) => ({ error }),
);
register();
const { serveContainer } = await import('./container-entry.ts');
await serveContainer(
  async () => {
    if ('error' in loaded) throw loaded.error;
    return loaded.module;
  },
  exportName,
  file,
);
