import assert from "node:assert/strict";
import {
  asAdminKey,
  auditEventsFor,
  call,
  type CallResult,
  createKey,
  errorOf,
  issueKey,
  latchkey,
  minutesTouched,
  recordSecret,
  signUp,
  withDatabase,
} from "../../support/http.ts";
import { createOrg, createOrgKey } from "../../support/orgs.ts";

/**
 * A key's network limits (allowedNetworks, allowedOrigins): checked in the key check before the
 * rate limit or a credit is taken. Used directly on Latchkey's routes, the key is checked against
 * the request's address (the test server trusts one proxy hop: the last X-Forwarded-For entry is
 * the client) and its Origin; through POST /keys/verify, against what the team's server passes.
 */

const office = "203.0.113.0/24";
const officeV6 = "2001:db8:42::/48";

/** POST /keys/verify with the typed client, as a team's server passes its client's address. */
async function verifyFrom(
  key: string,
  from: { clientAddress?: string; origin?: string },
): Promise<CallResult> {
  recordSecret(key);
  const { data, error, response } = await latchkey.POST("/keys/verify", {
    body: { key, ...from },
  });
  return { status: response.status, headers: response.headers, body: data ?? error };
}

/** GET /auth/session with the key, from `address` (as the trusted proxy saw it). */
function sessionFrom(key: string, address: string, headers: Record<string, string> = {}) {
  return call("GET", "/auth/session", {
    token: key,
    headers: { "x-forwarded-for": address, ...headers },
  });
}

function refusedForNetwork(result: CallResult, message: RegExp) {
  assert.equal(result.status, 403, JSON.stringify(result.body));
  const error = errorOf(result);
  assert.equal(error.code, "network_not_allowed");
  assert.match(error.message, message);
}

Deno.test("network limits are validated, normalised, shown and settable by owner and admin, never by the key", async () => {
  const owner = await signUp("netlimits-shape");
  const bad = await call("POST", "/keys", {
    token: owner.token,
    body: {
      name: "bad",
      allowedNetworks: ["203.0.113.7/24", "10/8", "2001:db8::/129", "example.com"],
      allowedOrigins: ["https://app.example.com/path", "app.example.com"],
    },
  });
  assert.equal(bad.status, 400);
  const details = errorOf(bad).details!;
  assert.deepEqual(details.map((detail) => detail.path), [
    "allowedNetworks.0",
    "allowedNetworks.1",
    "allowedNetworks.2",
    "allowedNetworks.3",
    "allowedOrigins.0",
    "allowedOrigins.1",
  ]);
  assert.match(details[0].message, /the network is 203\.0\.113\.0\/24/);
  const tooMany = await call("POST", "/keys", {
    token: owner.token,
    body: { name: "many", allowedNetworks: Array(65).fill("192.0.2.1") },
  });
  assert.equal(errorOf(tooMany).details![0].path, "allowedNetworks");
  assert.equal(
    (await withDatabase((sql) => sql`select 1 from latchkey.api_keys where user_id = ${owner.id}`))
      .length,
    0,
    "nothing written",
  );

  const created = await createKey(owner.token, {
    name: "limited",
    allowedNetworks: [office, "2001:DB8:42::/48", "192.0.2.1"],
    allowedOrigins: ["HTTPS://App.Example.com:443", "http://localhost:5173"],
  }) as Record<string, unknown> & { id: string; key: string };
  assert.deepEqual(created.allowedNetworks, [office, officeV6, "192.0.2.1/32"]);
  assert.deepEqual(created.allowedOrigins, ["https://app.example.com", "http://localhost:5173"]);

  // The key, even from inside its networks and origins, cannot lift its own limits.
  const own = await call("PATCH", `/keys/${created.id}`, {
    token: created.key,
    headers: { "x-forwarded-for": "203.0.113.5", origin: "https://app.example.com" },
    body: { allowedNetworks: [] },
  });
  assert.equal(own.status, 403);
  assert.match(errorOf(own).message, /cannot change its own network limits/);

  const changed = await call("PATCH", `/keys/${created.id}`, {
    token: owner.token,
    body: { allowedOrigins: [] },
  });
  assert.equal(changed.status, 200);
  assert.deepEqual(changed.body.allowedOrigins, []);
  assert.deepEqual(changed.body.allowedNetworks, [office, officeV6, "192.0.2.1/32"]);
  const [updated] = await auditEventsFor(changed.headers.get("x-request-id")!);
  assert.equal(updated.action, "api_key.updated");
  assert.deepEqual(updated.metadata.changed, ["allowedOrigins"]);
  assert.deepEqual(updated.metadata.allowedOrigins, [], "what the limits became");

  const byAdmin = await asAdminKey("PATCH", `/admin/keys/${created.id}`, {
    body: { allowedNetworks: ["198.51.100.0/24"] },
  });
  assert.equal(byAdmin.status, 200);
  assert.deepEqual(byAdmin.body.allowedNetworks, ["198.51.100.0/24"]);
  const listed = await call("GET", `/keys/${created.id}`, { token: owner.token });
  assert.deepEqual(listed.body.allowedNetworks, ["198.51.100.0/24"]);

  // A rotation keeps them, and the old key in its overlap answers to its successor's.
  const rotated = await call("POST", `/keys/${created.id}/rotate`, {
    token: owner.token,
    body: { overlapSeconds: 3600 },
  });
  assert.equal(rotated.status, 201, JSON.stringify(rotated.body));
  assert.deepEqual(rotated.body.allowedNetworks, ["198.51.100.0/24"]);
  await asAdminKey("PATCH", `/admin/keys/${rotated.body.id}`, {
    body: { allowedNetworks: ["192.0.2.0/24"] },
  });
  assert.equal(
    (await verifyFrom(created.key, { clientAddress: "198.51.100.1" })).body.code,
    "NETWORK_NOT_ALLOWED",
  );
  assert.equal((await verifyFrom(created.key, { clientAddress: "192.0.2.9" })).body.code, "VALID");
});

