// The TypeScript that tslab's converter runs on. It is resolved from tslab's own folder so that the kernel's
// patches (projectModules.ts) and reported version always concern that very copy, even if another one exists.
import Module from "node:module";
import type * as TypeScript from "@tslab/typescript-for-tslab";

const requireFromTslab = Module.createRequire(require.resolve("tslab/dist/converter"));

/** tslab's TypeScript module. */
export const ts = requireFromTslab("@tslab/typescript-for-tslab") as typeof TypeScript;
