import assert from "node:assert/strict";
import { Secret, TOTP } from "otpauth";
import { configSchema } from "../../../functions/_shared/config/config.ts";
import { operations } from "../../support/catalogue.ts";
import {
  auditEventsFor,
  call,
  type CallResult,
  createAccount,
  enrolTotp,
  errorOf,
  signIn,
  signUp,
  type TestAccount,
  testClient,
  withDatabase,
} from "../../support/http.ts";
import { ageSecondFactor } from "../../support/step_up.ts";

/**
 * An attacker's tests of TOTP and recovery codes (issue 28, item 7), one test per attack, named
 * as the attack. Passkeys are tested with their own routes.
 *
 * Here:
 * - replay of a code across the challenge and a session, and of an older step;
 * - brute force of codes: the bound on an attacker's guesses a day under the budgets in force
 *   (computed from the configuration and asserted), then the per-account TOTP budget seen
 *   spent from many clients at once, the recovery codes still the owner's way in;
 * - recovery-code reuse: once, another account's never, and two challenges racing for one;
 * - an admin's challenge token as a session on every other route (bearer and cookie);
 * - enrolment racing: two confirmations of one new factor, the tenth factor twice at once;
 * - completion racing: several completions of one challenge at once spend one code, one wins;
 * - the TOTP secret and recovery codes in no answer and no audit row after enrolment;
 * - a stolen aal1 session adds, removes or confirms no factor of an account that has one;
 * - a step-up window is not extended by replaying an old code;
 * - a removed factor's codes, and a reset account's sessions and challenges, are dead.
 *
 * Elsewhere:
 * - every route × the caller kinds "challenge token", "support session at aal1", "admin session
 *   at aal1" and "admin session, second factor verified too long ago":
 *   tests/http/security/credential_matrix_test.ts (not repeated here);
 * - the same step twice on a session, wrong codes audited and throttled per (account, client):
 *   tests/http/auth/factors_test.ts, tests/http/auth/sign_in_factor_test.ts;
 * - the secret encrypted at rest: tests/http/auth/factors_test.ts;
 * - step-up on every dangerous action: tests/http/admin/step_up_test.ts; the admin twins'
 *   reach: tests/http/admin/user_factors_test.ts;
 * - every secret the suite sees (TOTP secrets, otpauth URIs and recovery codes in any answer,
 *   through tests/support/http.ts's call) checked against the servers' logs by tests/run.ts;
 * - the SQL functions' own answers: tests/db/second_factors_test.sql,
 *   tests/db/session_assurance_test.sql.
 */

const period = 30_000;

/** The current 30-second time step of this machine's clock (the server's too). */
function currentStep(): number {
  return Math.floor(Date.now() / period);
}

/** The code of `secret` for time step `step`. */
function codeAt(secret: string, step: number): string {
  return new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30 })
    .generate({ timestamp: step * period });
}

/** A code no step from `step - 2` to `step + 2` has: certainly wrong whenever it is tried. */
function wrongCode(secret: string, step = currentStep()): string {
  const right = new Set([-2, -1, 0, 1, 2].map((offset) => codeAt(secret, step + offset)));
  for (let digit = 0;; digit++) {
    const candidate = String(digit).repeat(6);
    if (!right.has(candidate)) return candidate;
  }
}

interface Enrolled {
  account: TestAccount;
  factorId: string;
  secret: string;
  recoveryCodes: string[];
}

/** A new account with a confirmed TOTP factor (its session aal2) and its ten recovery codes. */
async function enrolled(tag: string): Promise<Enrolled> {
  const account = await signUp(tag);
  return { account, ...await enrolTotp(account) };
}

/**
 * Lets every step from `step` on be taken again (as if the factor had last been used long
 * ago): the races below want several codes that are all right when they arrive.
 */
async function forgetUsedSteps(factorId: string, step: number): Promise<void> {
  await withDatabase((sql) =>
    sql`update latchkey.mfa_factors set last_used_step = ${step - 1} where id = ${factorId}`
  );
}

/** The challenge a right password answers, from `client`. */
async function challengeOf(setup: Enrolled, client = testClient()): Promise<string> {
  const signedIn = await signIn(setup.account.email, setup.account.password, client);
  assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
  assert.ok(signedIn.body.challenge, "a challenge, not a session");
  return signedIn.body.challenge.token;
}

