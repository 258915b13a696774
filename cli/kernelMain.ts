// The kernel process: `node dist/cli/kernelMain.js [-f] <connection_file>`, as the kernelspec's argv starts it.
// It lives above kernel/ and widgets/ because it puts them together: the kernel with the widget comm targets.
import { startKernel } from "../kernel/kernel";
import { kernelLog } from "../kernel/log";
import { installWidgets } from "../widgets/comm";

/** Parse the command line and start the kernel; exits with status 1 when it cannot start. */
async function main(argv: string[]): Promise<void> {
  const args = argv[0] === "-f" ? argv.slice(1) : argv;
  if (args.length !== 1) {
    kernelLog("usage: kernelMain.js [-f] <connection_file>");
    process.exit(2);
  }
  // Frames from the project's compiled library then point at its TypeScript sources in tracebacks.
  process.setSourceMapsEnabled(true);
  try {
    await startKernel(args[0], process.cwd(), installWidgets);
  } catch (e) {
    kernelLog(`could not start: ${(e as Error).stack ?? String(e)}`);
    process.exit(1);
  }
}

void main(process.argv.slice(2));
