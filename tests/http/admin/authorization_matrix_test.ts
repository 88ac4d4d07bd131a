import assert from "node:assert/strict";
import { adminPermissions } from "../../../functions/_shared/ground/principal.ts";
import { seededRolePermissions } from "../../support/roles.ts";
import {
  adminKey,
  asAdminKey,
  call,
  type CallOptions,
  createAccount,
  createKey,
  createServiceAccount,
  issueKey,
  signUp,
} from "../../support/http.ts";

/**
 * Every admin route × every kind of caller, with the status each must get. The problem this
 * guards against: an API key with admin permissions refused (401) on admin routes although the
 * same key authenticates. Here a credential is a principal and routes check permissions:
 * 401 only for missing or bad credentials, 403 for missing permissions.
 */

type Caller =
  | "anonymous"
  | "user session"
  | "user key"
  | "support session"
  | "support key"
  | "admin session"
  | "admin key (all scopes)"
  | "admin key (users:read)"
  | "admin key (keys:write)"
  | "admin key (users:read, users:write)"
  | "X-Admin-Key"
  | "wrong X-Admin-Key";

const callers: Caller[] = [
  "anonymous",
  "user session",
  "user key",
  "support session",
  "support key",
  "admin session",
  "admin key (all scopes)",
  "admin key (users:read)",
  "admin key (keys:write)",
  "admin key (users:read, users:write)",
  "X-Admin-Key",
  "wrong X-Admin-Key",
];

// The role table's own lists: a key missing any of the admin role's permissions (orgs:* and
// webhooks:* included) does not reach an admin; one that acts on another admin holds them all.
const supportScopes = [...seededRolePermissions.support];
const allAdminScopes = [...adminPermissions];

/**
 * Another admin, by the X-Admin-Key: an admin system user (no password, so no hash to pay
 * for), or a person with a password for the route that sets one.
 */
async function adminTarget({ withPassword = false } = {}): Promise<string> {
  const created = await asAdminKey("POST", "/admin/users", {
    body: {
      email: `target-admin-${crypto.randomUUID()}@example.test`,
      name: "Target admin",
      role: "admin",
      ...(withPassword ? { password: "the target admin's password" } : { serviceAccount: true }),
    },
  });
  if (created.status !== 201) throw new Error(`create failed: ${JSON.stringify(created.body)}`);
  return created.body.user.id;
}

async function credentials(): Promise<Record<Caller, Record<string, string>>> {
  const user = await signUp("matrix-user");
  const support = await createAccount("support", "matrix-support");
  const admin = await createAccount("admin", "matrix-admin");
  // Stepped up (createAccount verified a factor just now): the matrix is about permissions and
  // reach (step-up: step_up_test.ts).
  const userKey = await createKey(user.token, { name: "user key" });
  const supportKey = await createKey(support.token, { name: "support key", scopes: supportScopes });
  const adminFull = await createKey(admin.token, { name: "all", scopes: allAdminScopes });
  const adminRead = await createKey(admin.token, { name: "read", scopes: ["users:read"] });
  const adminKeysWrite = await createKey(admin.token, { name: "mint", scopes: ["keys:write"] });
  const adminUsersWrite = await createKey(admin.token, {
    name: "users",
    scopes: ["users:read", "users:write"],
  });
  return {
    "anonymous": {},
    "user session": { authorization: `Bearer ${user.token}` },
    "user key": { "x-api-key": userKey.key },
    "support session": { authorization: `Bearer ${support.token}` },
    "support key": { "x-api-key": supportKey.key },
    "admin session": { authorization: `Bearer ${admin.token}` },
    "admin key (all scopes)": { authorization: `Bearer ${adminFull.key}` },
    "admin key (users:read)": { "x-api-key": adminRead.key },
    "admin key (keys:write)": { "x-api-key": adminKeysWrite.key },
    "admin key (users:read, users:write)": { "x-api-key": adminUsersWrite.key },
    "X-Admin-Key": { "x-admin-key": adminKey },
    "wrong X-Admin-Key": { "x-admin-key": `${adminKey}-wrong` },
  };
}

