import assert from "node:assert/strict";
import {
  auditEventsFor,
  baseUrl,
  call,
  createAccount,
  enrolTotp,
  errorOf,
  recordSecret,
  signIn,
  signUp,
  type TestAccount,
  testClient,
  withDatabase,
} from "../../support/http.ts";
import { ageSecondFactor } from "../../support/step_up.ts";
import { SoftAuthenticator } from "../../support/webauthn.ts";

const origin = new URL(baseUrl).origin;

function creationOptions(account: TestAccount, name?: string) {
  return call("POST", "/auth/factors/passkey/options", {
    token: account.token,
    body: name ? { name } : {},
  });
}

function register(account: TestAccount, response: unknown) {
  return call("POST", "/auth/factors/passkey", { token: account.token, body: response });
}

/** Registers a passkey with a new software authenticator; the session becomes aal2. */
async function registered(account: TestAccount, name?: string) {
  const authenticator = await SoftAuthenticator.create(origin);
  const options = await creationOptions(account, name);
  assert.equal(options.status, 200, JSON.stringify(options.body));
  const result = await register(account, await authenticator.register(options.body));
  assert.equal(result.status, 201, JSON.stringify(result.body));
  recordSecret(...(result.body.recoveryCodes ?? []));
  return { authenticator, factorId: result.body.id as string, result };
}

function requestOptions(token: string, factorId?: string, client = testClient()) {
  return call("POST", "/auth/factors/passkey/assertion-options", {
    token,
    body: factorId ? { factorId } : {},
    headers: client,
  });
}

function verify(token: string, factorId: string, assertion: unknown, client = testClient()) {
  return call("POST", `/auth/factors/${factorId}/verify`, {
    token,
    body: { assertion },
    headers: client,
  });
}

/** Request options and an assertion by `authenticator` answering them. */
async function assertion(
  token: string,
  authenticator: SoftAuthenticator,
  bend: Parameters<SoftAuthenticator["assert"]>[1] = {},
) {
  const options = await requestOptions(token);
  assert.equal(options.status, 200, JSON.stringify(options.body));
  return await authenticator.assert(options.body, bend);
}

Deno.test("register a passkey: creation options, then the response; aal2, recovery codes once", async () => {
  const account = await signUp("passkey-register");
  const options = await creationOptions(account, "YubiKey");
  assert.equal(options.status, 200, JSON.stringify(options.body));
  assert.equal(options.body.rp.id, new URL(baseUrl).hostname);
  assert.equal(options.body.rp.name, "Latchkey");
  assert.equal(options.body.user.name, account.email);
  assert.equal(options.body.authenticatorSelection.userVerification, "required");
  assert.equal(options.body.authenticatorSelection.residentKey, "preferred");
  assert.equal(options.body.attestation, "none");
  assert.deepEqual(options.body.excludeCredentials, []);
  assert.match(options.body.challenge, /^[A-Za-z0-9_-]{43}$/);

  const authenticator = await SoftAuthenticator.create(origin);
  const result = await register(account, await authenticator.register(options.body));
  assert.equal(result.status, 201, JSON.stringify(result.body));
  assert.equal(result.body.type, "passkey");
  assert.equal(result.body.name, "YubiKey");
  assert.equal(result.body.confirmed, true);
  assert.equal(result.body.recoveryCodes.length, 10);
  recordSecret(...result.body.recoveryCodes);
  assert.equal(result.body.session.aal, "aal2");
  assert.deepEqual(result.body.session.amr.map((entry: { method: string }) => entry.method), [
    "password",
    "webauthn",
  ]);
  const actions = (await auditEventsFor(result.headers.get("x-request-id")!)).map((e) => e.action);
  assert.deepEqual(actions.sort(), ["auth.passkey_registered", "auth.session_assurance_raised"]);

  // Several per account: the second's options exclude the first; no new recovery codes.
  const second = await creationOptions(account);
  assert.deepEqual(second.body.excludeCredentials.map((c: { id: string }) => c.id), [
    authenticator.id,
  ]);
  const laptop = await SoftAuthenticator.create(origin);
  const secondResult = await register(account, await laptop.register(second.body));
  assert.equal(secondResult.status, 201, JSON.stringify(secondResult.body));
  assert.equal(secondResult.body.name, "Passkey");
  assert.equal(secondResult.body.recoveryCodes, undefined);

  const listed = await call("GET", "/auth/factors", { token: account.token });
  assert.deepEqual(
    listed.body.factors.map((f: { type: string; name: string; confirmed: boolean }) => [
      f.type,
      f.name,
      f.confirmed,
    ]),
    [["passkey", "YubiKey", true], ["passkey", "Passkey", true]],
  );
  assert.equal(listed.body.recoveryCodesLeft, 10);
  assert.ok(!JSON.stringify(listed.body).includes(authenticator.id), "no credential id listed");

  const [row] = await withDatabase((sql) =>
    sql`select sign_count, transports, aaguid, backed_up from latchkey.mfa_factors
        where id = ${result.body.id}`
  );
  assert.deepEqual({ ...row, sign_count: Number(row.sign_count) }, {
    sign_count: 0,
    transports: ["internal"],
    aaguid: "00000000-0000-0000-0000-000000000000",
    backed_up: false,
  });
});

