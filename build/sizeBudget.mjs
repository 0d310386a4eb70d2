// An esbuild plugin that fails a build whose output is over its size budget, on every build
// (production, development and each rebuild of --watch). The budgets are not a goal of their own:
// the goal is activation to a ready server in at most 500 ms (bench/RESULTS.md). They catch what
// would slow it silently: a dependency upgrade that brings in much more code, or an import that
// pulls the server's core into dist/server.js (the bundle that must answer `initialize` alone).

/**
 * @param {{ minified: number, unminified: number }} budget in bytes, for a minified (--production)
 *   and an unminified build of the same entry
 * @param {string} why what to look at when the budget is exceeded
 */
export function sizeBudget(budget, why) {
  return {
    name: 'pm-size-budget',
    setup(build) {
      build.initialOptions.metafile = true;
      const minified = !!build.initialOptions.minify;
      const limit = minified ? budget.minified : budget.unminified;
      build.onEnd((result) => {
        if (!result.metafile) return undefined;
        const errors = Object.entries(result.metafile.outputs)
          .filter(([file]) => !file.endsWith('.map'))
          .map(([file, out]) => overBudget(file, out.bytes, limit, minified, why))
          .filter((text) => text !== undefined)
          .map((text) => ({ text }));
        // Errors returned here fail the build, but esbuild does not print them: say them here
        // (also in --watch, where the build goes on).
        if (build.initialOptions.logLevel !== 'silent') for (const e of errors) console.error(`✘ [ERROR] ${e.text}`);
        return { errors };
      });
    },
  };
}

/** The message for an output of `bytes` over `limit`, or undefined. */
export function overBudget(file, bytes, limit, minified, why) {
  if (bytes <= limit) return undefined;
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  return `${file} is ${kb(bytes)}, over its ${kb(limit)} budget (${minified ? 'minified' : 'unminified'}): ${why}`;
}
