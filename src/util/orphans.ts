// Temporary files and folders left by a process that was killed (kill -9, power loss): their names carry
// the writer's PID, and whatever belongs to a process that no longer exists is removed on the next start.
import * as fs from "node:fs";
import * as path from "node:path";

/** Whether a process with this PID exists (one we may not signal still exists). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Remove the entries of `dir` whose name matches `pattern` (its first group: the writer's PID) and whose writer is gone. */
export function removeOrphans(dir: string, pattern: RegExp): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = Number(pattern.exec(name)?.[1]);
    if (!Number.isSafeInteger(pid) || pid === process.pid || processAlive(pid)) continue;
    fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
