import assert from "node:assert/strict";
import { credentialCheckOf, gatedBySecondFactor } from "../../../functions/_shared/http/openapi.ts";
import { adminPermissions, type Role } from "../../../functions/_shared/ground/principal.ts";
import { seededRolePermissions } from "../../support/roles.ts";
import { type Operation, operations } from "../../support/catalogue.ts";
import { createAuthUser, withSupabaseIdentity } from "../../support/supabase_auth.ts";
import {
  adminKey,
  asAdminKey,
  call,
  createAccount,
  enrolTotp,
  issueKey,
  recordSecret,
  signIn,
  type TestAccount,
  withDatabase,
} from "../../support/http.ts";
import { ageSecondFactor } from "../../support/step_up.ts";
import { createOrg, createOrgKey } from "../../support/orgs.ts";

/**
 * Every declared route × every kind of caller, the expected answer derived from the route's
 * declaration (its `auth` list and `permission`), never listed by hand: a new route is covered
 * because it is declared, and a new kind of caller does not compile until `expected` knows it.
 * A caller the credential check admits may still be refused by the route itself (a body it
 * lacks, an id that is nobody's, an account beyond its reach); what is asserted is that the
 * credential check answers exactly as declared. (The admin routes' full answers, reach
 * included, are tests/http/admin/authorization_matrix_test.ts.)
 */

const kinds = [
  "none",
  "user session",
  "support session",
  "admin session",
  "support session at aal1",
  "admin session at aal1",
  "key without the route's scope",
  "key with the route's scope",
  "admin key missing the route's permission",
  "organization's key",
  "X-Admin-Key",
  "revoked key",
  "expired key",
  "disabled key",
  "banned owner's session",
  "challenge token",
  "admin session, second factor verified too long ago",
] as const;
type Kind = typeof kinds[number];

type Expectation = "admitted" | { status: 401 | 403 | 404; code: string; nextRoute?: string };

const unauthorized: Expectation = { status: 401, code: "unauthorized" };
const forbidden: Expectation = { status: 403, code: "forbidden" };
const stepUpRequired: Expectation = { status: 403, code: "step_up_required" };

/**
 * The sessions that have not stepped up (a second factor verified within
 * LATCHKEY_STEP_UP_MINUTES): the user's (no factor at all) and the stale admin's. The admin and
 * support sessions have just verified one.
 */
const notSteppedUp: ReadonlySet<Kind> = new Set([
  "user session",
  "admin session, second factor verified too long ago",
]);

/**
 * Whether the route's step-up applies to the call the matrix makes: always, or on a condition
 * whose example body it sends. A condition on stored state (a key's scopes, a factor's
 * confirmation) does not hold for nobody's id; tests/http/admin/step_up_test.ts covers those.
 */
function stepUpApplies(operation: Operation, role: Role): boolean {
  const { stepUp } = operation.doc;
  if (stepUp === true) return true;
  if (typeof stepUp !== "object" || stepUp.example === undefined) return false;
  return stepUp.applies?.(stepUp.example, seededRolePermissions[role]) ?? true;
}

function sessionOf(role: Role, operation: Operation): Expectation {
  const { permission } = operation.doc;
  return permission && !seededRolePermissions[role].includes(permission) ? forbidden : "admitted";
}

/**
 * A session whose role needs a second factor (LATCHKEY_MFA_REQUIRED_ROLES, admin and support by
 * default) that has not verified one: 403 mfa_required naming `nextRoute`, except on the routes
 * that declare they lead to a factor, where it is the role's session as ever.
 */
function awaitingFactorOf(role: Role, operation: Operation, nextRoute: string): Expectation {
  return gatedBySecondFactor(operation.doc)
    ? { status: 403, code: "mfa_required", nextRoute }
    : sessionOf(role, operation);
}

/**
 * What the credential and step-up checks must answer `kind` on `operation`, from its declaration
 * alone: the credential check's answer, then, for a session it admits that has not stepped up,
 * step_up_required where the route's step-up applies.
 */
function expected(operation: Operation, kind: Kind): Expectation {
  const admitted = credentialExpectation(operation, kind);
  return admitted === "admitted" && notSteppedUp.has(kind) &&
      stepUpApplies(operation, kind === "user session" ? "user" : "admin")
    ? stepUpRequired
    : admitted;
}

