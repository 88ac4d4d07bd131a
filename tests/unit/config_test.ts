import assert from "node:assert/strict";
import { ConfigError, databaseUrl, loadConfig } from "../../functions/_shared/config/config.ts";
import { selfServiceLimits } from "../../functions/_shared/keys/self_service_limits.ts";

Deno.test("loadConfig applies the documented defaults", () => {
  const config = loadConfig({});
  assert.equal(config.LATCHKEY_ENV, "development");
  assert.equal(config.LATCHKEY_PORT, 54321);
  assert.equal(config.LATCHKEY_SESSION_TTL_HOURS, 168);
  assert.equal(config.LATCHKEY_SIGN_IN_MAX_FAILURES, 10);
  assert.equal(config.LATCHKEY_SIGN_IN_WINDOW_MINUTES, 15);
  assert.equal(config.LATCHKEY_BODY_LIMIT_BYTES, 65536);
  assert.equal(databaseUrl(config), undefined);
});

Deno.test("loadConfig prefers SUPABASE_DB_URL and treats empty values as unset", () => {
  const config = loadConfig({
    SUPABASE_DB_URL: "postgres://a@supabase:5432/postgres",
    DATABASE_URL: "postgresql://b@local:5432/db",
    LATCHKEY_PORT: "",
  });
  assert.equal(databaseUrl(config), "postgres://a@supabase:5432/postgres");
  assert.equal(config.LATCHKEY_PORT, 54321);
});

Deno.test("a bad value names the variable, the problem and the fix", () => {
  assert.throws(
    () => loadConfig({ LATCHKEY_PORT: "eighty", DATABASE_URL: "mysql://x@y/z" }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.problems.length, 2);
      const port = error.problems.find((line) => line.startsWith("LATCHKEY_PORT:"));
      assert.ok(port?.includes("Port of the local gateway"), port);
      assert.ok(port?.includes("expected a whole number from 1 to 65535"), port);
      assert.ok(error.problems.some((line) => line.startsWith("DATABASE_URL:")));
      return true;
    },
  );
  assert.throws(() => loadConfig({ LATCHKEY_PORT: "70000" }), ConfigError);
  assert.throws(() => loadConfig({ LATCHKEY_ENV: "Prod Env" }), ConfigError);
  assert.throws(() => loadConfig({ LATCHKEY_LOG_LEVEL: "loud" }), ConfigError);
});

Deno.test("the error message never echoes a database password", () => {
  try {
    loadConfig({ DATABASE_URL: "mysql://user:hunter2secret@host/db" });
    assert.fail("expected a ConfigError");
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.ok(!error.message.includes("hunter2secret"));
  }
});

Deno.test("self-service caps: global defaults, per-tier overrides, bad JSON named", () => {
  const config = loadConfig({
    LATCHKEY_TIER_LIMITS:
      '{"pro": {"maxActiveKeys": 100}, "team": {"maxRateLimitPerMinute": 5000}}',
  });
  assert.deepEqual(selfServiceLimits(config, "free"), {
    maxActiveKeys: 25,
    maxRateLimitPerMinute: 600,
  });
  assert.deepEqual(selfServiceLimits(config, "pro"), {
    maxActiveKeys: 100,
    maxRateLimitPerMinute: 600,
  });
  assert.deepEqual(selfServiceLimits(config, "team").maxRateLimitPerMinute, 5000);
  assert.deepEqual(selfServiceLimits(config, "constructor").maxActiveKeys, 25);
  for (const bad of ["{not json", '{"pro": {"maxKeys": 3}}', '{"Pro!": {}}']) {
    assert.throws(
      () => loadConfig({ LATCHKEY_TIER_LIMITS: bad }),
      (error: unknown) =>
        error instanceof ConfigError && error.problems[0].startsWith("LATCHKEY_TIER_LIMITS:"),
    );
  }
});

Deno.test("LATCHKEY_DB_URL wins over SUPABASE_DB_URL, which no Supabase secret can override", () => {
  const config = loadConfig({
    LATCHKEY_DB_URL: "postgres://latchkey@pooler:6543/postgres",
    SUPABASE_DB_URL: "postgres://a@supabase:5432/postgres",
    DATABASE_URL: "postgresql://b@local:5432/db",
  });
  assert.equal(databaseUrl(config), "postgres://latchkey@pooler:6543/postgres");
});

Deno.test("inside the edge runtime: request lines off, warnings kept, one proxy trusted", () => {
  assert.equal(loadConfig({}).LATCHKEY_LOG_LEVEL, "info");
  assert.equal(loadConfig({}).LATCHKEY_TRUSTED_PROXY_HOPS, 0, "the gateway trusts no header");
  const global = globalThis as { EdgeRuntime?: unknown };
  global.EdgeRuntime = {};
  try {
    assert.equal(loadConfig({}).LATCHKEY_LOG_LEVEL, "warn");
    assert.equal(loadConfig({}).LATCHKEY_TRUSTED_PROXY_HOPS, 1, "only Supabase's gateway");
    assert.equal(loadConfig({ LATCHKEY_LOG_LEVEL: "info" }).LATCHKEY_LOG_LEVEL, "info");
  } finally {
    delete global.EdgeRuntime;
  }
});

/** The problems loadConfig names for `env`; fails the test when it accepts it. */
function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail(`accepted ${JSON.stringify(env)}`);
}

