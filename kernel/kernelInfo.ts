// The kernel_info_reply content: who we are and the language cells are written in.
import * as fs from "node:fs";
import * as path from "node:path";
import { ts } from "./tslabTypeScript";
import { PROTOCOL_VERSION } from "./wireMessage";

/** The project's version, from its package.json (this file is dist/kernel/kernelInfo.js). */
function projectVersion(): string {
  const manifest = JSON.parse(fs.readFileSync(path.resolve(__dirname, "..", "..", "package.json"), "utf8")) as { version?: string };
  return manifest.version ?? "0.0.0";
}

/** The kernel_info_reply content (status ok). */
export function kernelInfo(): Record<string, unknown> {
  const version = projectVersion();
  const typescriptVersion = ts.version;
  return {
    status: "ok",
    protocol_version: PROTOCOL_VERSION,
    implementation: "fatezero",
    implementation_version: version,
    language_info: {
      name: "typescript",
      // The TypeScript that type-checks and compiles cells (tslab's), not the one that built the project.
      version: typescriptVersion,
      mimetype: "text/typescript",
      file_extension: ".ts",
      pygments_lexer: "typescript",
      // Notebook 6 picks CodeMirror's TypeScript mode from name + typescript; JupyterLab reads `mode`.
      codemirror_mode: { name: "javascript", typescript: true, mode: "typescript" },
    },
    banner:
      `FateZero-TS ${version}: TypeScript ${typescriptVersion} on Node.js ${process.version}. ` +
      'import { loadModel, readVideo, invertVideo, editVideo, decodeLatents } from "fatezero"',
    debugger: false,
    help_links: [{ text: "FateZero (paper)", url: "https://arxiv.org/abs/2303.09535" }],
  };
}
