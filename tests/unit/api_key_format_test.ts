import assert from "node:assert/strict";
import {
  crc32,
  generateApiKey,
  isWellFormedApiKey,
} from "../../functions/_shared/keys/api_key_format.ts";
import { authenticateApiKey } from "../../functions/_shared/identity/api_key_check.ts";
import type { Sql } from "../../functions/_shared/db/database.ts";
import { loadConfig } from "../../functions/_shared/config/config.ts";

Deno.test("generated keys have the prefix, 43 secret characters and a 6-character checksum", () => {
  const keys = Array.from({ length: 200 }, () => generateApiKey("lk"));
  assert.equal(new Set(keys.map((k) => k.key)).size, 200);
  for (const { key, keyPrefix, keyHashHex } of keys) {
    assert.match(key, /^lk_[0-9A-Za-z]{49}$/);
    assert.equal(keyPrefix, key.slice(0, 12));
    assert.match(keyHashHex, /^[0-9a-f]{64}$/);
    assert.ok(isWellFormedApiKey(key));
  }
  assert.match(generateApiKey("acme2").key, /^acme2_[0-9A-Za-z]{49}$/);
});

Deno.test("any single-character typo breaks the checksum", () => {
  const { key } = generateApiKey("lk");
  const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  for (let i = 3; i < key.length; i++) {
    const replacement = alphabet[(alphabet.indexOf(key[i]) + 1) % 62];
    assert.equal(isWellFormedApiKey(key.slice(0, i) + replacement + key.slice(i + 1)), false);
  }
  assert.equal(isWellFormedApiKey(key.slice(0, -1)), false);
  assert.equal(isWellFormedApiKey(key + "0"), false);
  assert.equal(isWellFormedApiKey("LK" + key.slice(2)), false);
  assert.equal(isWellFormedApiKey(""), false);
});

Deno.test("crc32 matches the standard check value", () => {
  assert.equal(crc32("123456789"), 0xcbf43926);
});

Deno.test("a malformed key is refused before any database call", async () => {
  // A tripwire, not a database: any use of it fails the test.
  const tripwire = new Proxy(() => {}, {
    apply() {
      throw new Error("the database was called for a malformed key");
    },
    get() {
      throw new Error("the database was touched for a malformed key");
    },
  }) as unknown as Sql;
  const { key } = generateApiKey("lk");
  const typo = key.slice(0, -1) + (key.endsWith("a") ? "b" : "a");
  const outcome = await authenticateApiKey({ sql: tripwire, config: loadConfig({}) }, typo, {
    requestId: "r",
    ip: null,
    userAgent: null,
  }, { clientAddress: null, origin: null });
  assert.equal(outcome.code, "MALFORMED");
  assert.equal(outcome.principal, null);
});