function verify(token: string, factorId: string, code: string, client = testClient()) {
  return call("POST", `/auth/factors/${factorId}/verify`, {
    token,
    body: { code },
    headers: client,
  });
}

function recover(token: string, code: string, client = testClient()) {
  return call("POST", "/auth/factors/recovery", { token, body: { code }, headers: client });
}

function statuses(results: CallResult[]): number[] {
  return results.map((result) => result.status).sort();
}

async function recoveryCodesLeft(userId: string): Promise<number> {
  const [{ left }] = await withDatabase((sql) =>
    sql<{ left: number }[]>`
      select count(*)::int as left from latchkey.mfa_recovery_codes
      where user_id = ${userId} and used_at is null`
  );
  return left;
}

/** How many codes of the factor were accepted (each acceptance writes one audit row). */
async function acceptedCodes(factorId: string): Promise<number> {
  const [{ accepted }] = await withDatabase((sql) =>
    sql<{ accepted: number }[]>`
      select count(*)::int as accepted from latchkey.audit_events
      where target_id = ${factorId}
        and action in ('auth.factor_verified', 'auth.factor_confirmed')`
  );
  return accepted;
}

Deno.test("replay: a code that completed a sign-in raises no session and completes no other challenge", async () => {
  const setup = await enrolled("attack-replay");
  const step = currentStep() + 1;
  const code = codeAt(setup.secret, step);
  const signedIn = await verify(await challengeOf(setup), setup.factorId, code);
  assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
  assert.equal(signedIn.body.session.aal, "aal2");

  // The same code (the attacker watched it typed) on a second challenge, and on a session.
  const again = await verify(await challengeOf(setup), setup.factorId, code);
  assert.equal(again.status, 400);
  assert.equal(errorOf(again).code, "invalid_factor_code");
  const [event] = await auditEventsFor(again.headers.get("x-request-id")!);
  assert.deepEqual(event.metadata, { reason: "replayed" });
  assert.equal((await verify(setup.account.token, setup.factorId, code)).status, 400);
  const stale = await signIn(setup.account.email, setup.account.password);
  assert.ok(stale.body.challenge);
  const older = await verify(
    stale.body.challenge.token,
    setup.factorId,
    codeAt(setup.secret, step - 1),
  );
  assert.equal(older.status, 400, "an older step than the last one taken is a replay too");
  assert.equal(await acceptedCodes(setup.factorId), 2, "enrolment's code and the sign-in's");
});

