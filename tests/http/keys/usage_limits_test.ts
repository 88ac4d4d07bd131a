import assert from "node:assert/strict";
import {
  asAdminKey,
  call,
  createKey,
  errorOf,
  issueKey,
  signUp,
  verifyKey,
  withDatabase,
} from "../../support/http.ts";

Deno.test("N parallel verifications of a key with R credits give exactly R VALID", async () => {
  const owner = await signUp("credits-race");
  const issued = await issueKey(owner.id, { remaining: 25, rateLimitPerMinute: 100_000 });
  const results = await Promise.all(
    Array.from({ length: 100 }, () => verifyKey(issued.key)),
  );
  const codes = results.map((result) => result.body.code);
  assert.equal(codes.filter((code) => code === "VALID").length, 25);
  assert.equal(codes.filter((code) => code === "USAGE_EXCEEDED").length, 75);
  // Each VALID answer saw its own credit: 24 down to 0, each once.
  const seen = results.filter((result) => result.body.valid).map((result) => result.body.remaining)
    .sort((a, b) => a - b);
  assert.deepEqual(seen, Array.from({ length: 25 }, (_, index) => index));
  const exhausted = await verifyKey(issued.key);
  assert.equal(exhausted.body.code, "USAGE_EXCEEDED");
  assert.equal(exhausted.body.remaining, 0);
  assert.equal(exhausted.body.valid, false);
});

Deno.test("a key out of credits is refused as a credential with 429 usage_exceeded", async () => {
  const owner = await signUp("credits-credential");
  const issued = await issueKey(owner.id, { remaining: 1 });
  assert.equal((await call("GET", "/auth/session", { token: issued.key })).status, 200);
  const refused = await call("GET", "/auth/session", { token: issued.key });
  assert.equal(refused.status, 429);
  assert.equal(errorOf(refused).code, "usage_exceeded");
});

Deno.test("credits refill lazily at the interval's boundary, and admins can top them up", async () => {
  const owner = await signUp("credits-refill");
  const issued = await asAdminKey("POST", "/admin/keys", {
    body: { userId: owner.id, keyType: "human", refill: { amount: 3, interval: "month" } },
  });
  assert.equal(issued.status, 201);
  assert.equal(issued.body.remaining, 3, "a refill without credits starts full");
  assert.deepEqual(issued.body.refill, { amount: 3, interval: "month" });
  const codes = [];
  for (let i = 0; i < 4; i++) codes.push((await verifyKey(issued.body.key)).body.code);
  assert.deepEqual(codes, ["VALID", "VALID", "VALID", "USAGE_EXCEEDED"]);

  // As if the last refill had been last month: the next verification refills first.
  await withDatabase((sql) =>
    sql`update latchkey.api_keys set refilled_at = now() - interval '32 days'
        where id = ${issued.body.id}`
  );
  const refilled = await verifyKey(issued.body.key);
  assert.equal(refilled.body.code, "VALID");
  assert.equal(refilled.body.remaining, 2);
  assert.equal((await verifyKey(issued.body.key)).body.remaining, 1);

  const toppedUp = await asAdminKey("PATCH", `/admin/keys/${issued.body.id}`, {
    body: { remaining: 50 },
  });
  assert.equal(toppedUp.status, 200);
  assert.equal(toppedUp.body.remaining, 50);
  assert.equal((await verifyKey(issued.body.key)).body.remaining, 49);

  const unlimited = await asAdminKey("PATCH", `/admin/keys/${issued.body.id}`, {
    body: { remaining: null },
  });
  assert.equal(unlimited.status, 200);
  assert.equal(unlimited.body.remaining, null);
  assert.equal(unlimited.body.refill, null, "no credits, no refill");
  const free = await verifyKey(issued.body.key);
  assert.equal(free.body.code, "VALID");
  assert.equal(free.body.remaining, null);
});

Deno.test("only key writers set usage limits: not on self-service keys, not through the owner", async () => {
  const owner = await signUp("credits-owner");
  const created = await call("POST", "/keys", {
    token: owner.token,
    body: { name: "self", remaining: 1_000_000 },
  });
  assert.equal(created.status, 400);
  assert.ok(errorOf(created).details?.some((detail) => detail.path === "remaining"));
  const issued = await issueKey(owner.id, { remaining: 2 });
  // The database refuses it too, whatever a route might forget: the owner's own transaction.
  const outcome = await withDatabase((sql) =>
    sql.begin(async (tx) => {
      await tx`set local role latchkey_caller`;
      await tx`select set_config('latchkey.caller', ${
        JSON.stringify({ sub: owner.id, app_role: "user", principal_kind: "session" })
      }, true)`;
      const [row] = await tx`select latchkey.update_api_key(${issued.id},
        '{"remaining": 1000000}') as outcome`;
      return row.outcome;
    })
  );
  assert.equal(outcome, "forbidden");
  assert.equal((await verifyKey(issued.key)).body.remaining, 1);
});

Deno.test("account credits: every key of a metered account draws on one budget, its own keys too", async () => {
  const owner = await signUp("account-credits");
  const issued = await issueKey(owner.id, { name: "metered", remaining: 5 });
  const metered = await asAdminKey("PATCH", `/admin/users/${owner.id}`, { body: { credits: 6 } });
  assert.equal(metered.status, 200, JSON.stringify(metered.body));
  assert.equal(metered.body.user.credits, 6);
  // The escape the review found: a key of the user's own, with no credits of its own.
  const own = await createKey(owner.token, { name: "self-made" });
  const codes = [];
  for (const key of [issued.key, own.key, issued.key, own.key, issued.key, own.key]) {
    codes.push((await verifyKey(key)).body.code);
  }
  assert.deepEqual(codes, Array(6).fill("VALID"));
  assert.equal((await verifyKey(own.key)).body.code, "USAGE_EXCEEDED", "the account's budget");
  assert.equal((await verifyKey(issued.key)).body.code, "USAGE_EXCEEDED", "2 of the key's left");
  const shown = await asAdminKey("GET", `/admin/users/${owner.id}`);
  assert.equal(shown.body.user.credits, 0);

  // Exact at any concurrency: 7 credits, 30 checks at once over both keys.
  await asAdminKey("PATCH", `/admin/users/${owner.id}`, { body: { credits: 7 } });
  const burst = await Promise.all(
    Array.from({ length: 30 }, (_, i) => verifyKey(i % 2 ? own.key : issued.key)),
  );
  const valid = burst.filter((result) => result.body.code === "VALID").length;
  const issuedValid = burst.filter((result, i) => i % 2 === 0 && result.body.code === "VALID")
    .length;
  assert.equal(valid, 7, "exactly the account's credits");
  assert.ok(issuedValid <= 2, "and never more than the issued key's own");

  // Unmetered again: the self-made key is unlimited, the issued one keeps its own credits.
  await asAdminKey("PATCH", `/admin/users/${owner.id}`, { body: { credits: null } });
  assert.equal((await verifyKey(own.key)).body.code, "VALID");
});
