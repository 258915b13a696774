// The kernel process: `node dist/kernel/main.js [-f] <connection_file>`, as the kernelspec's argv starts it.
import { startKernel } from "./kernel";
import { kernelLog } from "./log";

/** Parse the command line and start the kernel; exits with status 1 when it cannot start. */
async function main(argv: string[]): Promise<void> {
  const args = argv[0] === "-f" ? argv.slice(1) : argv;
  if (args.length !== 1) {
    kernelLog("usage: main.js [-f] <connection_file>");
    process.exit(2);
  }
  // Frames from the project's compiled library then point at its TypeScript sources in tracebacks.
  process.setSourceMapsEnabled(true);
  try {
    await startKernel(args[0]);
  } catch (e) {
    kernelLog(`could not start: ${(e as Error).stack ?? String(e)}`);
    process.exit(1);
  }
}

void main(process.argv.slice(2));
