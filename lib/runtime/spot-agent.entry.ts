// The `spot-agent` command: bundled by scripts/build-handlers.mjs into dist/runtime/spot-agent/index.js, one
// file with no runtime dependency outside it, which constructs copy onto every instance.
import { main } from './cli';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`spot-agent: unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
