import assert from "node:assert/strict";
import { call, type TestAccount, withDatabase } from "./http.ts";

/** An organization made through the API by `owner`'s session; returns its id. */
export async function createOrg(owner: TestAccount, name = "Test org"): Promise<string> {
  const created = await call("POST", "/orgs", { token: owner.token, body: { name } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.org.id;
}

/**
 * A membership written as the schema owner: a fixture for the tests that are not about
 * invitations (tests/http/orgs/invitations_test.ts walks the mailed way in).
 */
export async function addMember(orgId: string, userId: string, role: string): Promise<void> {
  await withDatabase((sql) =>
    sql`insert into latchkey.org_memberships (org_id, user_id, role)
        values (${orgId}, ${userId}, ${role})`
  );
}

/** Each member's role, by user id, as the database holds it. */
export async function rolesIn(orgId: string): Promise<Record<string, string>> {
  const rows = await withDatabase((sql) =>
    sql<{ user_id: string; role: string }[]>`
      select user_id, role from latchkey.org_memberships where org_id = ${orgId}`
  );
  return Object.fromEntries(rows.map((row) => [row.user_id, row.role]));
}

/** A key `orgId` owns, made through the API by a member's session; the 201 body, with `key`. */
export async function createOrgKey(
  token: string,
  orgId: string,
  body: Record<string, unknown> = { name: "org key" },
) {
  const created = await call("POST", `/orgs/${orgId}/keys`, { token, body });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body as {
    id: string;
    key: string;
    ownerType: string;
    orgId: string;
    userId: string | null;
    createdBy: string | null;
    scopes: string[];
  };
}
