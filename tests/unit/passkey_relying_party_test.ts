import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../../functions/_shared/config/config.ts";
import { relyingParty } from "../../functions/_shared/factors/passkeys.ts";
import { ApiError } from "../../functions/_shared/ground/errors.ts";

const request = "http://127.0.0.1:54321/functions/v1/auth/factors/passkey/options";

Deno.test("in development the request's host and origin stand in for the relying party", () => {
  const rp = relyingParty(loadConfig({}), request);
  assert.deepEqual(rp, { id: "127.0.0.1", name: "Latchkey", origins: ["http://127.0.0.1:54321"] });
});

Deno.test("elsewhere an unset relying party answers 501: a Host header must not choose it", () => {
  const config = loadConfig({ LATCHKEY_ENV: "production", LATCHKEY_MAILER: "none" });
  assert.throws(
    () => relyingParty(config, "https://evil.example/functions/v1/auth/factors/passkey/options"),
    (error) => error instanceof ApiError && error.code === "not_configured",
  );
});

Deno.test("a configured relying party: its origins, or https://<id> by default", () => {
  const config = loadConfig({
    LATCHKEY_ENV: "production",
    LATCHKEY_MAILER: "none",
    LATCHKEY_WEBAUTHN_RP_ID: "Example.com",
    LATCHKEY_WEBAUTHN_ORIGINS: "https://app.example.com, https://example.com",
  });
  assert.deepEqual(relyingParty(config, "https://evil.example/x"), {
    id: "example.com",
    name: "Latchkey",
    origins: ["https://app.example.com", "https://example.com"],
  });
  const bare = loadConfig({ LATCHKEY_WEBAUTHN_RP_ID: "example.com" });
  assert.deepEqual(relyingParty(bare, request).origins, ["https://example.com"]);
});

Deno.test("origins must be origins under the relying party id, https but for loopback", () => {
  for (
    const env of [
      { LATCHKEY_WEBAUTHN_ORIGINS: "https://example.com" },
      { LATCHKEY_WEBAUTHN_RP_ID: "example.com", LATCHKEY_WEBAUTHN_ORIGINS: "https://evil.com" },
      {
        LATCHKEY_WEBAUTHN_RP_ID: "example.com",
        LATCHKEY_WEBAUTHN_ORIGINS: "https://notexample.com",
      },
      { LATCHKEY_WEBAUTHN_RP_ID: "example.com", LATCHKEY_WEBAUTHN_ORIGINS: "http://example.com" },
      {
        LATCHKEY_WEBAUTHN_RP_ID: "example.com",
        LATCHKEY_WEBAUTHN_ORIGINS: "https://example.com/app",
      },
      { LATCHKEY_WEBAUTHN_RP_ID: "https://example.com" },
    ]
  ) {
    assert.throws(() => loadConfig(env), ConfigError, JSON.stringify(env));
  }
  const local = loadConfig({
    LATCHKEY_WEBAUTHN_RP_ID: "localhost",
    LATCHKEY_WEBAUTHN_ORIGINS: "http://localhost:3000",
  });
  assert.deepEqual(local.LATCHKEY_WEBAUTHN_ORIGINS, ["http://localhost:3000"]);
});