/**
 * A fresh key to act on, owned by a fresh account: made with the X-Admin-Key, so the matrix's
 * targets cost no password hash (a sign-up each made this test twice as slow).
 */
async function targetKey(tag: string) {
  return await issueKey(await createServiceAccount(tag), { name: "target key" });
}

interface Route {
  name: string;
  /** Every permission the caller must hold: the route's, and those of an account above it. */
  permissions: string[];
  /** Builds a fresh request (its own target), so mutating cells do not affect each other. */
  request: () => Promise<[string, string, CallOptions?]>;
  success: number;
}

const routes: Route[] = [
  {
    name: "GET /admin/users",
    permissions: ["users:read"],
    request: () => Promise.resolve(["GET", "/admin/users?limit=5"]),
    success: 200,
  },
  {
    name: "POST /admin/users",
    permissions: ["users:write"],
    request: () =>
      Promise.resolve([
        "POST",
        "/admin/users",
        {
          body: {
            email: `made-${crypto.randomUUID()}@example.test`,
            name: "Made",
            serviceAccount: true,
          },
        },
      ]),
    success: 201,
  },
  {
    name: "GET /admin/users/:id",
    permissions: ["users:read"],
    request: async () => ["GET", `/admin/users/${await createServiceAccount()}`],
    success: 200,
  },
  {
    name: "PATCH /admin/users/:id",
    permissions: ["users:write"],
    request: async () => [
      "PATCH",
      `/admin/users/${await createServiceAccount()}`,
      { body: { tier: "pro" } },
    ],
    success: 200,
  },
  {
    name: "POST /admin/users/:id/password",
    permissions: ["users:write"],
    request: async () => [
      "POST",
      `/admin/users/${(await signUp("matrix-target")).id}/password`,
      { body: { newPassword: "a new password set by an admin" } },
    ],
    success: 200,
  },
  {
    name: "DELETE /admin/users/:id",
    permissions: ["users:write"],
    request: async () => ["DELETE", `/admin/users/${await createServiceAccount()}`],
    success: 200,
  },
  {
    name: "GET /admin/users/:id/sessions",
    permissions: ["users:read"],
    request:
      async () => ["GET", `/admin/users/${await createServiceAccount("matrix-sessions")}/sessions`],
    success: 200,
  },
  {
    name: "DELETE /admin/users/:id/sessions",
    permissions: ["sessions:revoke"],
    request: async () => [
      "DELETE",
      `/admin/users/${await createServiceAccount("matrix-revoke")}/sessions`,
    ],
    success: 200,
  },
  {
    name: "GET /admin/keys",
    permissions: ["keys:read"],
    request: () => Promise.resolve(["GET", "/admin/keys?limit=5"]),
    success: 200,
  },
  {
    name: "POST /admin/keys",
    permissions: ["keys:write"],
    request: async () => [
      "POST",
      "/admin/keys",
      { body: { userId: await createServiceAccount(), keyType: "ci" } },
    ],
    success: 201,
  },
  {
    name: "POST /admin/keys/:id/revoke",
    permissions: ["keys:revoke"],
    request: async () => {
      const key = await targetKey("matrix-key-owner");
      return ["POST", `/admin/keys/${key.id}/revoke`];
    },
    success: 200,
  },
  {
    name: "PATCH /admin/keys/:id",
    permissions: ["keys:write"],
    request: async () => {
      const key = await targetKey("matrix-key-patch");
      return ["PATCH", `/admin/keys/${key.id}`, { body: { enabled: false, remaining: 10 } }];
    },
    success: 200,
  },
  {
    name: "POST /admin/keys/:id/rotate",
    permissions: ["keys:write"],
    request: async () => {
      const key = await targetKey("matrix-key-rotate");
      return ["POST", `/admin/keys/${key.id}/rotate`, { body: { overlapSeconds: 60 } }];
    },
    success: 201,
  },
  {
    name: "GET /admin/keys/:id/usage",
    permissions: ["keys:read"],
    request: async () => {
      const key = await targetKey("matrix-key-usage");
      return ["GET", `/admin/keys/${key.id}/usage?granularity=day`];
    },
    success: 200,
  },
  {
    name: "POST /admin/keys/:id/rotate (an admin's key)",
    permissions: allAdminScopes,
    request: async () => {
      const key = await asAdminKey("POST", "/admin/keys", {
        body: { userId: await adminTarget(), keyType: "ci" },
      });
      return ["POST", `/admin/keys/${key.body.id}/rotate`, { body: {} }];
    },
    success: 201,
  },
  {
    name: "PATCH /admin/keys/:id (an admin's key)",
    permissions: allAdminScopes,
    request: async () => {
      const key = await asAdminKey("POST", "/admin/keys", {
        body: { userId: await adminTarget(), keyType: "ci" },
      });
      return ["PATCH", `/admin/keys/${key.body.id}`, { body: { enabled: false } }];
    },
    success: 200,
  },
  // The cells that found the escalations of the 2026-11-24 review: an account above the caller
  // needs every permission its role holds, and a key grants only what its maker holds.
  {
    name: "POST /admin/users/:id/password (an admin)",
    permissions: allAdminScopes,
    request: async () => [
      "POST",
      `/admin/users/${await adminTarget({ withPassword: true })}/password`,
      { body: { newPassword: "a new password set by an admin" } },
    ],
    success: 200,
  },
  {
    name: "PATCH /admin/users/:id (ban an admin)",
    permissions: allAdminScopes,
    request: async () => [
      "PATCH",
      `/admin/users/${await adminTarget()}`,
      { body: { banned: true } },
    ],
    success: 200,
  },
  {
    name: "DELETE /admin/users/:id/sessions (an admin)",
    permissions: allAdminScopes,
    request: async () => ["DELETE", `/admin/users/${await adminTarget()}/sessions`],
    success: 200,
  },
  {
    name: "POST /admin/keys/:id/revoke (an admin's key)",
    permissions: allAdminScopes,
    request: async () => {
      const key = await asAdminKey("POST", "/admin/keys", {
        body: { userId: await adminTarget(), keyType: "ci" },
      });
      return ["POST", `/admin/keys/${key.body.id}/revoke`];
    },
    success: 200,
  },
  {
    name: "POST /admin/keys (audit:read, for another admin)",
    permissions: ["keys:write", "audit:read", "roles:write"],
    request: async () => [
      "POST",
      "/admin/keys",
      { body: { userId: await adminTarget(), keyType: "ci", scopes: ["audit:read"] } },
    ],
    success: 201,
  },
  {
    name: "GET /admin/audit",
    permissions: ["audit:read"],
    request: () => Promise.resolve(["GET", "/admin/audit?limit=5"]),
    success: 200,
  },
  {
    name: "GET /admin/warnings",
    permissions: ["users:read"],
    request: () => Promise.resolve(["GET", "/admin/warnings"]),
    success: 200,
  },
];