Deno.test("sign in with a passkey: the challenge and an assertion give an aal2 session", async () => {
  const account = await signUp("passkey-sign-in");
  const { authenticator, factorId } = await registered(account, "Phone");
  const challenged = await signIn(account.email, account.password);
  assert.equal(challenged.status, 200);
  const { token, factors } = challenged.body.challenge;
  assert.deepEqual(factors, [{ id: factorId, type: "passkey", name: "Phone" }]);

  const options = await requestOptions(token);
  assert.equal(options.status, 200, JSON.stringify(options.body));
  assert.equal(options.body.userVerification, "required");
  assert.equal(options.body.rpId, new URL(baseUrl).hostname);
  assert.deepEqual(options.body.allowCredentials.map((c: { id: string }) => c.id), [
    authenticator.id,
  ]);
  assert.deepEqual(options.body.factors, [
    { id: factorId, name: "Phone", credentialId: authenticator.id },
  ]);
  const answer = await authenticator.assert(options.body);
  const signedIn = await verify(token, factorId, answer);
  assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
  assert.equal(signedIn.body.user.id, account.id);
  assert.equal(signedIn.body.session.aal, "aal2");
  assert.deepEqual(signedIn.body.session.amr.map((entry: { method: string }) => entry.method), [
    "password",
    "webauthn",
  ]);
  const events = await auditEventsFor(signedIn.headers.get("x-request-id")!);
  assert.deepEqual(events.map((e) => e.action).sort(), ["auth.factor_verified", "auth.sign_in"]);

  // The challenge is spent, and so is the WebAuthn challenge: the same assertion again fails.
  assert.equal((await verify(token, factorId, answer)).status, 401);
  const session = await call("GET", "/auth/session", { token: signedIn.body.session.token });
  assert.equal(session.body.session.aal, "aal2");
});

Deno.test("assertions racing with one sign-in challenge: one session, the others 401", async () => {
  const account = await signUp("passkey-challenge-race");
  const { authenticator, factorId } = await registered(account);
  const challenged = await signIn(account.email, account.password);
  const { token } = challenged.body.challenge;
  const answers = [];
  for (let i = 0; i < 3; i++) answers.push(await assertion(token, authenticator));
  const results = await Promise.all(answers.map((answer) => verify(token, factorId, answer)));
  const bodies = JSON.stringify(results.map((r) => r.body));
  assert.deepEqual(results.map((r) => r.status).sort(), [200, 401, 401], bodies);
  const sessions = await withDatabase((sql) =>
    sql`select count(*)::int as n from latchkey.sessions
        where user_id = ${account.id} and purpose = 'session' and id <> ${account.sessionId}`
  );
  assert.equal(sessions[0].n, 1, "one aal2 session from one challenge");
});

