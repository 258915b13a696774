// The `fatezero` command line.
import { Command } from "commander";
import { runReference } from "../reference/runReference";

/** Parse arguments and run one subcommand; sets the exit code. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command("fatezero").description("Zero-shot text-driven video editing (FateZero) on ONNX Runtime");
  program
    .command("reference <fixture-dir>")
    .description("recompute every tensor of a reference fixture and compare (one JSON line each)")
    .option("--only <regex>", "only tensors whose name matches")
    .action(async (dir: string, opts: { only?: string }) => {
      const counts = await runReference(dir, (line) => console.log(JSON.stringify(line)), { only: opts.only ? new RegExp(opts.only) : undefined });
      console.log(`${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
      if (counts.failed > 0) process.exitCode = 1;
    });
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (e) {
    console.error(`fatezero: ${(e as Error).message}`);
    process.exitCode = 2;
  }
}
