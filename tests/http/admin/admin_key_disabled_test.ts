import assert from "node:assert/strict";
import { getRuntime } from "../../../functions/_shared/api/isolate.ts";
import { serveFunctions } from "../../support/in_process.ts";

Deno.test("without LATCHKEY_ADMIN_KEY, X-Admin-Key is refused and says how to enable it", async () => {
  // The functions over real HTTP, configured without an admin key; closing them waits for the
  // work their answers began (on Deno 2.1 an unawaited one was reported as a leak).
  const functions = serveFunctions({});
  try {
    const response = await functions.call("GET", "/admin/users", {
      "x-admin-key": "anything-at-all-anything-at-all-anything",
    });
    assert.equal(response.status, 401);
    assert.match(response.body.error.message, /not enabled/);
    assert.equal(getRuntime().config.LATCHKEY_ADMIN_KEY, undefined);
  } finally {
    await functions.close();
  }
});
