// Every storm session kind, one line each: a new kind is its own file plus one line here.
export { default as basic } from "./basic.js";
export { default as pipelined } from "./pipelined.js";
export { default as multi } from "./multi.js";
export { default as abortData } from "./abort-data.js";
export { default as abortAfterDot } from "./abort-after-dot.js";
export { default as garbage } from "./garbage.js";
export { default as wellbehaved } from "./wellbehaved.js";
export { default as slowloris } from "./slowloris.js";
export { default as large } from "./large.js";
export { default as manyRcpts } from "./many-rcpts.js";
export { default as hold } from "./hold.js";
export { default as noop } from "./noop.js";
