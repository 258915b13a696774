// What a path is, in words, for messages about a path that should be a regular file or a folder but is
// something else (a FIFO would block a read forever, /dev/zero never ends).
import type * as fs from "node:fs";

/** "a folder", "a FIFO (named pipe)", "a character device", …, or "a regular file". */
export function fileKind(stats: fs.Stats): string {
  if (stats.isFile()) return "a regular file";
  if (stats.isDirectory()) return "a folder";
  if (stats.isFIFO()) return "a FIFO (named pipe)";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isSocket()) return "a socket";
  return "a special file";
}
