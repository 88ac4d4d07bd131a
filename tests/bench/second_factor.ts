import { Secret, TOTP } from "otpauth";
import { SoftAuthenticator } from "../support/webauthn.ts";

/**
 * Sign-in latency with and without a second factor (issue 28): one request at a time, each
 * account from its own client address and signing in once (so no per-account throttle or code replay enters), on the bench's
 * server. Without a factor a sign-in is one request; with TOTP it is the sign-in (a challenge)
 * and the code's verification, timed together and apart; with a passkey it is the sign-in, the
 * assertion options and the assertion's verification (the authenticator's signing, done by a
 * software authenticator in this process, is left out of the time).
 */
export interface SecondFactorLatency {
  accounts: number;
  passwordOnly: Percentiles;
  challenge: Percentiles;
  verify: Percentiles;
  withTotp: Percentiles;
  withPasskey: Percentiles;
  passkeyAssertion: Percentiles;
}

interface Percentiles {
  p50Ms: number;
  p99Ms: number;
}

function percentiles(samples: number[]): Percentiles {
  const sorted = samples.toSorted((a, b) => a - b);
  const at = (share: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))];
  return { p50Ms: at(0.5), p99Ms: at(0.99) };
}

async function post(
  url: string,
  body: unknown,
  token: string,
  client: string,
  // deno-lint-ignore no-explicit-any -- the bench reads whatever the route answered
): Promise<{ status: number; body: Record<string, any> }> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-forwarded-for": client,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

function expect(result: { status: number; body: unknown }, status: number, what: string) {
  if (result.status !== status) {
    throw new Error(`${what}: ${result.status} ${JSON.stringify(result.body)}`);
  }
}

