import assert from "node:assert/strict";
import { Secret, TOTP } from "otpauth";
import { call, recordSecret, type TestAccount, testClient, withDatabase } from "./http.ts";

/** A TOTP factor a test holds: its id and secret, for codes of later time steps. */
export interface TestFactor {
  id: string;
  secret: string;
}

/** The code of `secret` `offsetSteps` time steps from now (each step's code is taken once). */
export function totpCode(secret: string, offsetSteps = 0): string {
  const totp = new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30 });
  return totp.generate({ timestamp: Date.now() + offsetSteps * 30_000 });
}

/**
 * Enrols a TOTP factor with the account's session and verifies it: the session is then aal2
 * and stepped up (a second factor verified now). Works whether or not the account had one.
 */
export async function enrolVerifiedTotp(account: TestAccount): Promise<TestFactor> {
  const enrolled = await call("POST", "/auth/factors/totp", { token: account.token, body: {} });
  assert.equal(enrolled.status, 201, JSON.stringify(enrolled.body));
  recordSecret(enrolled.body.secret, enrolled.body.otpauthUri);
  const verified = await call("POST", `/auth/factors/${enrolled.body.id}/verify`, {
    token: account.token,
    body: { code: totpCode(enrolled.body.secret) },
    headers: testClient(),
  });
  assert.equal(verified.status, 200, JSON.stringify(verified.body));
  recordSecret(...(verified.body.recoveryCodes ?? []));
  return { id: enrolled.body.id, secret: enrolled.body.secret };
}

/**
 * Moves the session's second-factor verifications `minutes` into the past, as if that long had
 * passed since (no test waits out a step-up window).
 */
export async function ageSecondFactor(sessionId: string, minutes: number): Promise<void> {
  await withDatabase((sql) =>
    sql`update latchkey.sessions set amr = (
          select jsonb_agg(case when e ->> 'method' = 'password' then e
            else jsonb_set(e, '{timestamp}', to_jsonb((e ->> 'timestamp')::bigint - ${
      minutes * 60
    })) end order by n)
          from jsonb_array_elements(amr) with ordinality as a (e, n))
        where id = ${sessionId}`
  );
}
