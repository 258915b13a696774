// Cells share the process with the kernel: a cell (or a timer it left) that ends the process would tear the
// native sockets down under the running loop (an abort, no reply). The ways out that JavaScript offers are
// replaced by functions that throw instead, so the cell fails and the kernel keeps serving. Native code, child
// processes and worker threads are beyond this guard (kernel/README.md, Limits).

/** Thrown where a cell tries to end the process: the cell fails with this message and the kernel keeps serving. */
export class ProcessExitInCell extends Error {
  constructor(call: string) {
    super(`${call} was called in a cell; the kernel keeps running (restart it to start afresh)`);
    this.name = "ProcessExit";
  }
}

// A signal to one of these ends the kernel: itself, its process group (0, or −pid when it leads it, as Jupyter
// starts it) and every process the user may signal (−1). Signal 0 only asks whether a process exists.
function endsThisProcess(pid: number, signal: unknown): boolean {
  if (signal === 0) return false;
  return pid === process.pid || pid === 0 || pid === -1 || pid === -process.pid;
}

type Kill = (pid: number, signal: number) => unknown;

/**
 * Replace process.exit, process.reallyExit (what process.exit calls; public on `process`), process.abort and
 * process.kill / process._kill aimed at the kernel itself. Returns the real exit for the kernel's own shutdown.
 */
export function guardProcessExit(): (code: number) => never {
  const proc = process as NodeJS.Process & { reallyExit: (code?: number) => never; _kill: Kill };
  const real = { exit: proc.exit.bind(proc), reallyExit: proc.reallyExit, kill: proc.kill, _kill: proc._kill };
  const code = (value: unknown) => String(value ?? "");
  proc.exit = ((value?: unknown) => {
    throw new ProcessExitInCell(`process.exit(${code(value)})`);
  }) as typeof proc.exit;
  proc.reallyExit = ((value?: unknown) => {
    throw new ProcessExitInCell(`process.reallyExit(${code(value)})`);
  }) as typeof proc.reallyExit;
  proc.abort = (() => {
    throw new ProcessExitInCell("process.abort()");
  }) as typeof proc.abort;
  // process.kill resolves signal names and then calls process._kill, which a cell can also call directly.
  // Arguments are converted once and passed on converted, so a valueOf cannot answer the check and the call differently.
  proc.kill = ((pid: unknown, signal?: unknown) => {
    const target = Number(pid);
    const sig = typeof signal === "number" || typeof signal === "string" ? signal : signal === undefined ? "SIGTERM" : String(signal);
    if (endsThisProcess(target, sig)) throw new ProcessExitInCell(`process.kill(${target}, ${sig})`);
    return real.kill.call(proc, target, sig);
  }) as typeof proc.kill;
  proc._kill = (pid, signal) => {
    const [target, sig] = [Number(pid) | 0, Number(signal) | 0];
    if (endsThisProcess(target, sig)) throw new ProcessExitInCell(`process._kill(${target}, ${sig})`);
    return real._kill.call(proc, target, sig);
  };
  return (exitCode: number) => {
    // process.exit ends by calling process.reallyExit, which must be the real one again.
    proc.reallyExit = real.reallyExit;
    return real.exit(exitCode);
  };
}
