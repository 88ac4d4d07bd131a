import assert from "node:assert/strict";
import {
  auditEventsFor,
  call,
  enrolTotp,
  errorOf,
  recordSecret,
  signIn,
  signUp,
  type TestAccount,
  testClient,
  totpCode,
  withDatabase,
} from "../../support/http.ts";
import { ageSecondFactor } from "../../support/step_up.ts";

/** Sign-in with a second factor (issue 28, item 2): the challenge and the session's assurance. */

const codeOf = totpCode;

interface Enrolled {
  account: TestAccount;
  factorId: string;
  secret: string;
  recoveryCodes: string[];
}

/** An account (a new one, or the one given) with a confirmed TOTP factor, confirmed this step. */
async function enrolled(tag: string, given?: TestAccount): Promise<Enrolled> {
  const account = given ?? await signUp(tag);
  return { account, ...await enrolTotp(account, "Phone") };
}

/** Signs in and returns the challenge, asserting that no session came with it. */
async function challengeOf({ account }: Enrolled, client = testClient()) {
  const result = await signIn(account.email, account.password, client);
  assert.equal(result.status, 200, JSON.stringify(result.body));
  assert.equal(result.body.session, undefined);
  assert.equal(result.headers.get("set-cookie"), null);
  recordSecret(result.body.challenge.token);
  return { result, token: result.body.challenge.token as string };
}

const methods = (amr: { method: string; timestamp: number }[]) => amr.map((entry) => entry.method);

Deno.test("a session shows its assurance: aal1 and the password after sign-in", async () => {
  const account = await signUp("aal-plain");
  const signedIn = await signIn(account.email, account.password);
  assert.equal(signedIn.status, 200);
  recordSecret(signedIn.body.session.token);
  assert.equal(signedIn.body.session.aal, "aal1");
  assert.deepEqual(methods(signedIn.body.session.amr), ["password"]);
  const now = Date.now() / 1000;
  assert.ok(Math.abs(signedIn.body.session.amr[0].timestamp - now) < 60);
  const session = await call("GET", "/auth/session", { token: signedIn.body.session.token });
  assert.equal(session.status, 200);
  assert.equal(session.body.session.aal, "aal1");
  assert.deepEqual(session.body.session.amr, signedIn.body.session.amr);
  // Sign-up's session too.
  const own = await call("GET", "/auth/session", { token: account.token });
  assert.equal(own.body.session.aal, "aal1");
  assert.deepEqual(methods(own.body.session.amr), ["password"]);
});

Deno.test("an unconfirmed factor does not change sign-in", async () => {
  const account = await signUp("aal-unconfirmed");
  const enrolment = await call("POST", "/auth/factors/totp", { token: account.token, body: {} });
  recordSecret(enrolment.body.secret, enrolment.body.otpauthUri);
  const signedIn = await signIn(account.email, account.password);
  assert.equal(signedIn.status, 200);
  recordSecret(signedIn.body.session.token);
  assert.equal(signedIn.body.challenge, undefined);
  assert.equal(signedIn.body.session.aal, "aal1");
});

Deno.test("with a confirmed factor, sign-in answers a challenge good only for the factor routes", async () => {
  const setup = await enrolled("aal-challenge");
  const { result, token } = await challengeOf(setup);
  assert.equal(result.body.user.id, setup.account.id);
  assert.match(token, /^lks_[A-Za-z0-9_-]{43}$/);
  const lifetime = Date.parse(result.body.challenge.expiresAt) - Date.now();
  assert.ok(lifetime > 4 * 60_000 && lifetime <= 5 * 60_000 + 5_000, String(lifetime));
  assert.deepEqual(result.body.challenge.factors, [
    { id: setup.factorId, type: "totp", name: "Phone" },
  ]);
  const [event] = await auditEventsFor(result.headers.get("x-request-id")!);
  assert.equal(event.action, "auth.sign_in_challenged");

  for (
    const [method, path] of [
      ["GET", "/auth/session"],
      ["GET", "/auth/sessions"],
      ["GET", "/auth/factors"],
      ["POST", "/auth/factors/totp"],
      ["POST", "/auth/token"],
      ["POST", "/auth/sign-out"],
      ["GET", "/keys"],
      ["GET", "/admin/users"],
    ]
  ) {
    const refused = await call(method, path, { token, body: method === "POST" ? {} : undefined });
    assert.equal(refused.status, 401, `${method} ${path}: ${JSON.stringify(refused.body)}`);
    assert.equal(errorOf(refused).code, "unauthorized");
  }
  // The challenge is not listed among the account's sessions.
  const sessions = await call("GET", "/auth/sessions", { token: setup.account.token });
  assert.equal(sessions.status, 200);
  // Only sign-up's session, which the confirming code raised.
  assert.deepEqual(
    sessions.body.sessions.map((s: { id: string; aal: string }) => [s.id, s.aal]),
    [[setup.account.sessionId, "aal2"]],
  );
});

