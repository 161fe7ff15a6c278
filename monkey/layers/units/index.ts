// The shipped fault layers: one unit per file here, one line each below (registry.ts lists them
// all). Export units only.
export { syscallLayer } from "./syscall.js";
export { lookupLayer } from "./lookup.js";
export { processLayer } from "./process.js";
export { netLayer } from "./net.js";
export { nexthopLayer } from "./nexthop.js";
export { sysLayer } from "./sys.js";
export { powerLayer } from "./power.js";
