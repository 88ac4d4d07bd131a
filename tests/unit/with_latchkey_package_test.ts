import assert from "node:assert/strict";
import {
  generatedApiTypes,
  packageDirectory,
  packageModules,
} from "../../build/latchkey_client.ts";
import { keyRefusals as serverRefusals } from "../../functions/_shared/identity/authenticate.ts";
import { generateApiKey } from "../../functions/_shared/keys/api_key_format.ts";
import { newSessionToken } from "../../functions/_shared/ground/crypto.ts";
import {
  credentialKind,
  ipAddressOf,
  keyRefusals,
  packageVersion,
} from "../../packages/with-latchkey/mod.ts";
import { canonicalIpAddress } from "../../functions/_shared/keys/network_limits.ts";
import { TokenCache } from "../../packages/with-latchkey/token_cache.ts";
import { KeyAnswerCache, keyHash, type Verified } from "../../packages/with-latchkey/key_cache.ts";
import { type KeyUse, KeyUses } from "../../packages/with-latchkey/key_uses.ts";
import { runDeno } from "../support/deno_run.ts";

Deno.test("the committed API types are what `deno task client:generate` makes of the document now", async () => {
  const committed = await Deno.readTextFile(new URL("latchkey_api.ts", packageDirectory));
  // Not assert.equal: its diff of a 200 KB file says less than the line below.
  assert.ok(
    committed === await generatedApiTypes(),
    "packages/with-latchkey/latchkey_api.ts differs from what the OpenAPI document makes now: " +
      "run `deno task client:generate` and commit it",
  );
});

Deno.test("the package uses nothing of Deno's and imports only its dependencies", async () => {
  for (const name of [...packageModules, "latchkey_api.ts"]) {
    const source = await Deno.readTextFile(new URL(name, packageDirectory));
    assert.doesNotMatch(source, /\bDeno\./, `${name} uses no Deno API (Node runs it too)`);
    for (const [, specifier] of source.matchAll(/\bfrom\s+"([^"]+)"/g)) {
      assert.ok(
        specifier.startsWith("./") ||
          ["openapi-fetch", "@supabase/supabase-js", "hono"].includes(specifier),
        `${name} imports ${specifier}`,
      );
    }
  }
  const manifest = JSON.parse(
    await Deno.readTextFile(new URL("package.json", packageDirectory)),
  );
  assert.equal(manifest.name, "@latchkey/with-latchkey");
  assert.equal(manifest.version, packageVersion, "mod.ts says the version package.json does");
  assert.deepEqual(Object.keys(manifest.dependencies), ["openapi-fetch"]);
  assert.deepEqual(Object.keys(manifest.peerDependencies).sort(), [
    "@supabase/supabase-js",
    "hono",
  ]);
});

Deno.test("a refused key gets the status, code and message Latchkey's own routes answer", () => {
  assert.deepEqual(Object.keys(keyRefusals).sort(), Object.keys(serverRefusals).sort());
  for (const [code, error] of Object.entries(serverRefusals)) {
    const { status, code: errorCode, message } = error;
    assert.deepEqual(keyRefusals[code], { status, code: errorCode, message }, code);
  }
});

Deno.test("a client address the package sends is one verify takes, as the same address", () => {
  const accepted = [
    "203.0.113.7",
    "0.0.0.0",
    "255.255.255.255",
    "2001:db8::1",
    "2001:DB8:0:0:0:0:0:1",
    "::1",
    "::",
    "::ffff:203.0.113.7",
    "fe80::1:2:3:4",
    "1:2:3:4:5:6:7:8",
  ];
  for (const text of accepted) {
    const sent = ipAddressOf(text);
    assert.ok(sent, text);
    assert.equal(canonicalIpAddress(sent), canonicalIpAddress(text), text);
  }
  const refused = [
    "",
    "203.0.113",
    "203.0.113.256",
    "010.0.0.1",
    "0x7f.0.0.1",
    "203.0.113.7:443",
    "[2001:db8::1]",
    "fe80::1%eth0",
    "2001:db8::1::2",
    "1:2:3:4:5:6:7:8:9",
    "localhost",
    "unknown",
  ];
  for (const text of refused) assert.equal(ipAddressOf(text), null, text);
});

Deno.test("credentials are told apart by their shape", () => {
  for (const prefix of ["lk", "acme", "lks", "a1234567b9"]) {
    assert.equal(credentialKind(generateApiKey(prefix).key), "apiKey", prefix);
  }
  for (let i = 0; i < 20; i++) assert.equal(credentialKind(newSessionToken()), "session");
  assert.equal(
    credentialKind("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"),
    "jwt",
  );
  for (
    const text of [
      "",
      "lk_",
      "lks_short",
      "Bearer x",
      "eyJ.only-two",
      "a.b.c",
      "lk_" + "x".repeat(60),
    ]
  ) {
    assert.equal(credentialKind(text), null, text);
  }
});

