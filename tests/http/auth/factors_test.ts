import assert from "node:assert/strict";
import postgres from "postgres";
import { Secret } from "otpauth";
import {
  auditEventsFor,
  call,
  errorOf,
  recordSecret,
  signUp,
  type TestAccount,
  testClient,
  totpCode,
  withDatabase,
} from "../../support/http.ts";
import { ageSecondFactor } from "../../support/step_up.ts";

/** Enrols a TOTP factor; the secret goes to the runner's secrets-in-log check at once. */
async function enrol(account: TestAccount, name?: string) {
  const result = await call("POST", "/auth/factors/totp", {
    token: account.token,
    body: name ? { name } : {},
  });
  assert.equal(result.status, 201, JSON.stringify(result.body));
  recordSecret(result.body.secret, result.body.otpauthUri);
  return result;
}

const codeOf = totpCode;

function verify(account: TestAccount, id: string, code: string, client = testClient()) {
  return call("POST", `/auth/factors/${id}/verify`, {
    token: account.token,
    body: { code },
    headers: client,
  });
}

Deno.test("enrol, confirm with a first code, recovery codes once, and the list", async () => {
  const account = await signUp("factor-enrol");
  const enrolled = await enrol(account, "Phone");
  assert.match(enrolled.body.secret, /^[A-Z2-7]{32}$/);
  assert.match(enrolled.body.otpauthUri, /^otpauth:\/\/totp\/Latchkey:.*issuer=Latchkey/);
  assert.match(enrolled.body.otpauthUri, /algorithm=SHA1&digits=6&period=30/);
  assert.match(enrolled.body.qrSvg, /^<svg/);
  const [event] = await auditEventsFor(enrolled.headers.get("x-request-id")!);
  assert.equal(event.action, "auth.factor_enrolled");
  assert.ok(!JSON.stringify(event).includes(enrolled.body.secret));

  let listed = await call("GET", "/auth/factors", { token: account.token });
  assert.equal(listed.status, 200);
  assert.equal(listed.body.recoveryCodesLeft, 0);
  assert.equal(listed.body.factors.length, 1);
  assert.deepEqual(
    { ...listed.body.factors[0], createdAt: undefined },
    {
      id: enrolled.body.id,
      type: "totp",
      name: "Phone",
      confirmed: false,
      createdAt: undefined,
      lastUsedAt: null,
    },
  );
  assert.ok(!JSON.stringify(listed.body).includes(enrolled.body.secret));

  const confirmed = await verify(account, enrolled.body.id, codeOf(enrolled.body.secret));
  assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
  assert.equal(confirmed.body.confirmed, true);
  assert.equal(confirmed.body.recoveryCodes.length, 10);
  assert.equal(new Set(confirmed.body.recoveryCodes).size, 10);
  for (const code of confirmed.body.recoveryCodes) {
    assert.match(code, /^[a-z2-9]{4}(-[a-z2-9]{4}){3}$/);
  }
  recordSecret(...confirmed.body.recoveryCodes);
  assert.equal(
    (await auditEventsFor(confirmed.headers.get("x-request-id")!))[0].action,
    "auth.factor_confirmed",
  );

  // The next step's code is accepted (drift of one step) and shows no recovery codes again.
  const again = await verify(account, enrolled.body.id, codeOf(enrolled.body.secret, 1));
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.equal(again.body.recoveryCodes, undefined);

  listed = await call("GET", "/auth/factors", { token: account.token });
  assert.equal(listed.body.recoveryCodesLeft, 10);
  assert.equal(listed.body.factors[0].confirmed, true);
  assert.ok(listed.body.factors[0].lastUsedAt);
});

Deno.test("a code is taken once: the same time step again is a replay", async () => {
  const account = await signUp("factor-replay");
  const { body: factor } = await enrol(account);
  const code = codeOf(factor.secret);
  assert.equal((await verify(account, factor.id, code)).status, 200);
  const replay = await verify(account, factor.id, code);
  assert.equal(replay.status, 400);
  assert.equal(errorOf(replay).code, "invalid_factor_code");
  assert.deepEqual(errorOf(replay).details?.map((detail) => detail.path), ["code"]);
  const [event] = await auditEventsFor(replay.headers.get("x-request-id")!);
  assert.equal(event.action, "auth.factor_verify_failed");
  assert.deepEqual(event.metadata, { reason: "replayed" });
  // An older step than the last accepted one is refused too.
  assert.equal((await verify(account, factor.id, codeOf(factor.secret, -1))).status, 400);
});

Deno.test("wrong codes fail, are audited, and are throttled like failed sign-ins", async () => {
  const account = await signUp("factor-wrong");
  const { body: factor } = await enrol(account);
  const right = codeOf(factor.secret);
  const wrong = right === "000000" ? "111111" : "000000";
  const client = testClient();
  const first = await verify(account, factor.id, wrong, client);
  assert.equal(first.status, 400);
  assert.equal(errorOf(first).code, "invalid_factor_code");
  const [event] = await auditEventsFor(first.headers.get("x-request-id")!);
  assert.equal(event.action, "auth.factor_verify_failed");
  assert.deepEqual(event.metadata, { reason: "wrong_code" });
  let last = first;
  for (let i = 0; i < 12 && last.status !== 429; i++) {
    last = await verify(account, factor.id, wrong, client);
  }
  assert.equal(last.status, 429);
  assert.ok(Number(last.headers.get("retry-after")) > 0);
  // Even the right code waits out the throttle from that client.
  assert.equal((await verify(account, factor.id, right, client)).status, 429);

  const malformed = await verify(account, factor.id, "12ab56");
  assert.equal(malformed.status, 400);
  assert.deepEqual(errorOf(malformed).details?.map((detail) => detail.path), ["code"]);
});

