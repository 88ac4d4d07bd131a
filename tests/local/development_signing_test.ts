import assert from "node:assert/strict";
import { startTestServer } from "../support/server.ts";

/**
 * `deno task start` outside production with no signing key configured makes one at the first
 * start, keeps it under LATCHKEY_DATA_DIR (0600) and says so; production never does.
 */

const databaseUrl = Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!;

async function publishedKids(baseUrl: string): Promise<string[]> {
  const response = await fetch(`${baseUrl}/functions/v1/auth/.well-known/jwks.json`);
  return (await response.json()).keys.map((key: { kid: string }) => key.kid);
}

Deno.test("development signs out of the box with a key kept across restarts; production does not", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "latchkey-dev-signing-" });
  try {
    const first = await startTestServer(databaseUrl, { LATCHKEY_DATA_DIR: dataDir });
    let kids: string[];
    try {
      kids = await publishedKids(first.baseUrl);
      assert.equal(kids.length, 1, "one key, made at this first start");
      const minted = await fetch(`${first.baseUrl}/functions/v1/auth/token`, { method: "POST" });
      assert.equal(minted.status, 401, "signing is configured: only the credential is missing");
      await minted.body?.cancel();
    } finally {
      await first.stop();
    }
    const banner = await Deno.readTextFile(first.logPath);
    assert.match(
      banner,
      /signing +development key in .*jwt-signing-keys\.json \(made now; never in production\)/,
    );
    const file = await Deno.stat(`${dataDir}/jwt-signing-keys.json`);
    assert.equal(file.mode! & 0o777, 0o600, "the private key is readable by its owner only");

    const second = await startTestServer(databaseUrl, { LATCHKEY_DATA_DIR: dataDir });
    try {
      assert.deepEqual(await publishedKids(second.baseUrl), kids, "kept, so old tokens verify");
    } finally {
      await second.stop();
    }
    assert.match(await Deno.readTextFile(second.logPath), /\(kept; never in production\)/);

    const productionDir = await Deno.makeTempDir({ prefix: "latchkey-prod-signing-" });
    const production = await startTestServer(databaseUrl, {
      LATCHKEY_ENV: "production",
      LATCHKEY_DATA_DIR: productionDir,
    });
    try {
      assert.deepEqual(await publishedKids(production.baseUrl), []);
      const entries = [...Deno.readDirSync(productionDir)].map((entry) => entry.name);
      assert.ok(!entries.includes("jwt-signing-keys.json"), "no key is made in production");
    } finally {
      await production.stop();
      await Deno.remove(productionDir, { recursive: true });
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