Deno.test("the challenge and a right code give an aal2 session; the challenge is spent", async () => {
  const setup = await enrolled("aal-verify");
  const { token } = await challengeOf(setup);
  // The confirming code took this step: the next one is the first that is not a replay.
  const code = codeOf(setup.secret, 1);
  const verified = await call("POST", `/auth/factors/${setup.factorId}/verify`, {
    token,
    body: { code },
  });
  assert.equal(verified.status, 200, JSON.stringify(verified.body));
  recordSecret(verified.body.session.token);
  assert.equal(verified.body.user.id, setup.account.id);
  assert.equal(verified.body.session.aal, "aal2");
  assert.deepEqual(methods(verified.body.session.amr), ["password", "totp"]);
  assert.match(verified.headers.get("set-cookie") ?? "", /latchkey\.session_token=lks_/);
  const events = await auditEventsFor(verified.headers.get("x-request-id")!);
  const signInEvent = events.find((event) => event.action === "auth.sign_in");
  assert.equal(signInEvent?.metadata.aal, "aal2");
  assert.equal(signInEvent?.metadata.method, "totp");

  const session = await call("GET", "/auth/session", { token: verified.body.session.token });
  assert.equal(session.status, 200);
  assert.equal(session.body.session.id, verified.body.session.id);
  assert.equal(session.body.session.aal, "aal2");
  assert.deepEqual(methods(session.body.session.amr), ["password", "totp"]);
  // A full session: the routes that refused the challenge take it.
  assert.equal((await call("GET", "/keys", { token: verified.body.session.token })).status, 200);

  // Replayed: the challenge is gone, whatever the code.
  const replay = await call("POST", `/auth/factors/${setup.factorId}/verify`, {
    token,
    body: { code },
  });
  assert.equal(replay.status, 401);
  assert.equal(errorOf(replay).code, "unauthorized");
  const again = await call("POST", "/auth/factors/recovery", {
    token,
    body: { code: setup.recoveryCodes[0] },
  });
  assert.equal(again.status, 401);
  // The recovery code was not spent by the refused replay.
  const factors = await call("GET", "/auth/factors", { token: verified.body.session.token });
  assert.equal(factors.body.recoveryCodesLeft, 10);
});

Deno.test("a right code raises the caller's own session to aal2", async () => {
  const account = await signUp("aal-raise");
  const enrolment = await call("POST", "/auth/factors/totp", { token: account.token, body: {} });
  recordSecret(enrolment.body.secret, enrolment.body.otpauthUri);
  const verified = await call("POST", `/auth/factors/${enrolment.body.id}/verify`, {
    token: account.token,
    body: { code: codeOf(enrolment.body.secret) },
  });
  assert.equal(verified.status, 200, JSON.stringify(verified.body));
  recordSecret(...verified.body.recoveryCodes);
  assert.equal(verified.body.confirmed, true);
  assert.equal(verified.body.session.id, account.sessionId);
  assert.equal(verified.body.session.aal, "aal2");
  assert.deepEqual(methods(verified.body.session.amr), ["password", "totp"]);
  assert.equal(verified.body.session.token, undefined);
  const actions = (await auditEventsFor(verified.headers.get("x-request-id")!))
    .map((event) => event.action);
  assert.ok(actions.includes("auth.session_assurance_raised"), actions.join());
  const session = await call("GET", "/auth/session", { token: account.token });
  assert.equal(session.body.session.aal, "aal2");
  assert.deepEqual(methods(session.body.session.amr), ["password", "totp"]);
});