const granted: Record<Caller, string[] | null> = {
  "anonymous": null,
  "wrong X-Admin-Key": null,
  "user session": [],
  "user key": [],
  "support session": supportScopes,
  "support key": supportScopes,
  "admin session": allAdminScopes,
  "admin key (all scopes)": allAdminScopes,
  "admin key (users:read)": ["users:read"],
  "admin key (keys:write)": ["keys:write"],
  "admin key (users:read, users:write)": ["users:read", "users:write"],
  "X-Admin-Key": allAdminScopes,
};

function expectedStatus(caller: Caller, route: Route): number {
  const permissions = granted[caller];
  if (permissions === null) return 401;
  return route.permissions.every((needed) => permissions.includes(needed)) ? route.success : 403;
}

Deno.test("authorization matrix: every admin route for every kind of caller", async (t) => {
  const headersOf = await credentials();
  const failures: string[] = [];
  for (const route of routes) {
    await t.step(route.name, async () => {
      for (const caller of callers) {
        const [method, path, options = {}] = await route.request();
        const result = await call(method, path, {
          ...options,
          headers: { ...options.headers, ...headersOf[caller] },
        });
        const expected = expectedStatus(caller, route);
        if (result.status !== expected) {
          failures.push(
            `${route.name} as ${caller}: ${result.status} (expected ${expected}) ${
              JSON.stringify(result.body).slice(0, 200)
            }`,
          );
        }
        if (expected >= 400) assert.equal(typeof result.body?.error?.code, "string");
      }
    });
  }
  assert.deepEqual(failures, []);
});

