// The kernel's own log: the process's real stderr (the Jupyter server's console or the kernel log file), never a
// cell's output. The write function is captured when this module loads, before output capture replaces it.

const write = process.stderr.write.bind(process.stderr);

/** Write one line to the kernel log. */
export function kernelLog(message: string): void {
  write(`[fatezero kernel ${new Date().toISOString()}] ${message}\n`);
}