Deno.test("brute force: the budgets in force keep a day's guesses far from 1 in 10⁴", async () => {
  // What the test servers run with: the defaults (tests/support/server.ts sets none of these).
  const setting = <K extends keyof typeof configSchema.shape>(name: K) =>
    configSchema.shape[name].parse(undefined) as number;
  const windowMinutes = setting("LATCHKEY_SIGN_IN_WINDOW_MINUTES");
  const perEmail = setting("LATCHKEY_SIGN_IN_FAILURES_PER_EMAIL");
  const perClient = setting("LATCHKEY_SIGN_IN_FAILURES_PER_CLIENT");
  const perPair = setting("LATCHKEY_SIGN_IN_MAX_FAILURES");
  const totpPerDay = setting("LATCHKEY_TOTP_FAILURES_PER_DAY");
  const day = 24 * 60;
  // A GCRA allowance of `limit` per `window` lets at most limit·(D/window + 1) hits through in
  // any span of D (its burst, then one per window/limit); the (email, client) lock-out counts
  // failures in a sliding window, limit·D/window. An attacker with the password and as many
  // clients as they like is held by the budgets of the account alone.
  const byEmail = perEmail * (day / windowMinutes + 1);
  const byTotp = totpPerDay * (day / day + 1);
  const guessesPerDay = Math.min(byEmail, byTotp);
  const fromOneClient = Math.min(
    guessesPerDay,
    perPair * (day / windowMinutes + 1),
    perClient * (day / windowMinutes + 1),
  );
  // ±1 step of drift: three codes are right at any moment, at most, out of 10⁶.
  const oddsPerGuess = 3 / 1e6;
  const success = 1 - (1 - oddsPerGuess) ** guessesPerDay;
  console.log(
    `  guesses a day: ${guessesPerDay} (sign-in budget per account ${byEmail}, TOTP budget ` +
      `${byTotp}; one client ${fromOneClient}); success ≤ ${success.toExponential(2)} a day`,
  );
  assert.ok(success < 0.5e-4, `a day's guesses succeed with ${success}: not far from 1e-4`);

  // The budget seen spent: wrong codes from as many clients, each with its own challenge.
  const setup = await enrolled("attack-brute");
  const wrong = wrongCode(setup.secret);
  const challenges = await Promise.all(
    Array.from({ length: totpPerDay }, async () => {
      const client = testClient();
      return { client, token: await challengeOf(setup, client) };
    }),
  );
  const guesses = await Promise.all(
    challenges.map(({ client, token }) => verify(token, setup.factorId, wrong, client)),
  );
  assert.deepEqual(statuses(guesses), Array(totpPerDay).fill(400));

  // Now not even the right code is checked, from a new client, on a challenge or a session.
  const right = codeAt(setup.secret, currentStep() + 1);
  const refused = await verify(await challengeOf(setup), setup.factorId, right);
  assert.equal(refused.status, 429, JSON.stringify(refused.body));
  const retryAfter = Number(refused.headers.get("retry-after"));
  assert.ok(retryAfter > 0 && retryAfter <= day * 60 / totpPerDay, `Retry-After ${retryAfter}`);
  assert.equal((await verify(setup.account.token, setup.factorId, right)).status, 429);
  assert.equal(await acceptedCodes(setup.factorId), 1, "only enrolment's code");

  // The owner still signs in with a recovery code (79 bits: no budget needs to be tight).
  const recovered = await recover(await challengeOf(setup), setup.recoveryCodes[0]);
  assert.equal(recovered.status, 200, JSON.stringify(recovered.body));

  // As time passes the budget lets one guess through per day/budget, and no more.
  await withDatabase((sql) =>
    sql`update latchkey.throttles
        set allowed_at = allowed_at - make_interval(secs => ${day * 60 / totpPerDay})
        where bucket = 'totp_failures'
          and subject_hash = sha256(convert_to(${setup.account.id}, 'UTF8'))`
  );
  assert.equal((await verify(await challengeOf(setup), setup.factorId, wrong)).status, 400);
  assert.equal((await verify(await challengeOf(setup), setup.factorId, wrong)).status, 429);
});

Deno.test("recovery-code reuse: once, never another account's, one winner when two challenges race", async () => {
  const setup = await enrolled("attack-recovery");
  const other = await enrolled("attack-recovery-other");
  const [first, second] = setup.recoveryCodes;

  const foreign = await recover(await challengeOf(setup), other.recoveryCodes[0]);
  assert.equal(foreign.status, 400, "another account's code");
  assert.equal(errorOf(foreign).code, "invalid_factor_code");

  assert.equal((await recover(await challengeOf(setup), first)).status, 200);
  const reused = await recover(await challengeOf(setup), first.replaceAll("-", "").toUpperCase());
  assert.equal(reused.status, 400, "spent, however it is written");

  // Two sign-ins (the owner's and a thief's) race with one code: one session, the code spent.
  const [a, b] = await Promise.all([challengeOf(setup), challengeOf(setup)]);
  const raced = await Promise.all([recover(a, second), recover(b, second)]);
  assert.deepEqual(statuses(raced), [200, 400]);
  assert.equal(await recoveryCodesLeft(setup.account.id), 8);
  assert.equal(await recoveryCodesLeft(other.account.id), 10);
});

