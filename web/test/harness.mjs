// What the browser test scripts share: checks that fail with a plain message, named steps that
// print and record their time, and the ending (a pass line, or FAIL with the message and exit 1).

export class CheckFailed extends Error {}

export function check(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

/**
 * `step(name, run)`: prints the name, runs it, records its milliseconds in `timings[name]`.
 * While working on one step, `JANUS_STEPS=<regex>` runs only the steps whose names match (the
 * others print 'skipped'); unset, as in `npm test`, every step runs.
 */
export function stepper(timings = {}) {
  const only = process.env.JANUS_STEPS ? new RegExp(process.env.JANUS_STEPS) : null;
  return async function step(name, run) {
    if (only !== null && !only.test(name)) {
      console.log(`-- ${name}: skipped (JANUS_STEPS)`);
      return undefined;
    }
    console.log(`-- ${name}`);
    const started = performance.now();
    const value = await run();
    const ms = Math.round(performance.now() - started);
    timings[name] = ms;
    console.log(`   ok (${(ms / 1000).toFixed(1)} s)`);
    return value;
  };
}

/** Runs `main`; prints `<what> passed in N s<more>` or FAIL, and exits 1 on failure. */
export function finish(what, main, more = '') {
  const started = performance.now();
  main().then(
    () => console.log(`\n${what} passed in ${((performance.now() - started) / 1000).toFixed(1)} s${more}`),
    (error) => {
      console.error(`\nFAIL: ${error instanceof CheckFailed ? error.message : error.stack ?? error}`);
      if (error?.stderr) console.error(String(error.stderr));
      if (error?.stdout) console.error(String(error.stdout));
      process.exit(1);
    },
  );
}