Deno.test("token signing: a JWK set of P-256 keys, or a secret, never both; bad keys named", async () => {
  const { newSigningKey } = await import("../../functions/_local/jwt_keygen.ts");
  const key = await newSigningKey();
  const config = loadConfig({ LATCHKEY_JWT_SIGNING_KEYS: JSON.stringify({ keys: [key] }) });
  assert.equal(config.LATCHKEY_JWT_SIGNING_KEYS?.[0].kid, key.kid);
  assert.equal(config.LATCHKEY_JWT_TTL_SECONDS, 600);

  const bad = [
    "not json",
    JSON.stringify({ keys: [] }),
    JSON.stringify([key]),
    JSON.stringify({ keys: [{ ...key, crv: "P-384" }] }),
    JSON.stringify({ keys: [{ ...key, d: undefined }] }),
    JSON.stringify({ keys: [{ ...key, kid: undefined }] }),
    JSON.stringify({ keys: [key, key] }),
  ];
  for (const value of bad) {
    const problems = problemsOf({ LATCHKEY_JWT_SIGNING_KEYS: value });
    assert.ok(problems[0].startsWith("LATCHKEY_JWT_SIGNING_KEYS:"), problems[0]);
    assert.ok(!problems.join("\n").includes(key.d), "the private key is never echoed");
  }
  const both = problemsOf({
    LATCHKEY_JWT_SIGNING_KEYS: JSON.stringify({ keys: [key] }),
    LATCHKEY_JWT_SECRET: "s".repeat(40),
  });
  assert.ok(both[0].startsWith("LATCHKEY_JWT_SECRET: set LATCHKEY_JWT_SIGNING_KEYS or"), both[0]);
  assert.ok(problemsOf({ LATCHKEY_JWT_SECRET: "short" })[0].includes("at least 32"));
  assert.ok(problemsOf({ LATCHKEY_JWT_TTL_SECONDS: "7200" })[0].includes("60 to 3600"));
});

Deno.test("config refuses every setup whose tokens Supabase Auth would take as its own sessions", () => {
  const secret = "s".repeat(40);
  const supabaseUrl = "https://ref.supabase.co";
  const sharedSecret = problemsOf({
    LATCHKEY_IDENTITY: "supabase",
    SUPABASE_URL: supabaseUrl,
    LATCHKEY_JWT_SECRET: secret,
  });
  assert.equal(sharedSecret.length, 1, sharedSecret.join("\n"));
  assert.ok(sharedSecret[0].startsWith("LATCHKEY_JWT_SECRET: with LATCHKEY_IDENTITY=supabase"));
  assert.match(sharedSecret[0], /third-party \(custom OIDC\) issuer/);
  // Latchkey's own identity keeps the legacy-secret recipe: its users are not auth.users.
  assert.doesNotThrow(() => loadConfig({ SUPABASE_URL: supabaseUrl, LATCHKEY_JWT_SECRET: secret }));
  for (const issuer of [`${supabaseUrl}/auth/v1`, `${supabaseUrl}/auth/v1/`]) {
    const problems = problemsOf({ SUPABASE_URL: supabaseUrl, LATCHKEY_JWT_ISSUER: issuer });
    assert.ok(problems[0]?.startsWith("LATCHKEY_JWT_ISSUER: this is Supabase Auth's"), issuer);
  }
});

Deno.test("outside development and test, a signing deployment names its issuer", () => {
  const signing = { LATCHKEY_JWT_SECRET: "s".repeat(40) };
  const problems = problemsOf({ ...signing, LATCHKEY_ENV: "staging" });
  assert.ok(problems[0]?.startsWith("LATCHKEY_JWT_ISSUER: outside development and test"));
  for (const env of ["development", "test"]) {
    assert.doesNotThrow(() => loadConfig({ ...signing, LATCHKEY_ENV: env }));
  }
  assert.doesNotThrow(() =>
    loadConfig({ ...signing, LATCHKEY_ENV: "staging", SUPABASE_URL: "https://ref.supabase.co" })
  );
  assert.doesNotThrow(() =>
    loadConfig({
      ...signing,
      LATCHKEY_ENV: "production",
      LATCHKEY_JWT_ISSUER: "https://api.example.com/auth",
    })
  );
});

Deno.test("LATCHKEY_MFA_REQUIRED_ROLES: admin and support unless set; empty is none; role names only", () => {
  assert.deepEqual(loadConfig({}).LATCHKEY_MFA_REQUIRED_ROLES, ["admin", "support"]);
  assert.deepEqual(
    loadConfig({ LATCHKEY_MFA_REQUIRED_ROLES: " admin , admin" }).LATCHKEY_MFA_REQUIRED_ROLES,
    ["admin"],
  );
  assert.deepEqual(loadConfig({ LATCHKEY_MFA_REQUIRED_ROLES: "" }).LATCHKEY_MFA_REQUIRED_ROLES, []);
  // The team's roles are rows (GET /admin/warnings names a listed one that is not there).
  assert.deepEqual(
    loadConfig({ LATCHKEY_MFA_REQUIRED_ROLES: "admin,billing" }).LATCHKEY_MFA_REQUIRED_ROLES,
    ["admin", "billing"],
  );
  assert.throws(
    () => loadConfig({ LATCHKEY_MFA_REQUIRED_ROLES: "admin,Owner!" }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.problems[0], /^LATCHKEY_MFA_REQUIRED_ROLES: each a role's name/);
      return true;
    },
  );
});
