import { workAfterResponsesSettled } from "../../../functions/_shared/ground/edge_runtime.ts";
import assert from "node:assert/strict";
import { loadConfig } from "../../../functions/_shared/config/config.ts";
import { createDatabase } from "../../../functions/_shared/db/database.ts";
import { installRuntime } from "../../../functions/_shared/api/isolate.ts";
import { latchkeyVersion } from "../../../functions/_shared/ground/version.ts";
import { app as versionApp } from "../../../functions/version/app.ts";
import { call, errorOf } from "../../support/http.ts";

Deno.test("GET /version reports the version and the environment", async () => {
  const result = await call("GET", "/version");
  assert.equal(result.status, 200);
  assert.deepEqual(result.body, { version: latchkeyVersion, environment: "test" });
  assert.equal(result.headers.get("x-content-type-options"), "nosniff");
});

Deno.test("GET /version/health says ok when the database answers", async () => {
  const result = await call("GET", "/version/health");
  assert.equal(result.status, 200);
  // The suite's gateway runs with a single LATCHKEY_ADMIN_KEY: a credential that never expires.
  assert.deepEqual(result.body, {
    status: "ok",
    database: "ok",
    warnings: [{
      code: "admin_key_never_expires",
      message: "An X-Admin-Key never expires: move it to LATCHKEY_ADMIN_KEYS with an expiresAt " +
        "and rotate it before then.",
    }],
  });
});

Deno.test("GET /version/health answers 503 quickly when the database is down", async () => {
  // The version app served over real HTTP, on a database URL where nothing listens.
  const deadPort = (() => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { port } = listener.addr as Deno.NetAddr;
    listener.close();
    return port;
  })();
  const config = loadConfig({ LATCHKEY_ENV: "test", LATCHKEY_LOG_LEVEL: "silent" });
  const sql = createDatabase(config, { url: `postgres://postgres@127.0.0.1:${deadPort}/none` });
  installRuntime({ config, sql });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, versionApp.fetch);
  try {
    const started = performance.now();
    const response = await fetch(`http://127.0.0.1:${server.addr.port}/version/health`);
    const elapsed = performance.now() - started;
    const body = await response.json();
    assert.equal(response.status, 503);
    assert.equal(body.error.code, "database_unavailable");
    assert.equal(body.error.requestId, response.headers.get("x-request-id"));
    assert.ok(Number(response.headers.get("retry-after")) >= 1);
    assert.ok(elapsed < 2000, `took ${elapsed.toFixed(0)} ms`);

    const version = await fetch(`http://127.0.0.1:${server.addr.port}/version`);
    assert.equal(version.status, 200, "/version needs no database");
    await version.body?.cancel();
  } finally {
    await server.shutdown();
    // As the gateway shuts down: the work started after answers (pruning, here failing against
    // the dead database) settles before the pool ends; postgres.js's end() waits forever for a
    // query still connecting.
    await workAfterResponsesSettled();
    await sql.end();
  }
});

Deno.test("the gateway answers unknown functions with the 404 envelope", async () => {
  const result = await call("GET", "/nothing-here");
  assert.equal(result.status, 404);
  assert.equal(errorOf(result).code, "not_found");
});