Deno.test("a challenge token is a session nowhere: an admin's, on every other route, as bearer or cookie", async () => {
  const admin = await createAccount("admin", "attack-challenge");
  const signedIn = await signIn(admin.email, admin.password);
  const { token } = signedIn.body.challenge;
  let tried = 0;
  for (const operation of operations) {
    if (operation.doc.auth.length === 0) continue;
    // The routes that declare the challenge: completing the sign-in (a code, a recovery code,
    // a passkey's assertion and the options it answers).
    if ((operation.doc.auth as readonly string[]).includes("challenge")) continue;
    const path = operation.path.replace(/:[A-Za-z]+/g, admin.id);
    const body = operation.method === "GET" || operation.method === "DELETE" ? undefined : {};
    for (
      const headers of [
        { authorization: `Bearer ${token}` },
        { cookie: `latchkey.session_token=${token}` },
      ]
    ) {
      const result = await call(operation.method, path, { headers, body });
      assert.equal(
        result.status,
        401,
        `${operation.method} ${operation.path}: ${result.status} ${JSON.stringify(result.body)}`,
      );
      tried++;
    }
  }
  assert.ok(tried > 40, `${tried} requests`);
  // Still good for what it is for: completing the sign-in.
  const completed = await verify(
    token,
    admin.totp!.factorId,
    codeAt(admin.totp!.secret, currentStep() + 1),
  );
  assert.equal(completed.status, 200, JSON.stringify(completed.body));
});

Deno.test("enrolment racing: one new factor confirmed twice at once, the tenth factor enrolled twice", async () => {
  const account = await signUp("attack-enrol-race");
  const enrolment = await call("POST", "/auth/factors/totp", { token: account.token, body: {} });
  assert.equal(enrolment.status, 201);
  const { id, secret } = enrolment.body;
  const step = currentStep();
  // The same code twice and the next step's code twice, all at once.
  const codes = [step, step, step + 1, step + 1].map((s) => codeAt(secret, s));
  const raced = await Promise.all(codes.map((code) => verify(account.token, id, code)));
  const confirmedWithCodes = raced.filter((result) => result.body?.recoveryCodes);
  assert.equal(confirmedWithCodes.length, 1, "recovery codes are issued once");
  assert.ok(raced.every((result) => result.status === 200 || result.status === 400));
  assert.equal(raced.filter((result) => result.status === 200).length, await acceptedCodes(id));
  assert.ok(await acceptedCodes(id) <= 2, "each step taken once");
  assert.equal(await recoveryCodesLeft(account.id), 10);

  // Eight more (the account's session is aal2 now), then two at once for the tenth place.
  for (let i = 0; i < 8; i++) {
    assert.equal(
      (await call("POST", "/auth/factors/totp", { token: account.token, body: {} })).status,
      201,
    );
  }
  const tenth = await Promise.all(
    [0, 1].map(() => call("POST", "/auth/factors/totp", { token: account.token, body: {} })),
  );
  assert.deepEqual(statuses(tenth), [201, 409]);
  const [{ count }] = await withDatabase((sql) =>
    sql`select count(*)::int as count from latchkey.mfa_factors where user_id = ${account.id}`
  );
  assert.equal(count, 10);
});

Deno.test("completion racing: one challenge completed by several codes at once spends one code", async () => {
  // Recovery codes: five different ones at once.
  const setup = await enrolled("attack-complete-race");
  const token = await challengeOf(setup);
  const raced = await Promise.all(
    setup.recoveryCodes.slice(0, 5).map((code) => recover(token, code)),
  );
  assert.deepEqual(statuses(raced), [200, 401, 401, 401, 401]);
  assert.equal(await recoveryCodesLeft(setup.account.id), 9, "only the winner's code is spent");
  const [{ sessions }] = await withDatabase((sql) =>
    sql<{ sessions: number }[]>`
      select count(*)::int as sessions from latchkey.sessions
      where user_id = ${setup.account.id} and purpose = 'session' and aal = 'aal2'
        and revoked_at is null`
  );
  assert.equal(sessions, 2, "enrolment's session and the winner's");

  // TOTP: the codes of two steps, twice each, on one challenge.
  const step = currentStep();
  await forgetUsedSteps(setup.factorId, step);
  const totpToken = await challengeOf(setup);
  const codes = [step, step + 1, step, step + 1].map((s) => codeAt(setup.secret, s));
  const before = await acceptedCodes(setup.factorId);
  const totpRaced = await Promise.all(
    codes.map((code) => verify(totpToken, setup.factorId, code)),
  );
  assert.deepEqual(statuses(totpRaced), [200, 401, 401, 401]);
  assert.equal(await acceptedCodes(setup.factorId) - before, 1, "one step taken, the winner's");
});