Deno.test("a recovery code completes the challenge once", async () => {
  const setup = await enrolled("aal-recovery");
  const { token } = await challengeOf(setup);
  const [code] = setup.recoveryCodes;

  // A TOTP code is not a recovery code.
  const totp = await call("POST", "/auth/factors/recovery", {
    token,
    body: { code: codeOf(setup.secret, 1) },
  });
  assert.equal(totp.status, 400);
  assert.equal(errorOf(totp).code, "invalid_factor_code");
  const missing = await call("POST", "/auth/factors/recovery", { token, body: {} });
  assert.equal(missing.status, 400);
  assert.deepEqual(errorOf(missing).details?.map((detail) => detail.path), ["code"]);

  const recovered = await call("POST", "/auth/factors/recovery", {
    token,
    body: { code: code.toUpperCase() },
  });
  assert.equal(recovered.status, 200, JSON.stringify(recovered.body));
  recordSecret(recovered.body.session.token);
  assert.equal(recovered.body.session.aal, "aal2");
  assert.deepEqual(methods(recovered.body.session.amr), ["password", "recovery_code"]);
  const actions = (await auditEventsFor(recovered.headers.get("x-request-id")!))
    .map((event) => event.action);
  assert.ok(actions.includes("auth.recovery_code_used"), actions.join());
  assert.ok(actions.includes("auth.sign_in"), actions.join());
  const factors = await call("GET", "/auth/factors", { token: recovered.body.session.token });
  assert.equal(factors.body.recoveryCodesLeft, 9);

  // Spent: a new challenge cannot use it again.
  const next = await challengeOf(setup);
  const reused = await call("POST", "/auth/factors/recovery", {
    token: next.token,
    body: { code },
  });
  assert.equal(reused.status, 400);
  assert.equal(errorOf(reused).code, "invalid_factor_code");
});

Deno.test("a recovery code steps a session up: a lost device's factor can still go", async () => {
  const setup = await enrolled("aal-recovery-step-up");
  const { account, recoveryCodes } = setup;
  const before = await call("GET", "/auth/session", { token: account.token });
  // The enrolment's code, as if verified 11 minutes ago: past the step-up window.
  await ageSecondFactor(before.body.session.id, 11);
  const refused = await call("DELETE", `/auth/factors/${setup.factorId}`, { token: account.token });
  assert.equal(refused.status, 403);
  assert.equal(errorOf(refused).code, "step_up_required");

  const wrong = await call("POST", "/auth/factors/recovery", {
    token: account.token,
    body: { code: "aaaa-bbbb-cccc-dddd" },
  });
  assert.equal(wrong.status, 400);
  assert.equal(errorOf(wrong).code, "invalid_factor_code");
  const stepped = await call("POST", "/auth/factors/recovery", {
    token: account.token,
    body: { code: recoveryCodes[2] },
  });
  assert.equal(stepped.status, 200, JSON.stringify(stepped.body));
  assert.deepEqual(Object.keys(stepped.body), ["session"], "no new session: this one, raised");
  assert.equal(stepped.body.session.id, before.body.session.id);
  assert.equal(stepped.body.session.aal, "aal2");
  assert.deepEqual(methods(stepped.body.session.amr), ["password", "totp", "recovery_code"]);
  const actions = (await auditEventsFor(stepped.headers.get("x-request-id")!))
    .map((event) => event.action);
  assert.ok(actions.includes("auth.recovery_code_used"), actions.join());
  assert.ok(actions.includes("auth.session_assurance_raised"), actions.join());
  const listed = await call("GET", "/auth/factors", { token: account.token });
  assert.equal(listed.body.recoveryCodesLeft, 9, "the code is spent");
  const again = await call("POST", "/auth/factors/recovery", {
    token: account.token,
    body: { code: recoveryCodes[2] },
  });
  assert.equal(again.status, 400, "and taken once");

  const removed = await call("DELETE", `/auth/factors/${setup.factorId}`, { token: account.token });
  assert.equal(removed.status, 204, JSON.stringify(removed.body));
});

