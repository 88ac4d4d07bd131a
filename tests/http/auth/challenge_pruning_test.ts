import assert from "node:assert/strict";
import postgres from "postgres";
import {
  challengePruneBatch,
  pruneExpiredChallenges,
} from "../../../functions/_shared/identity/challenge_pruning.ts";
import { loadConfig } from "../../../functions/_shared/config/config.ts";
import { createDatabase } from "../../../functions/_shared/db/database.ts";
import {
  call,
  enrolTotp,
  recordSecret,
  signIn,
  signUp,
  type TestAccount,
  totpCode,
  withDatabase,
} from "../../support/http.ts";
import { serveFunctions } from "../../support/in_process.ts";

/**
 * Expired sign-in challenges (sessions with purpose 'mfa_challenge') and passkey challenges do
 * not pile up: they are deleted in bounded batches, one isolate at a time, after responses;
 * sessions (expired ones too: the audit log files events under their ids) and live challenges
 * stay.
 */

const hash = () => crypto.getRandomValues(new Uint8Array(32));

/** Rows of `ids` still in latchkey.sessions. */
async function sessionsLeft(ids: string[]): Promise<string[]> {
  const rows = await withDatabase((sql) =>
    sql<{ id: string }[]>`select id from latchkey.sessions where id = any(${ids}::uuid[])`
  );
  return rows.map((row) => row.id).sort();
}

/** Challenge hashes (hex) of `user` still in latchkey.webauthn_challenges. */
async function passkeyChallengesLeft(userId: string): Promise<string[]> {
  const rows = await withDatabase((sql) =>
    sql<{ hex: string }[]>`
      select encode(challenge_hash, 'hex') as hex from latchkey.webauthn_challenges
      where user_id = ${userId} order by 1`
  );
  return rows.map((row) => row.hex);
}

/**
 * An account made in SQL, with no request: the suite's gateway prunes after its requests, and
 * must not delete what a test plants before the test looks.
 */
async function quietAccount(): Promise<{ id: string }> {
  const [row] = await withDatabase((sql) =>
    sql<{ id: string }[]>`
      insert into latchkey.users (email, name, password_hash)
      values (${`prune-${crypto.randomUUID()}@example.test`}, 'Prune', null)
      returning id`
  );
  return row;
}

/** A sign-in challenge of `account` in the database, expiring in `expiresIn` (negative: expired). */
async function plantChallenge(account: { id: string }, expiresIn: string): Promise<string> {
  const [row] = await withDatabase((sql) =>
    sql<{ id: string }[]>`
      insert into latchkey.sessions (user_id, token_hash, expires_at, purpose)
      values (${account.id}, ${hash()}, now() + ${expiresIn}::interval, 'mfa_challenge')
      returning id`
  );
  return row.id;
}

