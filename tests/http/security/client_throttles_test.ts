import assert from "node:assert/strict";
import { type InProcessFunctions, serveFunctions } from "../../support/in_process.ts";
import { uniqueEmail } from "../../support/http.ts";
import { median } from "../../support/timing.ts";

/**
 * Per-client throttles of the account routes, on functions of the test's own configuration
 * (small limits), each client named in X-Forwarded-For as a proxy in front would.
 */
let clients = 0;
const newClient = () => ({ "x-forwarded-for": `192.0.2.${(clients = (clients + 1) % 250) + 1}` });

async function withLimits(
  env: Record<string, string>,
  work: (functions: InProcessFunctions) => Promise<void>,
) {
  const functions = serveFunctions({
    LATCHKEY_ENV: "test",
    LATCHKEY_TRUSTED_PROXY_HOPS: "1",
    ...env,
  });
  try {
    await work(functions);
  } finally {
    await functions.close();
  }
}

async function account(functions: InProcessFunctions, password = "the owner's password") {
  const email = uniqueEmail("throttled");
  const created = await functions.call("POST", "/auth/sign-up/email", newClient(), {
    name: "Owner",
    email,
    password,
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  return { email, password, token: created.body.session.token as string };
}

const signIn = (
  functions: InProcessFunctions,
  client: Record<string, string>,
  email: string,
  password: string,
) => functions.call("POST", "/auth/sign-in/email", client, { email, password });

Deno.test("password spraying from one client is throttled after its allowance, before any hash", async () => {
  await withLimits({ LATCHKEY_SIGN_IN_FAILURES_PER_CLIENT: "20" }, async (functions) => {
    const targets = await Promise.all(Array.from({ length: 5 }, () => account(functions)));
    const sprayer = newClient();
    const statuses: number[] = [];
    const triedMs: number[] = [];
    const refusedMs: number[] = [];
    for (let i = 0; i < 200; i++) {
      const email = i < 5 ? targets[i].email : uniqueEmail("sprayed");
      const started = performance.now();
      const result = await signIn(functions, sprayer, email, "Summer2026!");
      (result.status === 429 ? refusedMs : triedMs).push(performance.now() - started);
      statuses.push(result.status);
    }
    assert.deepEqual(statuses.slice(0, 20), Array(20).fill(401));
    // GCRA: after the burst, one more try per 15 min / 20 = 45 s; the run is far shorter.
    assert.deepEqual(statuses.slice(20), Array(180).fill(429));
    // Measured against the tries, which each cost a hash, on the same machine at the same time:
    // a bound in milliseconds would fail when tests running beside this one slow both down.
    const [tried, refused] = [median(triedMs), median(refusedMs)];
    assert.ok(
      refused < tried / 3,
      `refusals take ${refused.toFixed(1)} ms, tries ${tried.toFixed(1)} ms: no hash`,
    );
    // The targets themselves still sign in, from their own clients.
    for (const target of targets) {
      assert.equal(
        (await signIn(functions, newClient(), target.email, target.password)).status,
        200,
      );
    }
  });
});

Deno.test("another client's wrong guesses no longer lock the owner out; an email's ceiling slows, never locks", async () => {
  await withLimits({ LATCHKEY_SIGN_IN_FAILURES_PER_EMAIL: "30" }, async (functions) => {
    const owner = await account(functions);
    const attacker = newClient();
    for (let i = 0; i < 10; i++) {
      assert.equal((await signIn(functions, attacker, owner.email, `guess ${i}`)).status, 401);
    }
    const locked = await signIn(functions, attacker, owner.email, owner.password);
    assert.equal(locked.status, 429, "the guessing client is locked out of this email");
    assert.equal((await signIn(functions, newClient(), owner.email, owner.password)).status, 200);

    // Many clients guessing: past the email's ceiling everyone waits, but for seconds (one try
    // per 15 min / 30 = 30 s), not the 15 minutes of a lock-out.
    for (let i = 0; i < 30; i++) await signIn(functions, newClient(), owner.email, `many ${i}`);
    const slowed = await signIn(functions, newClient(), owner.email, owner.password);
    assert.equal(slowed.status, 429);
    const retryAfter = Number(slowed.headers.get("retry-after"));
    assert.ok(retryAfter >= 1 && retryAfter <= 30, `Retry-After ${retryAfter}`);
  });
});

Deno.test("wrong current passwords count as failed sign-ins: change-password answers 429", async () => {
  await withLimits({ LATCHKEY_SIGN_IN_MAX_FAILURES: "3" }, async (functions) => {
    const owner = await account(functions);
    const client = newClient();
    const headers = { ...client, authorization: `Bearer ${owner.token}` };
    const statuses = [];
    for (let i = 0; i < 5; i++) {
      statuses.push(
        (await functions.call("POST", "/auth/change-password", headers, {
          currentPassword: `not it ${i}`,
          newPassword: "a brand new password",
        })).status,
      );
    }
    assert.deepEqual(statuses, [400, 400, 400, 429, 429]);
  });
});

Deno.test("sign-up is limited per client before hashing, so probing for taken emails costs the prober", async () => {
  await withLimits({ LATCHKEY_SIGN_UP_PER_CLIENT_PER_HOUR: "5" }, async (functions) => {
    const taken = await account(functions);
    const prober = newClient();
    const statuses = [];
    for (let i = 0; i < 8; i++) {
      statuses.push(
        (await functions.call("POST", "/auth/sign-up/email", prober, {
          name: "Probe",
          email: i % 2 ? taken.email : uniqueEmail("probe"),
          password: "a probing password",
        })).status,
      );
    }
    assert.deepEqual(statuses, [200, 409, 200, 409, 200, 429, 429, 429]);
  });
});

Deno.test("a flood of unknown-email sign-ins from one client leaves another's sign-in p50 under 3× idle", async () => {
  await withLimits({ LATCHKEY_SIGN_IN_FAILURES_PER_CLIENT: "20" }, async (functions) => {
    const owner = await account(functions);
    const timedSignIn = async () => {
      const started = performance.now();
      const result = await signIn(functions, newClient(), owner.email, owner.password);
      assert.equal(result.status, 200);
      return performance.now() - started;
    };
    // The flood runs and pauses by turns, an idle sign-in and a flooded one timed in each turn:
    // load from the tests running beside this one then lands on both, as in pairedTimings.
    const flooder = newClient();
    let finished = false;
    let paused: PromiseWithResolvers<void> | null = Promise.withResolvers<void>();
    let inFlight = 0;
    let sent = 0;
    const flood = Promise.all(Array.from({ length: 16 }, async () => {
      while (!finished) {
        if (paused) {
          await paused.promise;
          continue;
        }
        inFlight += 1;
        sent += 1;
        await signIn(functions, flooder, uniqueEmail("flood"), "flooding password");
        inFlight -= 1;
      }
    }));
    const quiet = async () => {
      paused ??= Promise.withResolvers<void>();
      while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    };
    const resume = () => {
      const gate = paused;
      paused = null;
      gate?.resolve();
    };
    const idle: number[] = [];
    const underFlood: number[] = [];
    try {
      for (let turn = 0; turn < 11; turn++) {
        await quiet();
        idle.push(await timedSignIn());
        resume();
        await new Promise((resolve) => setTimeout(resolve, 100));
        underFlood.push(await timedSignIn());
      }
    } finally {
      finished = true;
      resume();
      await flood;
    }
    const [idleP50, floodP50] = [median(idle), median(underFlood)];
    console.log(
      `  sign-in p50 ${idleP50.toFixed(0)} ms idle, ${floodP50.toFixed(0)} ms under a flood of ` +
        `${sent} unknown-email sign-ins from one client`,
    );
    assert.ok(sent > 100, `the flood sent ${sent} requests`);
    assert.ok(
      floodP50 < 3 * idleP50,
      `p50 ${floodP50.toFixed(0)} ms under the flood vs ${idleP50.toFixed(0)} ms idle`,
    );
  });
});

Deno.test("32 wrong passwords sent at once from one client: exactly the budget is tried", async () => {
  await withLimits({ LATCHKEY_SIGN_IN_MAX_FAILURES: "10" }, async (functions) => {
    const owner = await account(functions);
    const attacker = newClient();
    const answers = await Promise.all(
      Array.from({ length: 32 }, (_, i) => signIn(functions, attacker, owner.email, `guess ${i}`)),
    );
    const statuses = answers.map((answer) => answer.status).sort();
    assert.deepEqual(statuses, [...Array(10).fill(401), ...Array(22).fill(429)]);
    // A right password gives its reserved attempt back: the owner's own successes never count.
    const home = newClient();
    for (let i = 0; i < 12; i++) {
      assert.equal((await signIn(functions, home, owner.email, owner.password)).status, 200);
    }
  });
});

Deno.test("an IPv6 /64 is one client to every per-client throttle; another /64 is another", async () => {
  const adminKey = `throttle-admin-key-${crypto.randomUUID()}`;
  await withLimits({
    LATCHKEY_RECOVERY_PER_CLIENT_PER_HOUR: "4",
    LATCHKEY_ADMIN_KEY: adminKey,
    LATCHKEY_ADMIN_KEY_MAX_FAILURES: "3",
  }, async (functions) => {
    let host = 0;
    const inPrefix = (prefix: string) => ({
      "x-forwarded-for": `${prefix}${(++host).toString(16)}`,
    });
    const statuses = [];
    for (let i = 0; i < 6; i++) {
      const result = await functions.call(
        "POST",
        "/auth/password/forgot",
        inPrefix("2001:db8:5:6::"),
        {
          email: uniqueEmail("v6"),
        },
      );
      statuses.push(result.status);
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429], "one /64, many addresses");
    const elsewhere = await functions.call(
      "POST",
      "/auth/password/forgot",
      inPrefix("2001:db8:5:7::"),
      {
        email: uniqueEmail("v6"),
      },
    );
    assert.equal(elsewhere.status, 200, "the next /64 is another client");

    const guesses = [];
    for (let i = 0; i < 5; i++) {
      const result = await functions.call("GET", "/admin/users", {
        ...inPrefix("2001:db8:9:9::"),
        "x-admin-key": `wrong-${i}-${"x".repeat(40)}`,
      });
      guesses.push(result.status);
    }
    // The third wrong guess spends the budget of 3 and is itself refused.
    assert.deepEqual(guesses, [401, 401, 429, 429, 429], "one /64, many guessers");
  });
});

Deno.test("right passwords signed in at once from one client never spend its failure budget", async () => {
  // A success clears its email's failed attempts, which once took the reservations of the
  // sign-ins still in flight with it, and their budget was never given back: with a budget of 5,
  // three rounds of 4 concurrent right passwords from one client (an office behind one address)
  // ended in 429s.
  await withLimits({ LATCHKEY_SIGN_IN_FAILURES_PER_CLIENT: "5" }, async (functions) => {
    const owner = await account(functions);
    const office = newClient();
    const statuses: number[] = [];
    for (let round = 0; round < 4; round++) {
      const answers = await Promise.all(
        Array.from({ length: 4 }, () => signIn(functions, office, owner.email, owner.password)),
      );
      statuses.push(...answers.map((answer) => answer.status));
    }
    assert.deepEqual(statuses, Array(16).fill(200));
  });
});