Deno.test("the TOTP secret and recovery codes are in no answer and no audit row after enrolment", async () => {
  const support = await createAccount("support", "attack-secret-support");
  const account = await signUp("attack-secret");
  const enrolment = await call("POST", "/auth/factors/totp", { token: account.token, body: {} });
  const { id, secret, otpauthUri } = enrolment.body;
  const confirmed = await verify(account.token, id, codeAt(secret, currentStep()));
  assert.equal(confirmed.status, 200);
  const { recoveryCodes } = confirmed.body as { recoveryCodes: string[] };
  const secrets = [
    secret,
    otpauthUri,
    ...recoveryCodes,
    ...recoveryCodes.map((c) => c.replaceAll("-", "")),
  ];
  const leaks = (what: string, value: unknown) => {
    const text = JSON.stringify(value).toLowerCase();
    for (const candidate of secrets) {
      assert.ok(!text.includes(candidate.toLowerCase()), `${what} shows ${candidate}`);
    }
  };

  const answers: [string, CallResult][] = [
    ["GET /auth/factors", await call("GET", "/auth/factors", { token: account.token })],
    ["GET /auth/session", await call("GET", "/auth/session", { token: account.token })],
    [
      "GET /admin/users/:id/factors",
      await call("GET", `/admin/users/${account.id}/factors`, { token: support.token }),
    ],
    [
      "GET /admin/users/:id",
      await call("GET", `/admin/users/${account.id}`, { token: support.token }),
    ],
    [
      "the next verify",
      await verify(account.token, id, codeAt(secret, currentStep() + 1)),
    ],
    [
      "PATCH /auth/factors/:id",
      await call("PATCH", `/auth/factors/${id}`, {
        token: account.token,
        body: { name: "Renamed" },
      }),
    ],
    ["sign-in's challenge", await signIn(account.email, account.password)],
  ];
  for (const [what, answer] of answers) {
    assert.ok(answer.status < 300, `${what}: ${answer.status}`);
    leaks(what, answer.body);
  }
  const rows = await withDatabase((sql) =>
    sql`select * from latchkey.audit_events
        where actor_user_id = ${account.id} or target_id in (${account.id}, ${id})`
  );
  assert.ok(rows.length >= 4, `${rows.length} audit rows`);
  leaks("the audit rows", rows);
  // The server's log so far (the runner checks the whole suite's at its end, with every secret
  // tests/support/http.ts's call recorded; a run of some files only does not).
  const log = Deno.env.get("LATCHKEY_TEST_SERVER_LOG");
  if (log) leaks("the server's log", await Deno.readTextFile(log));
});

Deno.test("a stolen aal1 session adds or removes no factor and spends no recovery code", async () => {
  const setup = await enrolled("attack-stolen");
  // A password-only session: what a phished password gave before the owner enrolled, say.
  await withDatabase((sql) =>
    sql`update latchkey.sessions set aal = 'aal1', amr = jsonb_build_array(
          jsonb_build_object('method', 'password', 'timestamp', 0))
        where id = ${setup.account.sessionId}`
  );
  const stolen = setup.account.token;
  const added = await call("POST", "/auth/factors/totp", { token: stolen, body: {} });
  assert.equal(added.status, 403);
  assert.equal(errorOf(added).code, "step_up_required");
  const removed = await call("DELETE", `/auth/factors/${setup.factorId}`, { token: stolen });
  assert.equal(removed.status, 403);
  assert.equal(errorOf(removed).code, "step_up_required");
  const [{ factors }] = await withDatabase((sql) =>
    sql`select count(*)::int as factors from latchkey.mfa_factors where user_id = ${setup.account.id}`
  );
  assert.equal(factors, 1, "nothing added, nothing removed");
  // A recovery code is a second factor and steps a session up (the owner who lost the device),
  // so the thief must know one: a guess is refused, spends none, and leaves the session aal1.
  const real = setup.recoveryCodes[0];
  const guess = real.slice(0, -1) + (real.at(-1) === "a" ? "b" : "a");
  const guessed = await recover(stolen, guess);
  assert.equal(guessed.status, 400, JSON.stringify(guessed.body));
  assert.equal(await recoveryCodesLeft(setup.account.id), 10);
  const still = await call("GET", "/auth/session", { token: stolen });
  assert.equal(still.body.session.aal, "aal1");
});