Deno.test("the admin-scoped key of an admin 'system' user lists users and sets passwords", async () => {
  const system = await createAccount("admin", "system");
  const { key } = await createKey(system.token, { name: "system", scopes: allAdminScopes });
  const session = await call("GET", "/auth/session", { token: key });
  assert.equal(session.status, 200);
  assert.equal(session.body.user.role, "admin");
  const list = await call("GET", "/admin/users", { token: key });
  assert.equal(list.status, 200);
  const target = await signUp("system-target");
  const setPassword = await call("POST", `/admin/users/${target.id}/password`, {
    token: key,
    body: { newPassword: "set by the system key" },
  });
  assert.equal(setPassword.status, 200);
  assert.deepEqual(setPassword.body, { success: true });
});

Deno.test("self-service matrix: what an owner's session and an owner's API key may do", async () => {
  const owner = await signUp("matrix-self");
  type Headers = Record<string, string>;
  const asSession = (): Promise<Headers> =>
    Promise.resolve({ authorization: `Bearer ${owner.token}` });
  const asKey = async (): Promise<Headers> => {
    const { id, key } = await createKey(owner.token, { name: "cell" });
    return { "x-api-key": key, "x-key-id": id };
  };
  const ownKeyId = async (headers: Headers) =>
    headers["x-key-id"] ?? (await createKey(owner.token, { name: "own" })).id;
  const cells: [string, () => Promise<Headers>, number, (h: Headers) => Promise<number>][] = [];
  const both = (
    name: string,
    session: number,
    apiKey: number,
    run: (headers: Headers) => Promise<number>,
  ) => {
    cells.push([`${name} as the session`, asSession, session, run]);
    cells.push([`${name} as an API key`, asKey, apiKey, run]);
  };
  both(
    "GET /auth/sessions",
    200,
    403,
    async (headers) => (await call("GET", "/auth/sessions", { headers })).status,
  );
  both("DELETE /keys/:id of a sibling key", 200, 403, async (headers) => {
    const sibling = await createKey(owner.token, { name: "sibling" });
    return (await call("DELETE", `/keys/${sibling.id}`, { headers })).status;
  });
  both(
    "DELETE /keys/:id of the key itself",
    200,
    200,
    async (headers) =>
      (await call("DELETE", `/keys/${await ownKeyId(headers)}`, { headers })).status,
  );
  both("GET /keys", 200, 200, async (headers) => (await call("GET", "/keys", { headers })).status);
  both(
    "POST /keys",
    201,
    403,
    async (headers) => (await call("POST", "/keys", { headers, body: { name: "minted" } })).status,
  );

  both("PATCH /keys/:id of a sibling key", 200, 403, async (headers) => {
    const sibling = await createKey(owner.token, { name: "sibling" });
    return (await call("PATCH", `/keys/${sibling.id}`, { headers, body: { name: "renamed" } }))
      .status;
  });
  both(
    "PATCH /keys/:id of the key itself",
    200,
    200,
    async (headers) =>
      (await call("PATCH", `/keys/${await ownKeyId(headers)}`, {
        headers,
        body: { metadata: { cell: true } },
      })).status,
  );
  both(
    "POST /keys/:id/rotate",
    201,
    403,
    async (headers) =>
      (await call("POST", `/keys/${await ownKeyId(headers)}/rotate`, { headers, body: {} }))
        .status,
  );
  both(
    "GET /keys/:id/usage",
    200,
    200,
    async (headers) =>
      (await call("GET", `/keys/${await ownKeyId(headers)}/usage`, { headers })).status,
  );

  const failures: string[] = [];
  for (const [name, credential, expected, run] of cells) {
    const status = await run(await credential());
    if (status !== expected) failures.push(`${name}: ${status} (expected ${expected})`);
  }
  assert.deepEqual(failures, []);
});
