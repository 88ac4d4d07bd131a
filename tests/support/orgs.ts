import assert from "node:assert/strict";
import { generateApiKey } from "../../functions/_shared/keys/api_key_format.ts";
import { call, recordSecret, type TestAccount, withDatabase } from "./http.ts";

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

/**
 * An organization written as the schema owner, with what its keys may hold (`keyPermissions`,
 * null: the default): a fixture for the tests of what its keys do, not of how they are made
 * (tests/http/orgs/org_keys_test.ts makes them through the API). Returns its id.
 */
export async function insertOrg(keyPermissions: string[] | null = null): Promise<string> {
  const [{ id }] = await withDatabase((sql) =>
    sql<{ id: string }[]>`
      insert into latchkey.organizations (name, slug, key_permissions)
      values ('Fixture', ${`fixture-${crypto.randomUUID()}`}, ${keyPermissions}::text[])
      returning id`
  );
  return id;
}

/** A key `orgId` owns, written as the schema owner (see insertOrg); its id and secret. */
export async function insertOrgKey(
  orgId: string,
  scopes: string[],
): Promise<{ id: string; key: string }> {
  const { key, keyPrefix, keyHashHex } = generateApiKey("lk");
  recordSecret(key);
  const [{ id }] = await withDatabase((sql) =>
    sql<{ id: string }[]>`
      insert into latchkey.api_keys (org_id, name, key_prefix, key_hash, scopes)
      values (${orgId}, 'fixture', ${keyPrefix}, decode(${keyHashHex}, 'hex'), ${scopes}::text[])
      returning id`
  );
  return { id, key };
}

/**
 * One of the team's permissions (`<unique>:write`), written into the catalogue as the admin API
 * would (admin holds it at once); unique, so no other test's keys or scopes meet it.
 */
export async function insertTeamPermission(): Promise<string> {
  const name = `t${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}:write`;
  await withDatabase((sql) =>
    sql`insert into latchkey.permissions (name, description, built_in)
        values (${name}, 'A fixture of the team''s', false)`
  );
  return name;
}
