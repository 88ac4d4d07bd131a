import assert from "node:assert/strict";
import { app as adminApp } from "../../../functions/admin/app.ts";
import { loadConfig } from "../../../functions/_shared/config/config.ts";
import { createDatabase } from "../../../functions/_shared/db/database.ts";
import { getRuntime, installRuntime } from "../../../functions/_shared/api/isolate.ts";

Deno.test("without LATCHKEY_ADMIN_KEY, X-Admin-Key is refused and says how to enable it", async () => {
  // The admin app over real HTTP, configured without an admin key.
  const config = loadConfig({
    DATABASE_URL: Deno.env.get("LATCHKEY_TEST_DATABASE_URL"),
    LATCHKEY_LOG_LEVEL: "silent",
  });
  assert.equal(config.LATCHKEY_ADMIN_KEY, undefined);
  const sql = createDatabase(config);
  installRuntime({ config, sql });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, adminApp.fetch);
  try {
    const response = await fetch(`http://127.0.0.1:${server.addr.port}/admin/users`, {
      headers: { "x-admin-key": "anything-at-all-anything-at-all-anything" },
    });
    const body = await response.json();
    assert.equal(response.status, 401);
    assert.match(body.error.message, /not enabled/);
    assert.equal(getRuntime().config.LATCHKEY_ADMIN_KEY, undefined);
  } finally {
    await server.shutdown();
    await sql.end();
  }
});
