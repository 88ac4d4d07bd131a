import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { type InProcessFunctions, serveFunctions } from "../../support/in_process.ts";
import { uniqueEmail } from "../../support/http.ts";

// Ten of the most common passwords of at least ten characters in public breach corpora.
const breached = {
  "1234567890": 3_912_816,
  "qwertyuiop": 1_078_184,
  "password123": 2_569_289,
  "1q2w3e4r5t": 615_347,
  "1qaz2wsx3edc": 210_530,
  "0987654321": 388_765,
  "qwerty12345": 245_318,
  "iloveyou123": 98_754,
  "password1234": 113_659,
  "123456789a": 412_071,
};

const sha1 = (text: string) => createHash("sha1").update(text).digest("hex").toUpperCase();

/** A Pwned Passwords range server built from the list: GET /range/<5 hex> → "SUFFIX:COUNT". */
function startRangeServer() {
  const asked: string[] = [];
  const entries = Object.entries(breached).map(([password, count]) => [sha1(password), count]);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const url = new URL(request.url);
    asked.push(url.pathname + url.search);
    const prefix = /^\/range\/([0-9A-F]{5})$/.exec(url.pathname)?.[1];
    if (!prefix) return new Response("bad prefix", { status: 400 });
    const lines = entries.filter(([hash]) => String(hash).startsWith(prefix))
      .map(([hash, count]) => `${String(hash).slice(5)}:${count}`);
    // Padding, as the real service adds with Add-Padding: entries with a count of 0.
    for (let i = 0; i < 5; i++) lines.push(`${sha1(`pad ${i} ${prefix}`).slice(5)}:0`);
    return new Response(lines.join("\r\n"));
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/range/`,
    asked,
    close: () => server.shutdown(),
  };
}

async function withBreachCheck(
  mode: string | null,
  work: (
    functions: InProcessFunctions,
    range: ReturnType<typeof startRangeServer>,
  ) => Promise<void>,
  rangeUrl?: string,
) {
  const range = startRangeServer();
  const functions = serveFunctions({
    LATCHKEY_ENV: "test",
    LATCHKEY_TRUSTED_PROXY_HOPS: "1",
    LATCHKEY_PASSWORD_BREACH_API_URL: rangeUrl ?? range.url,
    ...(mode ? { LATCHKEY_PASSWORD_BREACH_CHECK: mode } : {}),
  });
  try {
    await work(functions, range);
  } finally {
    await functions.close();
    await range.close();
  }
}

let clients = 0;
const client = () => ({ "x-forwarded-for": `198.51.100.${clients++ % 250}` });
const signUp = (functions: InProcessFunctions, password: string) =>
  functions.call("POST", "/auth/sign-up/email", client(), {
    name: "Breach",
    email: uniqueEmail("breach"),
    password,
  });

Deno.test("block: a breached password is refused on sign-up and change-password; only 5 hex characters leave", async () => {
  await withBreachCheck("block", async (functions, range) => {
    for (const password of Object.keys(breached)) {
      const refused = await signUp(functions, password);
      assert.equal(refused.status, 400, password);
      const [detail] = refused.body.error.details;
      assert.equal(detail.path, "password");
      assert.match(detail.message, /known data breaches/);
    }
    const own = `a passphrase nobody has used ${crypto.randomUUID()}`;
    const fine = await signUp(functions, own);
    assert.equal(fine.status, 200);
    assert.equal(fine.body.warnings, undefined);

    const change = await functions.call("POST", "/auth/change-password", {
      ...client(),
      authorization: `Bearer ${fine.body.session.token}`,
    }, { currentPassword: own, newPassword: "qwertyuiop" });
    assert.equal(change.status, 400);
    assert.equal(change.body.error.details[0].path, "newPassword");

    assert.ok(range.asked.length >= 11);
    for (const path of range.asked) assert.match(path, /^\/range\/[0-9A-F]{5}$/);
    const everything = range.asked.join(" ");
    for (const password of Object.keys(breached)) {
      assert.ok(!everything.includes(sha1(password).slice(5)), "no suffix leaves the server");
      assert.ok(!everything.includes(password));
    }
  });
});

Deno.test("warn: a breached password is set, and the answer says so", async () => {
  await withBreachCheck("warn", async (functions) => {
    const result = await signUp(functions, "password123");
    assert.equal(result.status, 200);
    assert.equal(result.body.warnings[0].code, "password_breached");
    assert.match(result.body.warnings[0].message, /2,569,289 times/);
  });
});

Deno.test("off by default: nothing is asked; an unreachable range service lets passwords through", async () => {
  await withBreachCheck(null, async (functions, range) => {
    assert.equal((await signUp(functions, "1234567890")).status, 200);
    assert.deepEqual(range.asked, []);
  });
  await withBreachCheck("block", async (functions) => {
    assert.equal((await signUp(functions, "1234567890")).status, 200, "fails open");
  }, "http://127.0.0.1:9/range/");
});