Deno.test("verify checks the client's address the team's server passes, IPv4 and IPv6, and fails closed", async () => {
  const owner = await signUp("netlimits-verify");
  const key = (await createKey(owner.token, {
    name: "office",
    allowedNetworks: [office, officeV6],
  })).key;
  const codes = async (...addresses: string[]) =>
    await Promise.all(
      addresses.map(async (clientAddress) => (await verifyFrom(key, { clientAddress })).body.code),
    );
  assert.deepEqual(
    await codes("203.0.113.250", "2001:db8:42:ffff::1", "::ffff:203.0.113.9", "2001:DB8:42::7"),
    ["VALID", "VALID", "VALID", "VALID"],
  );
  assert.deepEqual(
    await codes("203.0.114.1", "2001:db8:43::1", "198.51.100.7", "::ffff:198.51.100.7"),
    Array(4).fill("NETWORK_NOT_ALLOWED"),
  );
  const refused = await verifyFrom(key, { clientAddress: "198.51.100.7" });
  assert.equal(refused.status, 200);
  assert.equal(refused.body.valid, false);
  assert.equal(refused.body.metadata, null);
  assert.match(refused.body.message, /may not be used from 198\.51\.100\.7/);
  const missing = await verifyFrom(key, {});
  assert.equal(missing.body.code, "NETWORK_NOT_ALLOWED");
  assert.match(missing.body.message, /send the client's address as `clientAddress`/);
  const garbage = await verifyFrom(key, { clientAddress: "203.0.113.9:443" });
  assert.equal(garbage.status, 400);
  assert.equal(errorOf(garbage).details![0].path, "clientAddress");
  // A key without limits is as before, whatever the body says.
  const free = await createKey(owner.token, { name: "free" });
  assert.equal((await verifyFrom(free.key, {})).body.code, "VALID");
  assert.equal((await verifyFrom(free.key, { clientAddress: "198.51.100.7" })).body.message, null);
});

Deno.test("a refused key spends nothing: its rate limit and credits are as they were, the refusal counted as rejected", async () => {
  const owner = await signUp("netlimits-charge");
  const issued = await issueKey(owner.id, {
    remaining: 10,
    rateLimitPerMinute: 5,
    allowedNetworks: [office],
  });
  const inside = { clientAddress: "203.0.113.1" };
  const first = await verifyFrom(issued.key, inside);
  assert.equal(first.body.code, "VALID");
  assert.equal(first.body.remaining, 9);
  const refusals = await Promise.all(
    Array.from({ length: 8 }, () => verifyFrom(issued.key, { clientAddress: "198.51.100.1" })),
  );
  assert.ok(refusals.every((refusal) => refusal.body.code === "NETWORK_NOT_ALLOWED"));
  assert.ok(refusals.every((refusal) => refusal.body.remaining === 9), "credits untouched");
  assert.ok(refusals.every((refusal) => refusal.headers.get("ratelimit-limit") === null));
  const second = await verifyFrom(issued.key, inside);
  assert.equal(second.body.code, "VALID", "8 refusals spent none of 5 a minute");
  assert.equal(second.body.remaining, 8);
  assert.equal(second.body.rateLimit.remaining, first.body.rateLimit.remaining - 1);
  const [meter] = await withDatabase((sql) =>
    sql<{ valid: number; rejected: number; rate_limited: number }[]>`
      select valid, rejected, rate_limited from latchkey.api_key_meters where key_id = ${issued.id}`
  );
  assert.deepEqual({ ...meter }, { valid: 2, rejected: 8, rate_limited: 0 });
});

Deno.test("used directly, a key is checked against the request's address: only the trusted hop counts", async () => {
  const owner = await signUp("netlimits-route");
  const { id: keyId, key } = await createKey(owner.token, {
    name: "office",
    allowedNetworks: [office],
  });
  assert.equal((await sessionFrom(key, "203.0.113.20")).status, 200);
  refusedForNetwork(await sessionFrom(key, "198.51.100.20"), /from 198\.51\.100\.20/);
  // An entry the client wrote itself, left of the one the trusted proxy appended, counts for
  // nothing: the client cannot name an address inside the network.
  refusedForNetwork(await sessionFrom(key, "203.0.113.20, 198.51.100.20"), /198\.51\.100\.20/);
  assert.equal((await sessionFrom(key, "198.51.100.20, 203.0.113.20")).status, 200);
  // The OAuth token request answers in OAuth's shape.
  const token = await call("POST", "/auth/token", {
    headers: {
      "x-forwarded-for": "198.51.100.20",
      "content-type": "application/x-www-form-urlencoded",
    },
    rawBody: new URLSearchParams({
      grant_type: "client_credentials",
      client_id: keyId,
      client_secret: key,
    }).toString(),
  });
  assert.equal(token.status, 400);
  assert.equal(token.body.error, "unauthorized_client");
  assert.match(token.body.error_description, /may not be used from 198\.51\.100\.20/);
});

Deno.test("allowedOrigins: a use must present a listed Origin, on routes and through verify", async () => {
  const owner = await signUp("netlimits-origin");
  const orgId = await createOrg(owner, "Browser keys");
  // An organization's key, like a user's.
  const created = await createOrgKey(owner.token, orgId, {
    name: "browser",
    allowedOrigins: ["https://app.example.com"],
  });
  const from = (origin?: string) =>
    sessionFrom(created.key, "198.51.100.30", origin ? { origin } : {});
  assert.equal((await from("https://app.example.com")).status, 200);
  assert.equal((await from("HTTPS://APP.EXAMPLE.COM")).status, 200);
  refusedForNetwork(await from("https://evil.example.com"), /origin https:\/\/evil\.example\.com/);
  refusedForNetwork(await from(), /must carry one of them as its Origin header/);
  const verify = await verifyFrom(created.key, { clientAddress: "198.51.100.30" });
  assert.equal(verify.body.code, "NETWORK_NOT_ALLOWED");
  assert.equal(verify.body.orgId, orgId);
  assert.match(verify.body.message, /send the client's Origin header as `origin`/);
  assert.equal(
    (await verifyFrom(created.key, { origin: "https://app.example.com" })).body.code,
    "VALID",
  );
  const cleared = await call("PATCH", `/orgs/${orgId}/keys/${created.id}`, {
    token: owner.token,
    body: { allowedOrigins: [] },
  });
  assert.equal(cleared.status, 200);
  assert.equal((await from()).status, 200, "no limits: today's behaviour");
});

Deno.test("network refusals are audited once per key per minute, with the address and reason", async () => {
  const owner = await signUp("netlimits-audit");
  const issued = await createKey(owner.token, { name: "flooded", allowedNetworks: [office] });
  const [answers, minutes] = await minutesTouched(() =>
    Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        verifyFrom(issued.key, { clientAddress: `198.51.100.${i + 1}` })),
    )
  );
  assert.ok(answers.every((answer) => answer.body.code === "NETWORK_NOT_ALLOWED"));
  const rows = await withDatabase((sql) =>
    sql<{ metadata: Record<string, unknown>; actor_credential_id: string }[]>`
      select metadata, actor_credential_id from latchkey.audit_events
      where action = 'api_key.network_refused' and target_id = ${issued.id}
      order by created_at`
  );
  assert.ok(rows.length >= 1 && rows.length <= minutes, `${rows.length} rows, ${minutes} minutes`);
  assert.equal(rows[0].actor_credential_id, issued.id);
  assert.equal(rows[0].metadata.reason, "address_not_allowed");
  assert.match(String(rows[0].metadata.clientAddress), /^198\.51\.100\.\d+$/);
  assert.equal(rows[0].metadata.repeatsInPreviousMinute, 0);
  const [{ repeats }] = await withDatabase((sql) =>
    sql<{ repeats: number }[]>`
      select repeats from latchkey.audit_repeats
      where subject = ${"api_key.network_refused:" + issued.id}`
  );
  const carried = rows.reduce((sum, row) => sum + Number(row.metadata.repeatsInPreviousMinute), 0);
  assert.equal(rows.length + carried + repeats, 30, "every refusal is audited or counted");
});
