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