export async function measureSecondFactorSignIns(
  api: string,
  accounts = 25,
): Promise<SecondFactorLatency> {
  const password = "second factor bench password";
  // Each account its own client: one account's sign-up, sign-in and codes, one address.
  const signUp = async (tag: string, client: string) => {
    const email = `${tag}-${crypto.randomUUID()}@example.test`;
    expect(
      await post(`${api}/auth/sign-up/email`, { name: "2FA bench", email, password }, "", client),
      200,
      "sign-up",
    );
    return { email, client };
  };
  const plain: { email: string; client: string }[] = [];
  const enrolled: { email: string; client: string; id: string; totp: TOTP }[] = [];
  for (let i = 0; i < accounts; i++) plain.push(await signUp("plain", `198.51.100.${i + 1}`));
  for (let i = 0; i < accounts; i++) {
    const { email, client } = await signUp("totp", `203.0.113.${i + 1}`);
    const session = await post(`${api}/auth/sign-in/email`, { email, password }, "", client);
    expect(session, 200, "sign-in before enrolment");
    const factor = await post(`${api}/auth/factors/totp`, {}, session.body.session.token, client);
    expect(factor, 201, "TOTP enrolment");
    const totp = new TOTP({ secret: Secret.fromBase32(factor.body.secret) });
    expect(
      await post(
        `${api}/auth/factors/${factor.body.id}/verify`,
        { code: totp.generate() },
        session.body.session.token,
        client,
      ),
      200,
      "TOTP confirmation",
    );
    enrolled.push({ email, client, id: factor.body.id, totp });
  }

  const passkeyed: {
    email: string;
    client: string;
    id: string;
    authenticator: SoftAuthenticator;
  }[] = [];
  for (let i = 0; i < accounts; i++) {
    const { email, client } = await signUp("passkey", `192.0.2.${i + 1}`);
    const session = await post(`${api}/auth/sign-in/email`, { email, password }, "", client);
    expect(session, 200, "sign-in before enrolment");
    const token = session.body.session.token;
    const origin = new URL(api).origin;
    const authenticator = await SoftAuthenticator.create(origin);
    const options = await post(`${api}/auth/factors/passkey/options`, {}, token, client);
    expect(options, 200, "passkey creation options");
    const registered = await post(
      `${api}/auth/factors/passkey`,
      await authenticator.register(options.body),
      token,
      client,
    );
    expect(registered, 201, "passkey registration");
    passkeyed.push({ email, client, id: registered.body.id, authenticator });
  }

  const passwordOnly: number[] = [];
  for (const { email, client } of plain) {
    const started = performance.now();
    const result = await post(`${api}/auth/sign-in/email`, { email, password }, "", client);
    passwordOnly.push(performance.now() - started);
    expect(result, 200, "sign-in without a factor");
    if (!result.body.session) throw new Error("a sign-in without a factor gave no session");
  }
  const challenge: number[] = [];
  const verify: number[] = [];
  for (const { email, client, id, totp } of enrolled) {
    const started = performance.now();
    const first = await post(`${api}/auth/sign-in/email`, { email, password }, "", client);
    const challenged = performance.now();
    expect(first, 200, "sign-in with a factor");
    if (!first.body.challenge) throw new Error("a sign-in with a factor gave no challenge");
    // The confirmation took this step's code: the next step's is still taken (clock drift),
    // and is not a replay.
    const code = totp.generate({ timestamp: Date.now() + 30_000 });
    const verified = await post(
      `${api}/auth/factors/${id}/verify`,
      { code },
      first.body.challenge.token,
      client,
    );
    verify.push(performance.now() - challenged);
    challenge.push(challenged - started);
    expect(verified, 200, "the challenge's code");
  }
  const withPasskey: number[] = [];
  const passkeyAssertion: number[] = [];
  for (const { email, client, id, authenticator } of passkeyed) {
    const started = performance.now();
    const first = await post(`${api}/auth/sign-in/email`, { email, password }, "", client);
    expect(first, 200, "sign-in with a passkey");
    if (!first.body.challenge) throw new Error("a sign-in with a passkey gave no challenge");
    const token = first.body.challenge.token;
    const options = await post(`${api}/auth/factors/passkey/assertion-options`, {}, token, client);
    expect(options, 200, "assertion options");
    const signing = performance.now();
    const answer = await authenticator.assert(options.body);
    const signed = performance.now();
    const verified = await post(
      `${api}/auth/factors/${id}/verify`,
      { assertion: answer },
      token,
      client,
    );
    const done = performance.now();
    expect(verified, 200, "the challenge's assertion");
    if (verified.body.session?.aal !== "aal2") throw new Error("a passkey gave no aal2 session");
    withPasskey.push(done - started - (signed - signing));
    passkeyAssertion.push(done - signed);
  }
  const both = challenge.map((ms, i) => ms + verify[i]);
  return {
    accounts,
    passwordOnly: percentiles(passwordOnly),
    challenge: percentiles(challenge),
    verify: percentiles(verify),
    withTotp: percentiles(both),
    withPasskey: percentiles(withPasskey),
    passkeyAssertion: percentiles(passkeyAssertion),
  };
}

export function describeSecondFactor(run: SecondFactorLatency): string {
  const ms = ({ p50Ms, p99Ms }: Percentiles) =>
    `p50 ${p50Ms.toFixed(1)} ms, p99 ${p99Ms.toFixed(1)} ms`;
  return `Sign-in with and without a second factor (tests/bench/second_factor.ts, issue 28): one ` +
    `request at a time, ${run.accounts} accounts each way, each from its own client address ` +
    `and signing in once. Password only: ` +
    `${ms(run.passwordOnly)}. With TOTP, sign-in and code together: ${ms(run.withTotp)} ` +
    `(the sign-in's challenge ${ms(run.challenge)}; the code's verification ${ms(run.verify)}). ` +
    `With a passkey, sign-in, assertion options and assertion together (the authenticator's ` +
    `signing left out): ${ms(run.withPasskey)} (the assertion's verification ` +
    `${ms(run.passkeyAssertion)}).`;
}
