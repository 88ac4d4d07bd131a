import assert from "node:assert/strict";
import {
  adminKeyWarnings,
  configuredAdminKeys as adminKeyEntries,
  matchAdminKey,
} from "../../functions/_shared/identity/static_admin_key.ts";
import { ConfigError, loadConfig } from "../../functions/_shared/config/config.ts";
import { sha256Hex } from "../../functions/_shared/ground/crypto.ts";

const entry = (name: string, key: string, expiresAt?: string) => ({
  name,
  sha256: sha256Hex(key),
  ...(expiresAt ? { expiresAt } : {}),
});

Deno.test("LATCHKEY_ADMIN_KEYS is validated: names once, 64 hex digits, ISO times", () => {
  for (
    const bad of [
      "not json",
      JSON.stringify({ name: "x" }),
      JSON.stringify([entry("a", "k1"), entry("a", "k2")]),
      JSON.stringify([{ name: "a", sha256: "abc" }]),
      JSON.stringify([{ ...entry("a", "k1"), expiresAt: "next tuesday" }]),
      JSON.stringify([{ ...entry("has space", "k1") }]),
      JSON.stringify([{ ...entry("a", "k1"), extra: true }]),
    ]
  ) {
    assert.throws(
      () => loadConfig({ LATCHKEY_ADMIN_KEYS: bad }),
      (error) => error instanceof ConfigError && /LATCHKEY_ADMIN_KEYS/.test(error.message),
      bad,
    );
  }
  const config = loadConfig({ LATCHKEY_ADMIN_KEYS: JSON.stringify([entry("a", "k1")]) });
  assert.equal(config.LATCHKEY_ADMIN_KEYS?.length, 1);
});

Deno.test("matchAdminKey finds the entry a key belongs to, and nothing for near misses", () => {
  const config = loadConfig({
    LATCHKEY_ADMIN_KEY: "the single admin key of this deployment, 32+ chars",
    LATCHKEY_ADMIN_KEYS: JSON.stringify([entry("one", "key one"), entry("two", "key two")]),
  });
  const entries = adminKeyEntries(config);
  assert.equal(matchAdminKey(entries, "key two")?.name, "two");
  assert.equal(matchAdminKey(entries, "key one")?.name, "one");
  assert.equal(
    matchAdminKey(entries, "the single admin key of this deployment, 32+ chars")?.name,
    "LATCHKEY_ADMIN_KEY",
  );
  for (const miss of ["", "key", "key one ", "KEY ONE", "key twoo"]) {
    assert.equal(matchAdminKey(entries, miss), null, miss);
  }
});

Deno.test("adminKeyWarnings: never, within 7 days, expired; nothing for a key good for longer", () => {
  const now = Date.parse("2026-12-01T00:00:00Z");
  const config = loadConfig({
    LATCHKEY_ADMIN_KEYS: JSON.stringify([
      entry("forever", "k0"),
      entry("soon", "k1", "2026-12-07T00:00:00Z"),
      entry("gone", "k2", "2026-11-30T00:00:00Z"),
      entry("fine", "k3", "2027-01-01T00:00:00Z"),
    ]),
  });
  const warnings = adminKeyWarnings(config, { now });
  assert.deepEqual(warnings.map((warning) => warning.code), [
    "admin_key_never_expires",
    "admin_key_expires_soon",
    "admin_key_expired",
  ]);
  assert.match(warnings[1].message, /"soon".*2026-12-07/);
  assert.ok(
    adminKeyWarnings(config, { now, withNames: false }).every((warning) =>
      !/forever|soon"|gone/.test(warning.message)
    ),
  );
});

Deno.test("a warning names the variable that is set: LATCHKEY_ADMIN_KEY_SHA256 when it is that", () => {
  const config = loadConfig({ LATCHKEY_ADMIN_KEY_SHA256: "ab".repeat(32) });
  const [warning] = adminKeyWarnings(config);
  assert.equal(warning.code, "admin_key_never_expires");
  assert.match(warning.message, /"LATCHKEY_ADMIN_KEY_SHA256"/);
  // A deployment whose only key has an expiry (the deploy recipe's) has nothing to fix.
  const recipe = loadConfig({
    LATCHKEY_ADMIN_KEYS: JSON.stringify([entry("ops", "a key", "2027-06-01T00:00:00Z")]),
  });
  assert.deepEqual(adminKeyWarnings(recipe, { now: Date.parse("2026-12-07T00:00:00Z") }), []);
});
