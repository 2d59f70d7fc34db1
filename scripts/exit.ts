/**
 * Ends a command-line script with `code` once everything it wrote has reached stdout and stderr. `process.exit`
 * right after writing to a pipe can drop the last lines (pipe writes are asynchronous in Node), which are the lines
 * that say what failed; a write's callback runs only after the writes queued before it.
 */
export function exitAfterOutput(code: number): void {
  let pending = 2;
  const done = () => {
    pending -= 1;
    if (pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}
