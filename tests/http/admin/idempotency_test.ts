import assert from "node:assert/strict";
import {
  asAdminKey,
  call,
  errorOf,
  signUp,
  uniqueEmail,
  withDatabase,
} from "../../support/http.ts";

Deno.test("the same Idempotency-Key and body replay the first response", async () => {
  const key = crypto.randomUUID();
  const body = { email: uniqueEmail("idem"), name: "Idem", serviceAccount: true };
  const first = await asAdminKey("POST", "/admin/users", {
    body,
    headers: { "idempotency-key": key },
  });
  assert.equal(first.status, 201);
  assert.equal(first.headers.get("idempotency-replayed"), null);
  const second = await asAdminKey("POST", "/admin/users", {
    body,
    headers: { "idempotency-key": key },
  });
  assert.equal(second.status, 201);
  assert.equal(second.headers.get("idempotency-replayed"), "true");
  assert.deepEqual(second.body, first.body);

  const different = await asAdminKey("POST", "/admin/users", {
    body: { ...body, name: "Other" },
    headers: { "idempotency-key": key },
  });
  assert.equal(different.status, 409);
  assert.equal(errorOf(different).code, "idempotency_key_reused");
});

Deno.test("a replayed key creation answers key: null; the secret is never stored", async () => {
  const owner = await signUp("idem-keys");
  const key = crypto.randomUUID();
  const create = () =>
    call("POST", "/keys", {
      token: owner.token,
      body: { name: "once" },
      headers: { "idempotency-key": key },
    });
  const first = await create();
  assert.equal(first.status, 201);
  assert.match(first.body.key, /^lk_/);
  const replay = await create();
  assert.equal(replay.status, 201);
  assert.equal(replay.headers.get("idempotency-replayed"), "true");
  assert.equal(replay.body.key, null);
  assert.equal(replay.body.id, first.body.id);
  const stored = await withDatabase((sql) =>
    sql`select response::text as response from latchkey.idempotency_records
        where idempotency_key = ${key}`
  );
  assert.ok(!stored[0].response.includes(first.body.key));
  const listed = await call("GET", "/keys", { token: owner.token });
  assert.equal(listed.body.total, 1);
});

Deno.test("Idempotency-Keys are per caller: another caller's key does not collide", async () => {
  const a = await signUp("idem-a");
  const b = await signUp("idem-b");
  const key = crypto.randomUUID();
  const fromA = await call("POST", "/keys", {
    token: a.token,
    body: { name: "a" },
    headers: { "idempotency-key": key },
  });
  const fromB = await call("POST", "/keys", {
    token: b.token,
    body: { name: "a" },
    headers: { "idempotency-key": key },
  });
  assert.equal(fromA.status, 201);
  assert.equal(fromB.status, 201);
  assert.notEqual(fromA.body.id, fromB.body.id);
  assert.equal(fromB.headers.get("idempotency-replayed"), null);
});