Deno.test("the token cache mints once for requests that arrive together, again when stale", async () => {
  const cache = new TokenCache<{ token: number; fresh: boolean }>(2);
  let mints = 0;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  const mint = async () => {
    mints += 1;
    await gate;
    return { token: mints, fresh: true };
  };
  const isFresh = (value: { fresh: boolean }) => value.fresh;
  const waiting = Array.from({ length: 10 }, () => cache.get("a", isFresh, mint));
  release();
  const values = await Promise.all(waiting);
  assert.equal(mints, 1);
  assert.ok(values.every((value) => value === values[0]));

  values[0].fresh = false;
  assert.equal((await cache.get("a", isFresh, mint)).token, 2, "a stale token is minted again");
  assert.equal(mints, 2);

  // A failed mint is forgotten: those waiting on it fail, the next request tries again.
  const failing = () => Promise.reject(new Error("refused"));
  const [first, second] = [cache.get("b", isFresh, failing), cache.get("b", isFresh, failing)];
  await assert.rejects(first, /refused/);
  await assert.rejects(second, /refused/);
  assert.equal((await cache.get("b", isFresh, mint)).token, 3);

  // The oldest principal goes first beyond the bound.
  await cache.get("c", isFresh, mint);
  assert.equal(cache.size, 2);
  assert.equal((await cache.get("a", isFresh, mint)).token, 5, "a was dropped, minted again");
});

Deno.test("the key cache's SHA-256 is WebCrypto's", async () => {
  const texts = [
    "",
    "abc",
    ...[55, 56, 63, 64, 65, 119, 120, 200].map((length) => "k".repeat(length)),
    ...Array.from({ length: 20 }, () => generateApiKey("lk").key),
    "ünïcødé ✓",
  ];
  for (const text of texts) {
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
    );
    const expected = Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
    assert.equal(keyHash(text), expected, `${text.length} characters`);
  }
});

Deno.test("the key cache: held by hash for cacheSeconds from when it asked, one verify for those together, none for a key never cached", async () => {
  const cache = new KeyAnswerCache<string>(3);
  let clock = 1_000_000;
  const now = () => clock;
  let verifies = 0;
  let inFlight = 0;
  let mostInFlight = 0;
  let release!: () => void;
  let gate = new Promise<void>((resolve) => release = resolve);
  const verifier = (answer: () => Verified<string>) => async () => {
    verifies += 1;
    inFlight += 1;
    mostInFlight = Math.max(mostInFlight, inFlight);
    await gate;
    inFlight -= 1;
    return answer();
  };
  const key = generateApiKey("lk").key;
  let askedAt = 0;
  const cacheable = verifier(() => ({ value: `valid at ${clock}`, cacheSeconds: 30 }));
  const asking = () => {
    askedAt = clock;
    return cacheable();
  };

  const together = Array.from({ length: 10 }, () => cache.answer(key, now, asking));
  while (verifies === 0) await new Promise((resolve) => setTimeout(resolve, 0));
  clock += 500; // the answer arrives later than it was asked for
  release();
  const answers = await Promise.all(together);
  assert.equal(verifies, 1, "one verify for ten requests");
  assert.equal(answers.filter((answer) => !answer.cached).length, 1, "one asked, nine waited");
  assert.equal(answers[0].hash, keyHash(key));
  assert.deepEqual(cache.hashes(), [keyHash(key)], "held by its SHA-256, never the key");
  assert.match(cache.hashes()[0], /^[0-9a-f]{64}$/);

  // Held for 30 s from when the verify was sent, not from its answer.
  assert.equal(askedAt, 1_000_000);
  clock = askedAt + 29_999;
  assert.equal((await cache.answer(key, now, cacheable)).cached, true);
  assert.equal(verifies, 1);
  clock = askedAt + 30_000;
  assert.equal((await cache.answer(key, now, cacheable)).cached, false);
  assert.equal(verifies, 2);

  // A refusal is never held, nor shared: each request waiting on it asks for itself.
  const refused = generateApiKey("lk").key;
  gate = new Promise<void>((resolve) => release = resolve);
  let refusals = 0;
  const refusing = verifier(() => {
    refusals += 1;
    if (refusals === 1) throw new Error("revoked");
    return { value: "valid again", cacheSeconds: null };
  });
  const waiting = Array.from({ length: 3 }, () => cache.answer(refused, now, refusing));
  release();
  const settled = await Promise.allSettled(waiting);
  // Whichever hashed the key first asked; its refusal is its own, the other two asked again.
  assert.deepEqual(settled.map((outcome) => outcome.status).sort(), [
    "fulfilled",
    "fulfilled",
    "rejected",
  ]);
  assert.equal(refusals, 3);

  // A key whose answer may not be reused (a rate limit, credits): never waited on, never held.
  const limited = generateApiKey("lk").key;
  const counted = verifier(() => ({ value: "limited", cacheSeconds: null }));
  await cache.answer(limited, now, counted);
  gate = new Promise<void>((resolve) => release = resolve);
  [verifies, mostInFlight] = [0, 0];
  const side = Array.from({ length: 5 }, () => cache.answer(limited, now, counted));
  release();
  assert.ok((await Promise.all(side)).every((answer) => !answer.cached));
  assert.deepEqual([verifies, mostInFlight], [5, 5], "side by side, each its own");

  // An answer claiming more than Latchkey's bound is held no longer than 300 s.
  const greedy = generateApiKey("lk").key;
  const long = verifier(() => ({ value: "long", cacheSeconds: 86_400 }));
  const asked = clock;
  await cache.answer(greedy, now, long);
  clock = asked + 300_000;
  assert.equal((await cache.answer(greedy, now, long)).cached, false);

  // Bounded: the least recently used go first.
  assert.equal(cache.hashes().length, 3);
  assert.ok(!cache.hashes().includes(keyHash(key)), "the oldest was dropped");
});

