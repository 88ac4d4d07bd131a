import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import { adminPermissions } from "../../../functions/_shared/ground/principal.ts";
import { seededRolePermissions } from "../../support/roles.ts";
import {
  asAdminKey,
  baseUrl,
  createServiceAccount,
  defaultPassword,
  issueKey,
  mintToken,
  signUp,
  testClient,
  uniqueEmail,
  withDatabase,
} from "../../support/http.ts";

/**
 * The second attacker's review (issue 25): each finding's attack, run against the suite's
 * gateway, must now fail. Findings that need a configuration of their own live beside the code
 * they test (tests/http/auth/minted_tokens_vs_supabase_auth_test.ts, ...).
 */

async function mintWithKey(key: string) {
  const minted = await mintToken({ "x-api-key": key });
  assert.equal(minted.status, 200, JSON.stringify(minted.error));
  return decodeJwt(minted.data!.access_token);
}

Deno.test("a key's token claims what the key may do, never more of its owner's role", async () => {
  const adminId = await createServiceAccount("token-role");
  const promoted = await asAdminKey("PATCH", `/admin/users/${adminId}`, {
    body: { role: "admin" },
  });
  assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
  // admin's set as it is now: Latchkey's permissions and any of the team's (which admin holds).
  const roles = (await asAdminKey("GET", "/admin/roles")).body.roles;
  const adminSet = roles.find((role: { name: string }) => role.name === "admin").permissions;
  assert.ok(adminPermissions.every((permission) => adminSet.includes(permission)));
  const cases: [readonly string[], string][] = [
    [["users:read"], "user"],
    [[], "user"],
    [["compile"], "user"],
    [seededRolePermissions.support, "support"],
    [adminSet, "admin"],
  ];
  for (const [scopes, role] of cases) {
    const { key } = await issueKey(adminId, { name: `scopes ${scopes.length}`, scopes });
    const claims = await mintWithKey(key);
    assert.equal(claims.app_role, role, `scopes ${JSON.stringify(scopes)}`);
    assert.deepEqual(claims.scopes, scopes);
  }
});

Deno.test("tokens say whether the address is verified (email_verified)", async () => {
  const account = await signUp("token-verified");
  const session = { authorization: `Bearer ${account.token}` };
  const before = await mintToken(session);
  assert.equal(before.status, 200, JSON.stringify(before.error));
  const unverified = decodeJwt(before.data!.access_token);
  assert.equal(unverified.email, account.email);
  assert.equal(unverified.email_verified, false);
  await withDatabase((sql) =>
    sql`update latchkey.users set email_verified_at = now() where id = ${account.id}`
  );
  const after = await mintToken(session);
  assert.equal(decodeJwt(after.data!.access_token).email_verified, true);
});

/** One HTTP/1.1 request written by hand, so the Host header can be anything. */
async function rawRequest(
  method: string,
  path: string,
  headers: Record<string, string>,
  body = "",
): Promise<{ status: number; json: Record<string, unknown> }> {
  const { hostname, port } = new URL(baseUrl);
  const connection = await Deno.connect({ hostname, port: Number(port) });
  try {
    const lines = [
      `${method} /functions/v1${path} HTTP/1.1`,
      ...Object.entries({
        ...headers,
        ...testClient(),
        "content-length": String(new TextEncoder().encode(body).length),
        connection: "close",
      }).map(([name, value]) => `${name}: ${value}`),
    ];
    await connection.write(new TextEncoder().encode(`${lines.join("\r\n")}\r\n\r\n${body}`));
    const response = await new Response(connection.readable).text();
    const status = Number(response.split(" ", 2)[1]);
    const text = response.slice(response.indexOf("\r\n\r\n") + 4);
    // A chunked body: the JSON is between the first chunk size line and the trailer.
    const json = text.startsWith("{") ? text : text.slice(text.indexOf("\r\n") + 2);
    return { status, json: JSON.parse(json.slice(0, json.lastIndexOf("}") + 1)) };
  } finally {
    try {
      connection.close();
    } catch {
      // Closed by the server already.
    }
  }
}

Deno.test("a Host header that is not a host is a 400 on every route, and writes nothing", async () => {
  const email = uniqueEmail("bad-host");
  const created = await asAdminKey("POST", "/admin/users", {
    body: { email, name: "Bad Host", password: defaultPassword },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const userId = created.body.user.id;
  const badHost = { host: "evil.example:99999" };
  const answers = [
    await rawRequest(
      "POST",
      "/auth/sign-in/email",
      { ...badHost, "content-type": "application/json" },
      JSON.stringify({ email, password: defaultPassword }),
    ),
    await rawRequest("GET", "/admin/users", {
      ...badHost,
      "x-admin-key": Deno.env.get("LATCHKEY_TEST_ADMIN_KEY")!,
    }),
    await rawRequest("GET", "/auth/.well-known/openid-configuration", badHost),
    await rawRequest("POST", "/auth/token", { ...badHost, "x-api-key": "lk_nothing" }),
  ];
  for (const { status, json } of answers) {
    assert.equal(status, 400, JSON.stringify(json));
    const error = json.error as { code: string; details: { path: string }[]; requestId: string };
    assert.equal(error.code, "validation_failed");
    assert.equal(error.details[0].path, "Host");
    assert.ok(error.requestId);
  }
  const [row] = await withDatabase((sql) =>
    sql<{ sessions: number; signed_in: boolean }[]>`
      select (select count(*)::int from latchkey.sessions where user_id = ${userId}) as sessions,
        (select last_sign_in_at is not null from latchkey.users where id = ${userId})
          as signed_in`
  );
  assert.deepEqual({ ...row }, { sessions: 0, signed_in: false }, "no write behind the error");
});
