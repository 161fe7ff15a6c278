// An smtpchaos plug-in: plain data, default-exported. Load it with
//   npx smtpchaos storm --plugin ./examples/plugins/smtpchaos-plugin-example --target memory ...
// or SMTPCHAOS_PLUGINS=smtpchaos-plugin-example once it is installed as a package.
import { definePlugin } from "smtpchaos";
import { memoryTarget } from "./memory-target.js";
import { restartLayer } from "./restart-layer.js";
import { rsetKind } from "./rset-kind.js";
import { csvOutput } from "./csv-output.js";
import { dotsReporter } from "./dots-reporter.js";

export default definePlugin({
  name: "example",
  targets: [memoryTarget],
  faultLayers: [restartLayer],
  stormKinds: [rsetKind],
  stormOutputs: [csvOutput],
  reporters: [dotsReporter],
});