Deno.test("a passkey raises and steps up the caller's own session; a replayed assertion is refused", async () => {
  const account = await signUp("passkey-step-up");
  const { authenticator, factorId } = await registered(account);
  await ageSecondFactor(account.sessionId, 60);
  const refused = await call("DELETE", `/auth/factors/${factorId}`, { token: account.token });
  assert.equal(errorOf(refused).code, "step_up_required");

  const answer = await assertion(account.token, authenticator);
  const verified = await verify(account.token, factorId, answer);
  assert.equal(verified.status, 200, JSON.stringify(verified.body));
  assert.equal(verified.body.session.aal, "aal2");
  assert.equal(verified.body.session.id, account.sessionId);

  const replayed = await verify(account.token, factorId, answer);
  assert.equal(replayed.status, 400);
  assert.equal(errorOf(replayed).code, "invalid_passkey");
  const [event] = await auditEventsFor(replayed.headers.get("x-request-id")!);
  assert.equal(event.action, "auth.factor_verify_failed");
  assert.deepEqual(event.metadata, { reason: "challenge", type: "passkey" });

  const renamed = await call("PATCH", `/auth/factors/${factorId}`, {
    token: account.token,
    body: { name: "Old key" },
  });
  assert.equal(renamed.body.name, "Old key");
  const removed = await call("DELETE", `/auth/factors/${factorId}`, { token: account.token });
  assert.equal(removed.status, 204);
  const listed = await call("GET", "/auth/factors", { token: account.token });
  assert.deepEqual(listed.body, { factors: [], recoveryCodesLeft: 0 });
});

Deno.test("a counter that does not increase is refused: a cloned authenticator", async () => {
  const account = await signUp("passkey-clone");
  const { authenticator, factorId } = await registered(account);
  const first = await verify(
    account.token,
    factorId,
    await assertion(account.token, authenticator),
  );
  assert.equal(first.status, 200, JSON.stringify(first.body));
  // The clone reports the counter the original has used already; then a lower one.
  for (const counter of [authenticator.counter, authenticator.counter - 1]) {
    const cloned = await verify(
      account.token,
      factorId,
      await assertion(account.token, authenticator, { counter }),
    );
    assert.equal(cloned.status, 400, JSON.stringify(cloned.body));
    assert.equal(errorOf(cloned).code, "invalid_passkey");
    assert.match(errorOf(cloned).details?.[0].message ?? "", /counter/);
    const [event] = await auditEventsFor(cloned.headers.get("x-request-id")!);
    assert.equal(event.action, "auth.factor_verify_failed");
    assert.equal(event.metadata.reason, "counter_not_increased");
  }
  const next = await verify(account.token, factorId, await assertion(account.token, authenticator));
  assert.equal(next.status, 200, JSON.stringify(next.body));
});

Deno.test("an authenticator that keeps no counter (always zero) is accepted", async () => {
  const account = await signUp("passkey-zero");
  const { authenticator, factorId } = await registered(account);
  for (let i = 0; i < 2; i++) {
    const result = await verify(
      account.token,
      factorId,
      await assertion(account.token, authenticator, { counter: 0 }),
    );
    assert.equal(result.status, 200, JSON.stringify(result.body));
  }
});

