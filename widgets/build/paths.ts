// Where the widget bundles are built (dist/widgets/): shared by the build script and the CLI commands
// that install or copy them, without the CLI loading esbuild (a dev dependency).
import * as path from "node:path";

/** The project root (this file is dist/widgets/build/paths.js). */
export const ROOT = path.resolve(__dirname, "..", "..", "..");
/** Where the bundles go. */
export const OUT = path.join(ROOT, "dist", "widgets");
/** The files an exported HTML page needs beside it. */
export const EMBED_DIR = path.join(OUT, "embed");
/** The built JupyterLab extension (what goes to `<data dir>/labextensions/fatezero-widgets/`). */
export const LABEXTENSION_DIR = path.join(OUT, "labextension");
