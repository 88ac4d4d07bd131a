import assert from "node:assert/strict";
import { generateApiKey } from "../../../functions/_shared/keys/api_key_format.ts";
import {
  call,
  createKey,
  recordSecret,
  signUp,
  testClient,
  verifyKey,
  withDatabase,
} from "../../support/http.ts";

/**
 * POST /keys/revoke-leaked: a finder kills a leaked key with nothing but the key; the answer
 * tells nobody whether it was live; reports are throttled per client and audited.
 */

async function revocations(keyId: string) {
  return await withDatabase((sql) =>
    sql<{ metadata: { client: string; ownerId: string } }[]>`
      select metadata from latchkey.audit_events
      where action = 'api_key.revoked_as_leaked' and target_id = ${keyId}`
  );
}

Deno.test("anyone holding a key can revoke it; a dead or unknown key gets the same answer", async () => {
  const owner = await signUp("leaked");
  const { key, id } = await createKey(owner.token, { name: "pushed to a public repo" });
  const finder = testClient();
  const report = (leaked: string) =>
    call("POST", "/keys/revoke-leaked", { body: { key: leaked }, headers: finder });

  const first = await report(key);
  assert.equal(first.status, 202);
  assert.deepEqual(first.body, { accepted: true });
  assert.equal((await verifyKey(key)).body.code, "REVOKED");
  const audited = await revocations(id);
  assert.equal(audited.length, 1);
  assert.equal(audited[0].metadata.client, finder["x-forwarded-for"]);
  assert.equal(audited[0].metadata.ownerId, owner.id);

  const unknown = generateApiKey("lk").key;
  recordSecret(unknown);
  for (const leaked of [key, unknown]) {
    const again = await report(leaked);
    assert.equal(again.status, first.status);
    assert.deepEqual(again.body, first.body, "no difference between dead, unknown and live");
  }
  assert.equal((await revocations(id)).length, 1, "revoked once, audited once");

  const malformed = await report(`${key.slice(0, -1)}${key.endsWith("a") ? "b" : "a"}`);
  assert.equal(malformed.status, 400);
  assert.equal(malformed.body.error.details[0].path, "key");
});

Deno.test("leaked-key reports are throttled per client, 429 with Retry-After", async () => {
  const client = testClient();
  const statuses: number[] = [];
  for (let i = 0; i < 35; i++) {
    const leaked = generateApiKey("lk").key;
    recordSecret(leaked);
    const result = await call("POST", "/keys/revoke-leaked", {
      body: { key: leaked },
      headers: client,
    });
    statuses.push(result.status);
    if (result.status === 429) assert.ok(Number(result.headers.get("retry-after")) >= 1);
  }
  assert.deepEqual(statuses.slice(0, 30), Array(30).fill(202));
  assert.deepEqual(statuses.slice(30), Array(5).fill(429));
  const other = await call("POST", "/keys/revoke-leaked", {
    body: { key: generateApiKey("lk").key },
    headers: testClient(),
  });
  assert.equal(other.status, 202, "another client is not throttled");
});
