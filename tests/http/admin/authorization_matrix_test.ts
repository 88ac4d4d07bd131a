import assert from "node:assert/strict";
import {
  adminKey,
  call,
  type CallOptions,
  createAccount,
  createKey,
  createServiceAccount,
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
  "X-Admin-Key",
  "wrong X-Admin-Key",
];

const supportScopes = ["users:read", "keys:read", "keys:revoke", "sessions:revoke", "audit:read"];
const allAdminScopes = [...supportScopes, "users:write", "keys:write", "roles:write"];

async function credentials(): Promise<Record<Caller, Record<string, string>>> {
  const user = await signUp("matrix-user");
  const support = await createAccount("support", "matrix-support");
  const admin = await createAccount("admin", "matrix-admin");
  const userKey = await createKey(user.token, { name: "user key" });
  const supportKey = await createKey(support.token, { name: "support key", scopes: supportScopes });
  const adminFull = await createKey(admin.token, { name: "all", scopes: allAdminScopes });
  const adminRead = await createKey(admin.token, { name: "read", scopes: ["users:read"] });
  return {
    "anonymous": {},
    "user session": { authorization: `Bearer ${user.token}` },
    "user key": { "x-api-key": userKey.key },
    "support session": { authorization: `Bearer ${support.token}` },
    "support key": { "x-api-key": supportKey.key },
    "admin session": { authorization: `Bearer ${admin.token}` },
    "admin key (all scopes)": { authorization: `Bearer ${adminFull.key}` },
    "admin key (users:read)": { "x-api-key": adminRead.key },
    "X-Admin-Key": { "x-admin-key": adminKey },
    "wrong X-Admin-Key": { "x-admin-key": `${adminKey}-wrong` },
  };
}

interface Route {
  name: string;
  permission: string;
  /** Builds a fresh request (its own target), so mutating cells do not affect each other. */
  request: () => Promise<[string, string, CallOptions?]>;
  success: number;
}

const routes: Route[] = [
  {
    name: "GET /admin/users",
    permission: "users:read",
    request: () => Promise.resolve(["GET", "/admin/users?limit=5"]),
    success: 200,
  },
  {
    name: "POST /admin/users",
    permission: "users:write",
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
    permission: "users:read",
    request: async () => ["GET", `/admin/users/${await createServiceAccount()}`],
    success: 200,
  },
  {
    name: "PATCH /admin/users/:id",
    permission: "users:write",
    request: async () => [
      "PATCH",
      `/admin/users/${await createServiceAccount()}`,
      { body: { tier: "pro" } },
    ],
    success: 200,
  },
  {
    name: "POST /admin/users/:id/password",
    permission: "users:write",
    request: async () => [
      "POST",
      `/admin/users/${(await signUp("matrix-target")).id}/password`,
      { body: { newPassword: "a new password set by an admin" } },
    ],
    success: 200,
  },
  {
    name: "DELETE /admin/users/:id",
    permission: "users:write",
    request: async () => ["DELETE", `/admin/users/${await createServiceAccount()}`],
    success: 200,
  },
  {
    name: "GET /admin/users/:id/sessions",
    permission: "users:read",
    request: async () => ["GET", `/admin/users/${(await signUp("matrix-sessions")).id}/sessions`],
    success: 200,
  },
  {
    name: "DELETE /admin/users/:id/sessions",
    permission: "sessions:revoke",
    request: async () => [
      "DELETE",
      `/admin/users/${(await signUp("matrix-revoke")).id}/sessions`,
    ],
    success: 200,
  },
  {
    name: "GET /admin/keys",
    permission: "keys:read",
    request: () => Promise.resolve(["GET", "/admin/keys?limit=5"]),
    success: 200,
  },
  {
    name: "POST /admin/keys",
    permission: "keys:write",
    request: async () => [
      "POST",
      "/admin/keys",
      { body: { userId: await createServiceAccount(), keyType: "ci" } },
    ],
    success: 201,
  },
  {
    name: "POST /admin/keys/:id/revoke",
    permission: "keys:revoke",
    request: async () => {
      const owner = await signUp("matrix-key-owner");
      const key = await createKey(owner.token);
      return ["POST", `/admin/keys/${key.id}/revoke`];
    },
    success: 200,
  },
  {
    name: "GET /admin/audit",
    permission: "audit:read",
    request: () => Promise.resolve(["GET", "/admin/audit?limit=5"]),
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
  "X-Admin-Key": allAdminScopes,
};

function expectedStatus(caller: Caller, route: Route): number {
  const permissions = granted[caller];
  if (permissions === null) return 401;
  return permissions.includes(route.permission) ? route.success : 403;
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
