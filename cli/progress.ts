// Progress bars on stderr: redrawn in place on a terminal, a line per quarter otherwise (logs, CI).

/** A progress reporter keyed by stage name. */
export function progressReporter(stream: NodeJS.WriteStream = process.stderr): (stage: string, done: number, total: number) => void {
  const started = new Map<string, number>();
  const lastQuarter = new Map<string, number>();
  return (stage, done, total) => {
    if (!started.has(stage)) started.set(stage, performance.now());
    const seconds = (performance.now() - started.get(stage)!) / 1000;
    const width = 30;
    const filled = total > 0 ? Math.round((done / total) * width) : width;
    const line = `${stage.padEnd(8)} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} ${seconds.toFixed(1)}s`;
    if (stream.isTTY) {
      stream.write(`\r${line}${done === total ? "\n" : ""}`);
      return;
    }
    const quarter = total > 0 ? Math.floor((done / total) * 4) : 4;
    if (done === 0 || quarter !== lastQuarter.get(stage)) {
      lastQuarter.set(stage, quarter);
      stream.write(`${line}\n`);
    }
  };
}