Deno.test("another origin, another relying party, or no user verification is refused", async () => {
  const account = await signUp("passkey-attacks");
  const bends = [
    [{ origin: "https://latchkey.example.evil" }, "origin"],
    [{ rpId: "evil.example" }, "rp_id"],
    [{ userVerified: false }, "user_verification"],
    [{ type: "payment.get" }, "malformed"],
  ] as const;
  // At registration.
  for (const [bend, reason] of bends) {
    const authenticator = await SoftAuthenticator.create(origin);
    const options = await creationOptions(account);
    const result = await register(account, await authenticator.register(options.body, bend));
    assert.equal(result.status, 400, `${reason}: ${JSON.stringify(result.body)}`);
    assert.equal(errorOf(result).code, "invalid_passkey");
    const [event] = await auditEventsFor(result.headers.get("x-request-id")!);
    assert.equal(event.action, "auth.passkey_registration_failed");
    assert.equal(event.metadata.reason, reason);
  }
  const listed = await call("GET", "/auth/factors", { token: account.token });
  assert.deepEqual(listed.body.factors, []);

  // At authentication.
  const { authenticator, factorId } = await registered(account);
  for (const [bend, reason] of bends) {
    const result = await verify(
      account.token,
      factorId,
      await assertion(account.token, authenticator, bend),
    );
    assert.equal(result.status, 400, `${reason}: ${JSON.stringify(result.body)}`);
    assert.equal(errorOf(result).code, "invalid_passkey");
    const [event] = await auditEventsFor(result.headers.get("x-request-id")!);
    assert.equal(event.action, "auth.factor_verify_failed");
    assert.equal(event.metadata.reason, reason);
  }
});

Deno.test("a challenge is this session's, of its ceremony, and taken once", async () => {
  const account = await signUp("passkey-challenge");
  const { authenticator, factorId } = await registered(account);
  // A challenge made up by the client.
  const options = await requestOptions(account.token);
  const madeUp = await authenticator.assert(options.body, { challenge: "A".repeat(43) });
  assert.equal(errorOf(await verify(account.token, factorId, madeUp)).code, "invalid_passkey");
  // Another session of the same account cannot answer this session's challenge.
  const other = await signIn(account.email, account.password);
  const otherOptions = await requestOptions(other.body.challenge.token);
  const stolen = await authenticator.assert(otherOptions.body);
  const refused = await verify(account.token, factorId, stolen);
  assert.equal(errorOf(refused).code, "invalid_passkey");
  // A registration challenge does not answer an assertion.
  const creation = await creationOptions(account);
  const crossed = await authenticator.assert(options.body, {
    challenge: creation.body.challenge,
  });
  assert.equal(errorOf(await verify(account.token, factorId, crossed)).code, "invalid_passkey");
});

Deno.test("registration racing with one challenge: one wins", async () => {
  const account = await signUp("passkey-race");
  const options = await creationOptions(account);
  const [a, b] = [await SoftAuthenticator.create(origin), await SoftAuthenticator.create(origin)];
  const results = await Promise.all([
    register(account, await a.register(options.body)),
    register(account, await b.register(options.body)),
    register(account, await a.register(options.body)),
  ]);
  const bodies = JSON.stringify(results.map((r) => r.body));
  assert.equal(results.filter((result) => result.status === 201).length, 1, bodies);
  // A loser finds the challenge spent (400) or, when the winner's passkey is in already and
  // its own session still aal1, that the account now has a factor (403 step_up_required).
  for (const result of results.filter((r) => r.status !== 201)) {
    assert.ok(
      ["invalid_passkey", "step_up_required"].includes(errorOf(result).code),
      bodies,
    );
  }
  for (const result of results.filter((r) => r.status === 201)) {
    recordSecret(...(result.body.recoveryCodes ?? []));
  }
  const listed = await call("GET", "/auth/factors", { token: account.token });
  assert.equal(listed.body.factors.length, 1);
});

