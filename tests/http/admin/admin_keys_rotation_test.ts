import assert from "node:assert/strict";
import { sha256Hex } from "../../../functions/_shared/ground/crypto.ts";
import { serveFunctions } from "../../support/in_process.ts";
import { auditEventsFor } from "../../support/http.ts";

const day = 24 * 3600_000;
const keys = {
  current: `current-${crypto.randomUUID()}-admin-key`,
  soon: `soon-${crypto.randomUUID()}-admin-key`,
  old: `old-${crypto.randomUUID()}-admin-key`,
  single: `single-${crypto.randomUUID()}-admin-key`,
};
const expiresAt = {
  current: new Date(Date.now() + 90 * day).toISOString(),
  soon: new Date(Date.now() + 3 * day).toISOString(),
  old: new Date(Date.now() - day).toISOString(),
};

function withAdminKeys(extra: Record<string, string> = {}) {
  return serveFunctions({
    LATCHKEY_ENV: "test",
    LATCHKEY_TRUSTED_PROXY_HOPS: "1",
    LATCHKEY_ADMIN_KEYS: JSON.stringify([
      { name: "ops-current", sha256: sha256Hex(keys.current), expiresAt: expiresAt.current },
      { name: "ops-soon", sha256: sha256Hex(keys.soon), expiresAt: expiresAt.soon },
      { name: "ops-old", sha256: sha256Hex(keys.old), expiresAt: expiresAt.old },
    ]),
    ...extra,
  });
}

const client = () => ({ "x-forwarded-for": `203.0.113.${Math.floor(Math.random() * 250)}` });

Deno.test("LATCHKEY_ADMIN_KEYS: each live entry works and is audited by name; an expired one is 401", async () => {
  const functions = withAdminKeys({ LATCHKEY_ADMIN_KEY_SHA256: sha256Hex(keys.single) });
  try {
    for (
      const [key, name] of [
        [keys.current, "ops-current"],
        [keys.soon, "ops-soon"],
        [keys.single, "LATCHKEY_ADMIN_KEY_SHA256"],
      ]
    ) {
      const used = await functions.call("GET", "/admin/users?limit=1", {
        "x-admin-key": key,
        ...client(),
      });
      assert.equal(used.status, 200, name);
      const [event] = await auditEventsFor(used.headers.get("x-request-id")!);
      assert.equal(event.action, "admin_key.used");
      assert.equal(event.metadata.name, name);
      assert.ok(!JSON.stringify(event).includes(key));
    }
    const expired = await functions.call("GET", "/admin/users?limit=1", {
      "x-admin-key": keys.old,
      ...client(),
    });
    assert.equal(expired.status, 401);
    assert.equal(expired.body.error.code, "unauthorized");
    assert.match(expired.body.error.message, /"ops-old"/);
    assert.ok(expired.body.error.message.includes(expiresAt.old), expired.body.error.message);
    const wrong = await functions.call("GET", "/admin/users?limit=1", {
      "x-admin-key": `${keys.current}x`,
      ...client(),
    });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error.message, "The X-Admin-Key is not valid.");
  } finally {
    await functions.close();
  }
});

Deno.test("health warns, naming no key, of admin keys that never expire, expire soon or expired", async () => {
  const functions = withAdminKeys({ LATCHKEY_ADMIN_KEY_SHA256: sha256Hex(keys.single) });
  try {
    const health = await functions.call("GET", "/version/health");
    assert.equal(health.status, 200);
    assert.deepEqual(
      health.body.warnings.map((warning: { code: string }) => warning.code).sort(),
      ["admin_key_expired", "admin_key_expires_soon", "admin_key_never_expires"],
    );
    assert.ok(!JSON.stringify(health.body).includes("ops-"), "no names to anonymous callers");
  } finally {
    await functions.close();
  }
  const quiet = serveFunctions({
    LATCHKEY_ENV: "test",
    LATCHKEY_ADMIN_KEYS: JSON.stringify([
      { name: "ops-current", sha256: sha256Hex(keys.current), expiresAt: expiresAt.current },
    ]),
  });
  try {
    assert.deepEqual((await quiet.call("GET", "/version/health")).body.warnings, []);
  } finally {
    await quiet.close();
  }
});
