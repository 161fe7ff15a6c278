// require("smtpchaos"): the package is ES modules. A Node.js that can require() them (20.19+,
// 22.12+, unless --no-experimental-require-module) gets the very module `import` loads, so
// CommonJS and ESM users share one instance; an older one gets this error, naming the fix,
// instead of ERR_PACKAGE_PATH_NOT_EXPORTED.
if (process.features.require_module !== true) {
  throw Object.assign(
    new Error(
      `smtpchaos is ESM-only and Node.js ${process.version} cannot require() ES modules here (Node.js 20.19+ and 22.12+ can, unless run with --no-experimental-require-module): ` +
        'use `import { startTarget } from "smtpchaos"`, or `const smtpchaos = await import("smtpchaos")` from CommonJS',
    ),
    { code: "ERR_REQUIRE_ESM" },
  );
}
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the one way a CommonJS entry can hand over the ES module
module.exports = require("./index.js");