Deno.test("another user cannot see, verify, rename or remove your factor", async () => {
  const owner = await signUp("factor-owner");
  const stranger = await signUp("factor-stranger");
  const { body: factor } = await enrol(owner);
  const listed = await call("GET", "/auth/factors", { token: stranger.token });
  assert.deepEqual(listed.body, { factors: [], recoveryCodesLeft: 0 });
  const attempts = [
    await verify(stranger, factor.id, codeOf(factor.secret)),
    await call("PATCH", `/auth/factors/${factor.id}`, {
      token: stranger.token,
      body: { name: "mine now" },
    }),
    await call("DELETE", `/auth/factors/${factor.id}`, { token: stranger.token }),
    await call("DELETE", "/auth/factors/not-a-uuid", { token: stranger.token }),
  ];
  assert.deepEqual(attempts.map((result) => result.status), [404, 404, 404, 404]);
  // The owner's factor is untouched, and still takes its first code.
  assert.equal((await verify(owner, factor.id, codeOf(factor.secret))).status, 200);
});

Deno.test("rename a factor; names are validated", async () => {
  const account = await signUp("factor-rename");
  const { body: factor } = await enrol(account);
  const renamed = await call("PATCH", `/auth/factors/${factor.id}`, {
    token: account.token,
    body: { name: "Work phone" },
  });
  assert.equal(renamed.status, 200);
  assert.equal(renamed.body.name, "Work phone");
  const empty = await call("PATCH", `/auth/factors/${factor.id}`, {
    token: account.token,
    body: { name: " " },
  });
  assert.equal(empty.status, 400);
  assert.deepEqual(errorOf(empty).details?.map((detail) => detail.path), ["name"]);
});

Deno.test("the secret is stored encrypted, never as its base32", async () => {
  const account = await signUp("factor-at-rest");
  const { body: factor } = await enrol(account);
  const superuserUrl = Deno.env.get("LATCHKEY_TEST_SUPERUSER_URL");
  const read = async (sql: postgres.Sql) =>
    await sql<{ secret: string }[]>`
      select encode(secret_ciphertext, 'escape') as secret
      from latchkey.mfa_factors where id = ${factor.id}`;
  const [row] = superuserUrl
    ? await (async () => {
      const platform = postgres(superuserUrl, { max: 1, onnotice: () => {} });
      try {
        return await read(platform);
      } finally {
        await platform.end();
      }
    })()
    : await withDatabase(read);
  assert.ok(row.secret.length > 0);
  assert.ok(!row.secret.toUpperCase().includes(factor.secret));
  const raw = Secret.fromBase32(factor.secret).bytes;
  assert.ok(!row.secret.includes(String.fromCharCode(...raw.slice(0, 8))));
});

Deno.test("remove: unconfirmed freely; confirmed only with a step-up (a factor verified lately)", async () => {
  const account = await signUp("factor-remove");
  const unconfirmed = await enrol(account);
  const freely = await call("DELETE", `/auth/factors/${unconfirmed.body.id}`, {
    token: account.token,
  });
  assert.equal(freely.status, 204);

  const { body: first } = await enrol(account, "First");
  assert.equal((await verify(account, first.id, codeOf(first.secret))).status, 200);
  const { body: second } = await enrol(account, "Second");
  assert.equal((await verify(account, second.id, codeOf(second.secret))).status, 200);

  // Eleven minutes after the last verification (LATCHKEY_STEP_UP_MINUTES is 10): refused.
  await ageSecondFactor(account.sessionId, 11);
  const stale = await call("DELETE", `/auth/factors/${first.id}`, { token: account.token });
  assert.equal(stale.status, 403);
  assert.equal(errorOf(stale).code, "step_up_required");
  assert.match(errorOf(stale).message, /POST \/auth\/factors\/:id\/verify/);
  let listed = await call("GET", "/auth/factors", { token: account.token });
  assert.equal(listed.body.factors.length, 2, "nothing removed");

  // Verifying a factor again (the next time step's code) refreshes the step-up.
  assert.equal((await verify(account, second.id, codeOf(second.secret, 1))).status, 200);
  const removed = await call("DELETE", `/auth/factors/${first.id}`, { token: account.token });
  assert.equal(removed.status, 204, JSON.stringify(removed.body));
  const actions = (await auditEventsFor(removed.headers.get("x-request-id")!))
    .map((event) => event.action);
  assert.deepEqual(actions, ["auth.factor_removed"]);
  listed = await call("GET", "/auth/factors", { token: account.token });
  assert.equal(listed.body.recoveryCodesLeft, 10);
  assert.deepEqual(listed.body.factors.map((factor: { name: string }) => factor.name), ["Second"]);

  // The last one takes the recovery codes with it.
  const last = await call("DELETE", `/auth/factors/${second.id}`, { token: account.token });
  assert.equal(last.status, 204, JSON.stringify(last.body));
  listed = await call("GET", "/auth/factors", { token: account.token });
  assert.deepEqual(listed.body, { factors: [], recoveryCodesLeft: 0 });
});

Deno.test("an account holds at most ten factors", async () => {
  const account = await signUp("factor-limit");
  for (let i = 0; i < 10; i++) await enrol(account, `Factor ${i}`);
  const eleventh = await call("POST", "/auth/factors/totp", { token: account.token, body: {} });
  assert.equal(eleventh.status, 409);
  assert.equal(errorOf(eleventh).code, "factor_limit_reached");
});