Deno.test("step-up: replaying the code that opened the window does not extend it", async () => {
  const admin = await createAccount("admin", "attack-step-up");
  const target = await signUp("attack-step-up-target");
  const { factorId, secret } = admin.totp!;
  // Every step below is right (or, for the older one, at worst wrong) for 30 s from here.
  const step = currentStep();
  await forgetUsedSteps(factorId, step - 5);
  assert.equal((await verify(admin.token, factorId, codeAt(secret, step))).status, 200);
  await ageSecondFactor(admin.sessionId, 11);
  const demote = () =>
    call("PATCH", `/admin/users/${target.id}`, { token: admin.token, body: { role: "support" } });
  const stale = await demote();
  assert.equal(stale.status, 403);
  assert.equal(errorOf(stale).code, "step_up_required");

  for (const old of [step, step - 1]) {
    const replay = await verify(admin.token, factorId, codeAt(secret, old));
    assert.equal(replay.status, 400, `step ${old - step}`);
  }
  const still = await demote();
  assert.equal(still.status, 403);
  assert.equal(errorOf(still).code, "step_up_required");
  const session = await call("GET", "/auth/session", { token: admin.token });
  const second = session.body.session.amr.find((e: { method: string }) => e.method === "totp");
  assert.ok(second.timestamp < Date.now() / 1000 - 10 * 60, "the verification stays old");

  assert.equal((await verify(admin.token, factorId, codeAt(secret, step + 1))).status, 200);
  assert.equal((await demote()).status, 200, "a new code opens a new window");
});

Deno.test("a removed factor's codes, and its recovery codes, no longer work", async () => {
  const setup = await enrolled("attack-removed");
  const step = currentStep() + 1;
  const removed = await call("DELETE", `/auth/factors/${setup.factorId}`, {
    token: setup.account.token,
  });
  assert.equal(removed.status, 204, JSON.stringify(removed.body));
  // The account has no factor: a sign-in is a plain session; its codes raise nothing.
  const signedIn = await signIn(setup.account.email, setup.account.password);
  assert.ok(signedIn.body.session, "no challenge");
  const raised = await verify(
    signedIn.body.session.token,
    setup.factorId,
    codeAt(setup.secret, step),
  );
  assert.equal(raised.status, 404);
  assert.equal(await recoveryCodesLeft(setup.account.id), 0);

  // With a second factor kept, the removed one's codes complete no challenge either.
  const kept = await enrolled("attack-removed-kept");
  const spare = await call("POST", "/auth/factors/totp", { token: kept.account.token, body: {} });
  assert.equal(
    (await verify(kept.account.token, spare.body.id, codeAt(spare.body.secret, currentStep())))
      .status,
    200,
  );
  assert.equal(
    (await call("DELETE", `/auth/factors/${kept.factorId}`, { token: kept.account.token })).status,
    204,
  );
  const token = await challengeOf(kept);
  const code = codeAt(kept.secret, currentStep() + 1);
  assert.equal((await verify(token, kept.factorId, code)).status, 404);
  assert.equal((await verify(token, spare.body.id, code)).status, 400, "not the other's code");
  assert.equal(
    (await recover(token, kept.recoveryCodes[0])).status,
    200,
    "codes stay with a factor",
  );
});

Deno.test("an admin's factor reset kills every session and challenge of the account", async () => {
  const admin = await createAccount("admin", "attack-reset-admin");
  const victim = await enrolled("attack-reset");
  const challenge = await challengeOf(victim);
  const unusedChallenge = await challengeOf(victim);
  const reset = await call("DELETE", `/admin/users/${victim.account.id}/factors`, {
    token: admin.token,
  });
  assert.equal(reset.status, 200, JSON.stringify(reset.body));
  assert.equal(reset.body.revokedSessions, 3, "the session and both challenges");
  assert.equal((await call("GET", "/auth/session", { token: victim.account.token })).status, 401);
  const code = codeAt(victim.secret, currentStep() + 1);
  assert.equal((await verify(challenge, victim.factorId, code)).status, 401);
  assert.equal((await recover(unusedChallenge, victim.recoveryCodes[0])).status, 401);
  const [{ live }] = await withDatabase((sql) =>
    sql<{ live: number }[]>`
      select count(*)::int as live from latchkey.sessions
      where user_id = ${victim.account.id} and revoked_at is null and expires_at > now()`
  );
  assert.equal(live, 0);
});