Deno.test("an expired challenge is refused", async () => {
  const setup = await enrolled("aal-expired");
  const { token } = await challengeOf(setup);
  await withDatabase((sql) =>
    sql`update latchkey.sessions set expires_at = now() - interval '1 second'
        where user_id = ${setup.account.id} and purpose = 'mfa_challenge'`
  );
  const verified = await call("POST", `/auth/factors/${setup.factorId}/verify`, {
    token,
    body: { code: codeOf(setup.secret, 1) },
  });
  assert.equal(verified.status, 401);
  assert.equal(errorOf(verified).code, "unauthorized");
});

Deno.test("with a challenge, wrong codes are audited and throttled; a right password does not reset them", async () => {
  const setup = await enrolled("aal-wrong");
  const client = testClient();
  const { token } = await challengeOf(setup, client);
  const right = codeOf(setup.secret, 1);
  const wrong = right === "000000" ? "111111" : "000000";
  const attempt = (code: string, challenge = token) =>
    call("POST", `/auth/factors/${setup.factorId}/verify`, {
      token: challenge,
      body: { code },
      headers: client,
    });
  const first = await attempt(wrong);
  assert.equal(first.status, 400);
  assert.equal(errorOf(first).code, "invalid_factor_code");
  const [event] = await auditEventsFor(first.headers.get("x-request-id")!);
  assert.equal(event.action, "auth.factor_verify_failed");
  assert.equal(event.actor_user_id, setup.account.id);
  assert.deepEqual(event.metadata, { reason: "wrong_code" });

  // Signing in again from another client (the password is right) does not refill the budget.
  const other = testClient();
  const { token: second } = await challengeOf(setup, other);
  let last = first;
  for (let i = 0; i < 12 && last.status !== 429; i++) last = await attempt(wrong, second);
  assert.equal(last.status, 429);
  assert.ok(Number(last.headers.get("retry-after")) > 0);
  assert.equal((await attempt(right)).status, 429);

  // An unconfirmed factor cannot complete a sign-in.
  const enrolment = await call("POST", "/auth/factors/totp", {
    token: setup.account.token,
    body: {},
  });
  recordSecret(enrolment.body.secret, enrolment.body.otpauthUri);
  const unconfirmed = await call("POST", `/auth/factors/${enrolment.body.id}/verify`, {
    token,
    body: { code: codeOf(enrolment.body.secret) },
    headers: testClient(),
  });
  assert.equal(unconfirmed.status, 404);
});

Deno.test("an aal1 session of an account with a factor cannot add a factor until it verifies one", async () => {
  const account = await signUp("aal-enrol");
  // A second session, signed in before any factor: it stays aal1 (a stolen one, say).
  const other = await signIn(account.email, account.password);
  const otherToken = other.body.session.token as string;
  recordSecret(otherToken);
  const factor = await enrolled("aal-enrol", account);

  const refused = await call("POST", "/auth/factors/totp", { token: otherToken, body: {} });
  assert.equal(refused.status, 403);
  assert.equal(errorOf(refused).code, "step_up_required");
  const [{ count }] = await withDatabase((sql) =>
    sql`select count(*)::int as count from latchkey.mfa_factors where user_id = ${account.id}`
  );
  assert.equal(count, 1, "nothing enrolled");

  // The aal2 session may; so may the other once it has verified the factor (next time step).
  const byAal2 = await call("POST", "/auth/factors/totp", { token: account.token, body: {} });
  assert.equal(byAal2.status, 201);
  recordSecret(byAal2.body.secret, byAal2.body.otpauthUri);
  const raised = await call("POST", `/auth/factors/${factor.factorId}/verify`, {
    token: otherToken,
    body: { code: codeOf(factor.secret, 1) },
  });
  assert.equal(raised.status, 200, JSON.stringify(raised.body));
  const allowed = await call("POST", "/auth/factors/totp", { token: otherToken, body: {} });
  assert.equal(allowed.status, 201);
  recordSecret(allowed.body.secret, allowed.body.otpauthUri);
});
