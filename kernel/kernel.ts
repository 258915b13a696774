// Assembles a kernel from its parts: sockets and heartbeat from the connection file, the message loop, the cell
// executor, comms, displays and prompts for cells, interrupts (SIGINT and interrupt_request) and shutdown.
import { KernelCommManager } from "./comms";
import { readConnectionFile } from "./connection";
import { DisplayPublisher } from "./display";
import { Dispatcher } from "./dispatcher";
import { ExecuteHandler } from "./executeHandler";
import { CellExecutor } from "./executor";
import { startHeartbeat } from "./heartbeat";
import { History } from "./history";
import { provideKernelServices } from "./kernelContext";
import { kernelLog } from "./log";
import { Messenger } from "./messenger";
import { captureOutput } from "./outputCapture";
import { guardProcessExit } from "./processGuard";
import { requestHandlers } from "./requestHandlers";
import { Signer } from "./signing";
import { KernelSockets } from "./sockets";
import { StdinPrompts } from "./stdin";

/**
 * Start serving the kernel described by `connectionFile`; cells run with `cwd` as their folder. `installComms`
 * registers comm targets (the widgets') before the first message, so a frontend can ask for widget states
 * before any model exists.
 */
export async function startKernel(
  connectionFile: string,
  cwd: string = process.cwd(),
  installComms?: (comms: KernelCommManager) => void,
): Promise<void> {
  const info = readConnectionFile(connectionFile);
  const signer = new Signer(info.signatureScheme, info.key);
  if (!signer.enabled) kernelLog("the connection file has no key: messages are not authenticated");
  const sockets = await KernelSockets.bind(info);
  const messenger = new Messenger(sockets, signer);
  // Creating the executor takes a second (TypeScript loads its libraries); clients retry kernel_info meanwhile.
  const executor = new CellExecutor(cwd);
  const heartbeat = await startHeartbeat(info);
  const history = new History();
  const comms = new KernelCommManager(messenger);
  const display = new DisplayPublisher(messenger);
  const prompts = new StdinPrompts(messenger);

  let interrupts = new AbortController();
  const interrupt = () => {
    executor.interrupt();
    prompts.cancel();
    interrupts.abort(new Error("kernel interrupted"));
    interrupts = new AbortController();
  };
  installComms?.(comms);
  provideKernelServices({
    comms,
    display,
    interruptSignal: () => interrupts.signal,
    input: (prompt, password) => prompts.ask(prompt, password),
  });

  const restoreOutput = captureOutput(messenger);
  const exit = guardProcessExit();
  // A signal that arrives while a synchronous cell runs is taken by the vm (breakOnSigint); this sees the rest.
  process.on("SIGINT", interrupt);
  // Errors a cell's timers or promises raise after it finished belong to the user, not to the kernel: report them.
  const reportLate = (thrown: unknown) => {
    const error = executor.describe(thrown);
    kernelLog(`uncaught error: ${error.ename}: ${error.evalue}`);
    process.stderr.write(`${error.traceback.join("\n")}\n`);
  };
  process.on("uncaughtException", reportLate);
  process.on("unhandledRejection", reportLate);

  let stopping = false;
  const shutdown = async (restart: boolean) => {
    if (stopping) return;
    stopping = true;
    kernelLog(restart ? "restarting: this process ends, the client starts a new one" : "shutting down");
    restoreOutput();
    executor.close();
    await sockets.close();
    await heartbeat.stop();
    exit(0);
  };

  const execute = new ExecuteHandler(messenger, executor, history);
  const dispatcher = new Dispatcher(sockets, signer, messenger, {
    handlers: requestHandlers({ messenger, executor, history, comms, lifecycle: { interrupt, shutdown } }),
    execute: (r) => execute.execute(r),
    abort: (r) => execute.abort(r),
    waitsForExecutes: (r) => comms.awaitsEarlierCells(r.message),
    stdin: (m) => prompts.answer(m),
  });
  dispatcher.listen();
  kernelLog(`ready (${info.transport}://${info.ip}, pid ${process.pid}, cwd ${cwd})`);
}
