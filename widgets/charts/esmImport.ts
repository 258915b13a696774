// vega and vega-lite ship only as ES modules with top-level await, which CommonJS cannot `require`; a
// real dynamic import() is needed, and TypeScript's CommonJS output would turn a plain `import()` into
// `require`. The specifier is resolved here first so that it is found from this project wherever the
// calling notebook lives.
import { pathToFileURL } from "node:url";

const dynamicImport = new Function("specifier", "return import(specifier)") as (specifier: string) => Promise<unknown>;

/** Import an ES-module-only package by name, resolved from this project's node_modules. */
export async function importEsm<T>(name: string): Promise<T> {
  return (await dynamicImport(pathToFileURL(require.resolve(name)).href)) as T;
}