Deno.test("cached uses: counted per key, sent in batches of 100, kept when Latchkey cannot take them", async () => {
  const sent: KeyUse[][] = [];
  let failing = true;
  const uses = new KeyUses(async (batch) => {
    await Promise.resolve();
    if (failing) return false;
    sent.push(batch);
    return true;
  }, { flushUses: 1_000, flushSeconds: 3600 });
  const keys = Array.from({ length: 150 }, () => generateApiKey("lk").key);
  const hashes = keys.map(keyHash);
  keys.forEach((key, index) => uses.record(hashes[index], key, 1_000 + index));
  uses.record(hashes[0], keys[0], 5_000);
  assert.equal(uses.held, 151);

  await uses.flush();
  assert.equal(sent.length, 0);
  assert.equal(uses.held, 151, "Latchkey did not take them: kept whole");
  failing = false;
  uses.record(hashes[1], keys[1], 6_000);
  await uses.flush();
  assert.equal(uses.held, 0);
  assert.deepEqual(sent.map((batch) => batch.length), [100, 50]);
  const all = sent.flat();
  assert.deepEqual(all.find((use) => use.key === keys[0]), {
    key: keys[0],
    count: 2,
    lastUsedAt: new Date(5_000).toISOString(),
  });
  assert.equal(all.find((use) => use.key === keys[1])!.count, 2);
  assert.equal(all.reduce((sum, use) => sum + use.count, 0), 152);

  // flushUses sends at once, without waiting for the timer.
  const eager = new KeyUses((batch) => {
    sent.push(batch);
    return Promise.resolve(true);
  }, { flushUses: 3, flushSeconds: 3600 });
  sent.length = 0;
  for (let i = 0; i < 3; i++) eager.record(hashes[0], keys[0], i);
  await eager.flush();
  assert.deepEqual(sent.map((batch) => batch[0].count), [3]);
});

Deno.test("the flush timer keeps no process alive, and what is held is sent before it exits", async () => {
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      script,
      `import { KeyUses } from ${JSON.stringify(new URL("key_uses.ts", packageDirectory).href)};
const uses = new KeyUses(async (batch) => {
  console.log("sent", JSON.stringify(batch.map((use) => use.count)));
  return true;
}, { flushSeconds: 3600 });
uses.record("00", "lk_key", Date.now());
uses.record("00", "lk_key", Date.now());
console.log("done");
`,
    );
    const started = performance.now();
    const { code, stdout, stderr } = await runDeno(
      ["run", "--no-config", "--no-lock", "--quiet", script],
      {},
    );
    assert.equal(code, 0, stderr);
    assert.deepEqual(stdout.trim().split("\n"), ["done", "sent [2]"]);
    assert.ok(performance.now() - started < 60_000, "far sooner than the hour's timer");

    // A Latchkey that does not take them at exit: tried once, then the process exits anyway.
    await Deno.writeTextFile(
      script,
      (await Deno.readTextFile(script)).replace("return true;", "return false;"),
    );
    const unreachable = await runDeno(
      ["run", "--no-config", "--no-lock", "--quiet", script],
      {},
    );
    assert.equal(unreachable.code, 0, unreachable.stderr);
    assert.deepEqual(unreachable.stdout.trim().split("\n"), ["done", "sent [2]"]);
  } finally {
    await Deno.remove(script);
  }
});

// example.ts is type-checked with the rest (deno task check); the READMEs show it as it is.
Deno.test("the READMEs' example function is example.ts, which type-checks", async () => {
  const example = await Deno.readTextFile(new URL("example.ts", packageDirectory));
  assert.match(example, /withLatchkey\(/);
  for (
    const [readme, after] of [
      ["../../README.md", "## Protecting your own functions"],
      ["README.md", "# @latchkey/with-latchkey"],
    ]
  ) {
    const text = await Deno.readTextFile(new URL(readme, packageDirectory));
    const shown = /```ts\n([\s\S]*?)```/.exec(text.slice(text.indexOf(after)))?.[1];
    assert.equal(shown, example, `${readme}'s first example`);
  }
  assert.ok(example.trim().split("\n").length <= 12, "about ten lines");
});