async function plantPasskeyChallenge(
  account: TestAccount,
  sessionId: string,
  expiresIn: string,
): Promise<string> {
  const challenge = hash();
  await withDatabase((sql) =>
    sql`
      insert into latchkey.webauthn_challenges (challenge_hash, user_id, session_id, ceremony,
        expires_at)
      values (${challenge}, ${account.id}, ${sessionId}, 'authentication',
        now() + ${expiresIn}::interval)`
  );
  return Array.from(challenge, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

Deno.test("expired sign-in and passkey challenges go in bounded batches; sessions and live ones stay", async () => {
  const account = await signUp("prune");
  const { secret } = await enrolTotp(account, "Phone");
  const liveSession = account.sessionId;

  // A real challenge, from a sign-in with the password; then its minutes run out.
  const signedIn = await signIn(account.email, account.password);
  assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
  const challenge = signedIn.body.challenge;
  recordSecret(challenge.token);
  const [{ id: realChallenge }] = await withDatabase((sql) =>
    sql<{ id: string }[]>`
      update latchkey.sessions set expires_at = now() - interval '1 minute'
      where user_id = ${account.id} and purpose = 'mfa_challenge' returning id`
  );
  // More expired challenges, one live; an expired session; passkey challenges: three expired
  // on the live session, one live there, one live on an expired challenge (it goes with it).
  const expired = [realChallenge];
  for (let i = 0; i < 5; i++) expired.push(await plantChallenge(account, `-${i + 1} hours`));
  const liveChallenge = await plantChallenge(account, "5 minutes");
  const [{ id: expiredSession }] = await withDatabase((sql) =>
    sql<{ id: string }[]>`
      insert into latchkey.sessions (user_id, token_hash, expires_at, purpose)
      values (${account.id}, ${hash()}, now() - interval '30 days', 'session') returning id`
  );
  for (const ago of ["-1 minute", "-1 hour", "-1 day"]) {
    await plantPasskeyChallenge(account, liveSession, ago);
  }
  const livePasskey = await plantPasskeyChallenge(account, liveSession, "5 minutes");
  await plantPasskeyChallenge(account, expired[1], "5 minutes");

  // One batch deletes at most its size of each kind (the suite's gateway may be pruning too:
  // tests/db/challenge_pruning_test.sql counts exactly, in a database of its own).
  const [{ batch }] = await withDatabase((sql) =>
    sql<{ batch: number }[]>`select latchkey.prune_expired_challenges(2) as batch`
  );
  assert.ok(batch <= 4, `two challenges and two passkey challenges at most: ${batch}`);

  const config = loadConfig({
    LATCHKEY_DB_URL: Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!,
    LATCHKEY_LOG_LEVEL: "silent",
  });
  const runtime = { config, sql: createDatabase(config) };
  try {
    for (let run = await pruneExpiredChallenges(runtime); run > 0;) {
      run = await pruneExpiredChallenges(runtime);
    }
  } finally {
    await runtime.sql.end();
  }

  assert.deepEqual(await sessionsLeft(expired), [], "every expired challenge is gone");
  assert.deepEqual(
    await sessionsLeft([liveChallenge, expiredSession, liveSession]),
    [liveChallenge, expiredSession, liveSession].sort(),
    "a live challenge, an expired session and a live one stay",
  );
  assert.deepEqual(await passkeyChallengesLeft(account.id), [livePasskey]);
  const still = await call("GET", "/auth/session", { token: account.token });
  assert.equal(still.status, 200, "the account's session still works");
  // The pruned challenge answers as an expired one did: no session from it.
  const verified = await call("POST", `/auth/factors/${challenge.factors[0].id}/verify`, {
    token: challenge.token,
    body: { code: totpCode(secret, 1) },
  });
  assert.equal(verified.status, 401, JSON.stringify(verified.body));
  assert.ok(challengePruneBatch >= 100);
});

Deno.test("one isolate prunes at a time: while another holds the turn, a call deletes nothing", async () => {
  const account = await quietAccount();
  const expired = await plantChallenge(account, "-1 hour");
  const holder = postgres(Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!, {
    max: 1,
    onnotice: () => {},
  });
  try {
    await holder.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(hashtext('latchkey.prune_expired_challenges'))`;
      const [{ deleted }] = await withDatabase((sql) =>
        sql<{ deleted: number }[]>`select latchkey.prune_expired_challenges(100) as deleted`
      );
      assert.equal(deleted, 0);
      assert.deepEqual(await sessionsLeft([expired]), [expired]);
    });
  } finally {
    await holder.end();
  }
  const [{ deleted }] = await withDatabase((sql) =>
    sql<{ deleted: number }[]>`select latchkey.prune_expired_challenges(1000) as deleted`
  );
  assert.ok(deleted >= 1, String(deleted));
  assert.deepEqual(await sessionsLeft([expired]), []);
});

Deno.test("an isolate prunes expired challenges after a response, off the request's path", async () => {
  const account = await quietAccount();
  const expired = await plantChallenge(account, "-10 minutes");
  const served = serveFunctions({});
  try {
    const answer = await served.call("GET", "/auth/.well-known/jwks.json");
    assert.equal(answer.status, 200);
    const deadline = Date.now() + 30_000;
    while ((await sessionsLeft([expired])).length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.deepEqual(await sessionsLeft([expired]), []);
  } finally {
    await served.close();
  }
});
