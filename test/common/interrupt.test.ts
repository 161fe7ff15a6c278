// The one signal handler of every tool: SIGINT and SIGTERM alike, the first stops gracefully,
// the second (for a run that can drop its work in flight) stops at once; no exit of its own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { onInterrupt } from "../../common/interrupt.js";
import { capture } from "./capture.js";

test("the first signal (SIGTERM or SIGINT) aborts `signal`, the second `cut`, a third nothing; off() stops listening", async () => {
  for (const [first, second] of [["SIGTERM", "SIGINT"], ["SIGINT", "SIGTERM"]] as const) {
    const before = { SIGINT: process.listenerCount("SIGINT"), SIGTERM: process.listenerCount("SIGTERM") };
    const interrupts = onInterrupt({ tool: "tool", first: "finishing, then reporting", cut: "dropping what is in flight" });
    const out = await capture(async () => {
      process.emit(first, first);
      assert.equal(interrupts.signal.aborted, true);
      assert.equal(interrupts.cut.aborted, false, "the first signal lets what is in flight finish");
      process.emit(second, second);
      assert.equal(interrupts.cut.aborted, true);
      process.emit(first, first);
    });
    interrupts.off();
    assert.equal(out.stderr, "\ntool: interrupted; finishing, then reporting (interrupt again to stop now)\n\ntool: interrupted again; dropping what is in flight\n", "the third signal says nothing");
    assert.deepEqual({ SIGINT: process.listenerCount("SIGINT"), SIGTERM: process.listenerCount("SIGTERM") }, before);
  }
});

test("a run that cannot drop its work in flight is told that a second signal quits at once", async () => {
  const interrupts = onInterrupt({ tool: "monkey", first: "stopping the flood" });
  try {
    const out = await capture(async () => void process.emit("SIGTERM", "SIGTERM"));
    assert.equal(out.stderr, "\nmonkey: interrupted; stopping the flood (Ctrl-C again to quit at once)\n");
    assert.equal(interrupts.signal.aborted, true);
    assert.equal(interrupts.cut.aborted, false);
  } finally {
    interrupts.off();
  }
});