function credentialExpectation(operation: Operation, kind: Kind): Expectation {
  const check = credentialCheckOf(operation.doc.auth);
  if (check === "none") return "admitted";
  // Sign-in's challenge: only where the route declares it, an unknown session token elsewhere.
  if (kind === "challenge token") {
    return operation.doc.auth.includes("challenge") ? "admitted" : unauthorized;
  }
  // Nothing else passes a route that takes only the challenge.
  if (check === "challengeOnly") return unauthorized;
  const { permission } = operation.doc;
  const asKey = (holds: boolean): Expectation =>
    check === "sessionOnly" || check === "sessionOrChallenge"
      ? { status: 403, code: "interactive_session_required" }
      : holds
      ? "admitted"
      : forbidden;
  switch (kind) {
    case "none":
    case "revoked key":
    case "expired key":
    case "disabled key":
    case "banned owner's session":
      return unauthorized;
    case "X-Admin-Key":
      // Read on admin routes only; elsewhere the request simply has no credential.
      return check === "adminKey" ? "admitted" : unauthorized;
    case "user session":
      return sessionOf("user", operation);
    case "support session":
      return sessionOf("support", operation);
    case "admin session":
    case "admin session, second factor verified too long ago":
      return sessionOf("admin", operation);
    // The support account has a confirmed factor this older session has not verified; the
    // admin account has none yet.
    case "support session at aal1":
      return awaitingFactorOf("support", operation, "POST /auth/factors/:id/verify");
    case "admin session at aal1":
      return awaitingFactorOf("admin", operation, "POST /auth/factors/totp");
    case "key without the route's scope":
      return asKey(!permission);
    // An organization's key acts for no person and holds no staff permission, whatever its
    // scopes: a key without the route's scope everywhere.
    case "organization's key":
      return asKey(!permission);
    case "key with the route's scope":
      return asKey(true);
    case "admin key missing the route's permission":
      return asKey(!permission);
  }
}

/** The refusals only the credential check gives; anything else means it admitted the caller. */
function refusedByCredentialCheck(
  status: number,
  body: { error?: { code?: string; message?: string } } | null,
  permission: string | undefined,
): boolean {
  const code = body?.error?.code;
  if (status === 401) return code === "unauthorized";
  if (status !== 403) return false;
  return code === "interactive_session_required" || code === "mfa_required" ||
    code === "step_up_required" ||
    (code === "forbidden" && body?.error?.message === `This needs the ${permission} permission.`);
}

/** Whether an answer is what the credential check must give (admitted: not one of its refusals). */
function answersAsDeclared(
  want: Expectation,
  result: {
    status: number;
    body: { error?: { code?: string; message?: string; nextRoute?: string } } | null;
  },
  permission: string | undefined,
): boolean {
  if (want === "admitted") return !refusedByCredentialCheck(result.status, result.body, permission);
  return result.status === want.status && result.body?.error?.code === want.code &&
    result.body?.error?.nextRoute === want.nextRoute;
}

/** The catalogue with sign-out last: it ends the session every other route is called with. */
const signOutLast = [...operations].sort((a, b) =>
  Number(a.path === "/auth/sign-out") - Number(b.path === "/auth/sign-out")
);

/**
 * A sign-in's challenge for `account`, given a confirmed factor, made to outlast the matrix
 * (five minutes is for people; a busy machine's matrix may take longer).
 */
async function challengeFor(account: TestAccount): Promise<string> {
  await enrolTotp(account);
  const signedIn = await signIn(account.email, account.password);
  assert.equal(signedIn.status, 200);
  const { token } = signedIn.body.challenge;
  recordSecret(token);
  await withDatabase((sql) =>
    sql`update latchkey.sessions set expires_at = now() + interval '1 hour'
        where user_id = ${account.id} and purpose = 'mfa_challenge'`
  );
  return token;
}

/**
 * A session at aal1 of a new account of `role`, made without createAccount's enrolment: with
 * `confirmedFactor`, a second session then enrols and confirms a factor (which raises only that
 * one), so the first is an older session of an account that has a factor it has not verified.
 */
async function sessionAwaitingFactor(
  role: "support" | "admin",
  { confirmedFactor }: { confirmedFactor: boolean },
): Promise<string> {
  const account = await createAccount(role, `cred-${role}-aal1`, { secondFactor: false });
  if (confirmedFactor) {
    const other = await signIn(account.email, account.password);
    await enrolTotp({
      ...account,
      token: other.body.session.token,
      sessionId: other.body.session.id,
    });
  }
  return account.token;
}

async function key(userId: string, scopes: string[]) {
  return (await issueKey(userId, { name: "matrix", scopes, rateLimitPerMinute: 100_000 })).key;
}