Deno.test("a passkey registered to one account cannot be registered or used by another", async () => {
  const alice = await signUp("passkey-alice");
  const bob = await signUp("passkey-bob");
  const { authenticator, factorId } = await registered(alice);
  // The same credential again, for Bob.
  const options = await creationOptions(bob);
  const again = await register(bob, await authenticator.register(options.body));
  assert.equal(errorOf(again).code, "invalid_passkey");
  assert.match(errorOf(again).details?.[0].message ?? "", /registered already/);
  // Bob's options do not list Alice's passkey; her factor id is not his.
  const { authenticator: bobs, factorId: bobsId } = await registered(bob);
  assert.equal((await requestOptions(bob.token, factorId)).status, 404);
  const aliceAnswer = await assertion(alice.token, authenticator);
  assert.equal((await verify(bob.token, factorId, aliceAnswer)).status, 404);
  // Alice's assertion sent as Bob's passkey: another credential.
  const bobOptions = await requestOptions(bob.token);
  const crossed = await authenticator.assert(bobOptions.body);
  const result = await verify(bob.token, bobsId, crossed);
  assert.equal(errorOf(result).code, "invalid_passkey");
  const [event] = await auditEventsFor(result.headers.get("x-request-id")!);
  assert.equal(event.metadata.reason, "another_credential");
  // Bob's own passkey still works.
  const own = await verify(bob.token, bobsId, await assertion(bob.token, bobs));
  assert.equal(own.status, 200, JSON.stringify(own.body));
});

Deno.test("refused assertions are throttled like failed sign-ins", async () => {
  const account = await signUp("passkey-throttle");
  const { authenticator, factorId } = await registered(account);
  const client = testClient();
  const challenged = await signIn(account.email, account.password, client);
  const { token } = challenged.body.challenge;
  let last;
  for (let i = 0; i < 12; i++) {
    const options = await requestOptions(token, undefined, client);
    last = await verify(
      token,
      factorId,
      await authenticator.assert(options.body, { userVerified: false }),
      client,
    );
    if (last.status === 429) break;
    assert.equal(last.status, 400);
  }
  assert.equal(last!.status, 429);
  const options = await requestOptions(token, undefined, client);
  const right = await verify(token, factorId, await authenticator.assert(options.body), client);
  assert.equal(right.status, 429);
});

Deno.test("an aal1 session of an account with a factor cannot add a passkey", async () => {
  const account = await signUp("passkey-aal1");
  const totp = await enrolTotp(account);
  assert.ok(totp.factorId);
  const fresh = await signIn(account.email, account.password);
  assert.ok(fresh.body.challenge, "a challenge, not a session");
  // The challenge token is not a session: registration is refused outright.
  const byChallenge = await call("POST", "/auth/factors/passkey/options", {
    token: fresh.body.challenge.token,
    body: {},
  });
  assert.equal(byChallenge.status, 401);
  // An aal1 session (made directly) of an account with a factor gets step_up_required.
  await withDatabase((sql) =>
    sql`update latchkey.sessions set aal = 'aal1',
          amr = jsonb_build_array(jsonb_build_object('method', 'password',
            'timestamp', floor(date_part('epoch', now()))::bigint))
        where id = ${account.sessionId}`
  );
  const refused = await creationOptions(account);
  assert.equal(errorOf(refused).code, "step_up_required");
});

Deno.test("an admin's first password session can enrol a passkey, and then has full power", async () => {
  const admin = await createAccount("admin", "passkey-admin", { secondFactor: false });
  const refused = await call("GET", "/admin/users?limit=1", { token: admin.token });
  assert.equal(errorOf(refused).code, "mfa_required");
  await registered(admin);
  const listed = await call("GET", "/admin/users?limit=1", { token: admin.token });
  assert.equal(listed.status, 200, "the same session, raised by the passkey, has the admin routes");

  // Its next sign-in: the challenge, then the passkey.
  const challenged = await signIn(admin.email, admin.password);
  const [{ id }] = challenged.body.challenge.factors;
  const options = await requestOptions(challenged.body.challenge.token, id);
  const authenticator = await SoftAuthenticator.create(origin);
  // Another authenticator's assertion for the admin's passkey is refused.
  const forged = await verify(
    challenged.body.challenge.token,
    id,
    await authenticator.assert(options.body),
  );
  assert.equal(errorOf(forged).code, "invalid_passkey");
});
