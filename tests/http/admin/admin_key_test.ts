import assert from "node:assert/strict";
import { adminKey, auditEventsFor, call, errorOf } from "../../support/http.ts";

Deno.test("every use of X-Admin-Key is audited as actor admin_key", async () => {
  const result = await call("GET", "/admin/users?limit=1", {
    headers: { "x-admin-key": adminKey },
  });
  assert.equal(result.status, 200);
  const [event] = await auditEventsFor(result.headers.get("x-request-id")!);
  assert.equal(event.action, "admin_key.used");
  assert.equal(event.actor_kind, "admin_key");
  assert.equal(event.actor_user_id, null);
  assert.deepEqual(event.metadata, {
    method: "GET",
    path: "/admin/users",
    name: "LATCHKEY_ADMIN_KEY",
  });
  assert.ok(!JSON.stringify(event).includes(adminKey));
});

Deno.test("a wrong X-Admin-Key is a 401, whatever its length", async () => {
  for (const wrong of ["", "x", adminKey.slice(0, -1), `${adminKey}x`, adminKey.toUpperCase()]) {
    const result = await call("GET", "/admin/users", { headers: { "x-admin-key": wrong } });
    assert.equal(result.status, 401, JSON.stringify(wrong));
    assert.equal(errorOf(result).code, "unauthorized");
  }
});

Deno.test("X-Admin-Key counts on admin routes only", async () => {
  const result = await call("GET", "/keys", { headers: { "x-admin-key": adminKey } });
  assert.equal(result.status, 401);
});