Deno.test("credential matrix: every declared route × every kind of caller, as declared", async () => {
  const user = await createAccount("user", "cred-user");
  const support = await createAccount("support", "cred-support");
  const admin = await createAccount("admin", "cred-admin");
  // createAccount verified a factor for support and admin just now: stepped up (the matrix
  // outlasts no LATCHKEY_STEP_UP_MINUTES); the stale admin's verification is made eleven minutes
  // old as far as its session knows.
  const staleAdmin = await createAccount("admin", "cred-stale-admin");
  await ageSecondFactor(staleAdmin.sessionId, 11);
  const supportAtAal1 = await sessionAwaitingFactor("support", { confirmedFactor: true });
  const adminAtAal1 = await sessionAwaitingFactor("admin", { confirmedFactor: false });
  const banned = await createAccount("user", "cred-banned");
  const ban = await asAdminKey("PATCH", `/admin/users/${banned.id}`, { body: { banned: true } });
  assert.equal(ban.status, 200);

  // Keys of the admin holding exactly the route's permission, or all but it.
  const withScope = new Map<string, string>();
  const withoutPermission = new Map<string, string>();
  for (const permission of adminPermissions) {
    withScope.set(permission, await key(admin.id, [permission]));
    withoutPermission.set(
      permission,
      await key(admin.id, adminPermissions.filter((held) => held !== permission)),
    );
  }
  const allScopes = await key(admin.id, [...adminPermissions]);
  const userKey = await key(user.id, ["compile"]);
  const revoked = await issueKey(user.id, { name: "revoked" });
  await asAdminKey("POST", `/admin/keys/${revoked.id}/revoke`);
  const expired = await issueKey(user.id, { name: "expired" });
  await withDatabase((sql) =>
    sql`update latchkey.api_keys set expires_at = now() - interval '1 second'
        where id = ${expired.id}`
  );
  const disabled = await issueKey(user.id, { name: "disabled" });
  await asAdminKey("PATCH", `/admin/keys/${disabled.id}`, { body: { enabled: false } });
  const challenge = await challengeFor(await createAccount("user", "cred-challenged"));
  const orgId = await createOrg(user, "Matrix");
  const orgKey = await createOrgKey(user.token, orgId, {
    name: "matrix",
    rateLimitPerMinute: 600,
  });

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const headersFor = (kind: Kind, { doc }: Operation): Record<string, string> => {
    switch (kind) {
      case "none":
        return {};
      case "user session":
        return bearer(user.token);
      case "support session":
        return bearer(support.token);
      case "admin session":
        return bearer(admin.token);
      case "support session at aal1":
        return bearer(supportAtAal1);
      case "admin session at aal1":
        return bearer(adminAtAal1);
      case "key without the route's scope":
        return { "x-api-key": userKey };
      case "key with the route's scope":
        return { "x-api-key": doc.permission ? withScope.get(doc.permission)! : allScopes };
      case "admin key missing the route's permission":
        return { "x-api-key": doc.permission ? withoutPermission.get(doc.permission)! : userKey };
      case "organization's key":
        return { "x-api-key": orgKey.key };
      case "X-Admin-Key":
        return { "x-admin-key": adminKey };
      case "revoked key":
        return { "x-api-key": revoked.key };
      case "expired key":
        return { "x-api-key": expired.key };
      case "disabled key":
        return { "x-api-key": disabled.key };
      case "banned owner's session":
        return bearer(banned.token);
      case "challenge token":
        return bearer(challenge);
      case "admin session, second factor verified too long ago":
        return bearer(staleAdmin.token);
    }
  };

  const wrong: string[] = [];
  let cells = 0;
  for (const operation of signOutLast) {
    // Nobody's id: an admitted caller meets the route's own 404, never another account.
    const path = operation.path.replace(":id", crypto.randomUUID());
    for (const kind of kinds) {
      // A conditional step-up's example body, so the condition holds (nobody's ids in it).
      const stepUp = operation.doc.stepUp;
      const body = typeof stepUp === "object" ? stepUp.example : undefined;
      const result = await call(operation.method, path, {
        headers: headersFor(kind, operation),
        body,
      });
      cells += 1;
      const want = expected(operation, kind);
      if (!answersAsDeclared(want, result, operation.doc.permission)) {
        wrong.push(
          `${operation.method} ${operation.path} as ${kind}: ${result.status} ` +
            `${JSON.stringify(result.body).slice(0, 160)} (expected ${JSON.stringify(want)})`,
        );
      }
    }
  }
  assert.deepEqual(wrong, []);
  assert.equal(cells, operations.length * kinds.length);
  console.log(`  ${operations.length} routes × ${kinds.length} kinds of caller = ${cells} cells`);
});

Deno.test({
  name: "credential matrix, LATCHKEY_IDENTITY=supabase: a Supabase Auth token on every route",
  ignore: !Deno.env.get("LATCHKEY_TEST_SUPERUSER_URL"),
  fn: () =>
    withSupabaseIdentity(async (served, project) => {
      const token = await project.token(await createAuthUser());
      const wrong: string[] = [];
      for (const operation of signOutLast) {
        const path = operation.path.replace(":id", crypto.randomUUID());
        const result = await served.call(operation.method, path, {
          authorization: `Bearer ${token}`,
        });
        // Supabase Auth owns Latchkey's own account routes: they are not there. No body is
        // sent, so no conditional step-up applies.
        const want: Expectation = operation.doc.ownIdentityOnly
          ? { status: 404, code: "not_found" }
          : credentialExpectation(operation, "user session");
        if (!answersAsDeclared(want, result, operation.doc.permission)) {
          wrong.push(
            `${operation.method} ${operation.path}: ${result.status} (expected ${
              JSON.stringify(want)
            })`,
          );
        }
      }
      assert.deepEqual(wrong, []);
    }),
});
