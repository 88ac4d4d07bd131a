import assert from "node:assert/strict";
import { decodeJwt, type JWTPayload } from "jose";
import {
  call,
  createKey,
  errorOf,
  recordSecret,
  signUp,
  withDatabase,
} from "../../support/http.ts";
import { asDataApi } from "../../support/data_api.ts";
import {
  addMember,
  createOrg,
  insertOrg,
  insertOrgKey,
  insertTeamPermission,
} from "../../support/orgs.ts";

/**
 * Issue 29, item 4: a session's token names an organization with `?org=`, an organization's key's
 * token always names its own, and a team's own policies read it with latchkey.org_id() and
 * latchkey.has_permission(), as PostgREST runs them (connected as `authenticator`, the token's
 * role set, its claims in `request.jwt.claims`).
 */

// auth.uid(), auth.jwt() and the authenticator role exist on our hosted-like clusters only.
const ignore = !Deno.env.get("LATCHKEY_TEST_SUPERUSER_URL");

/**
 * A team's table of organization-owned rows, guarded the way the README shows; with
 * `keyPermission`, the team's permission a key's token must carry to add a row.
 */
async function createOrgNotes(keyPermission = "notes:write") {
  await withDatabase((sql) =>
    sql.unsafe(`
      drop table if exists public.latchkey_fixture_org_notes;
      create table public.latchkey_fixture_org_notes (
        id bigint generated always as identity primary key,
        org_id uuid not null default latchkey.org_id(),
        body text not null
      );
      alter table public.latchkey_fixture_org_notes enable row level security;
      grant select, insert on public.latchkey_fixture_org_notes to authenticated;
      create policy "Members read their organization's notes" on public.latchkey_fixture_org_notes
        for select to authenticated using (org_id = (select latchkey.org_id()));
      create policy "Those who may edit the organization add notes"
        on public.latchkey_fixture_org_notes for insert to authenticated
        with check (org_id = (select latchkey.org_id())
          and (select latchkey.has_permission('org:write')));
      create policy "Keys holding the team's permission add notes"
        on public.latchkey_fixture_org_notes for insert to authenticated
        with check (org_id = (select latchkey.org_id())
          and (select latchkey.has_permission('${keyPermission}')));`)
  );
}

async function tokenFor(token: string, orgId?: string) {
  const minted = await call("POST", `/auth/token${orgId ? `?org=${orgId}` : ""}`, { token });
  if (minted.status === 200) recordSecret(minted.body.access_token);
  return minted;
}

async function claimsFor(token: string, orgId?: string): Promise<JWTPayload> {
  const minted = await tokenFor(token, orgId);
  assert.equal(minted.status, 200, JSON.stringify(minted.body));
  return decodeJwt(minted.body.access_token);
}

const notesSeen = (claims: JWTPayload) =>
  asDataApi(claims, async (tx) =>
    (await tx<{ body: string }[]>`
      select body from public.latchkey_fixture_org_notes order by body`).map((row) => row.body));

const addNote = (claims: JWTPayload, body: string) =>
  asDataApi(
    claims,
    (tx) => tx`insert into public.latchkey_fixture_org_notes (body) values (${body})`,
  );

Deno.test({
  name: "a session's token names its organization; a team's policies see that organization only",
  ignore,
  async fn() {
    await createOrgNotes();
    const [ada, bob, eve] = await Promise.all([
      signUp("claims-ada"),
      signUp("claims-bob"),
      signUp("claims-eve"),
    ]);
    const [acme, globex] = await Promise.all([createOrg(ada, "Acme"), createOrg(eve, "Globex")]);
    await addMember(acme, bob.id, "member");
    await withDatabase((sql) =>
      sql`insert into public.latchkey_fixture_org_notes (org_id, body)
          values (${acme}, 'acme plan'), (${globex}, 'globex secret')`
    );

    const owner = await claimsFor(ada.token, acme);
    assert.equal(owner.org_id, acme);
    assert.equal(owner.org_role, "owner");
    assert.ok((owner.permissions as string[]).includes("org:write"));
    assert.deepEqual(await notesSeen(owner), ["acme plan"], "its organization's rows, no other");
    await addNote(owner, "acme next");

    const member = await claimsFor(bob.token, acme);
    assert.equal(member.org_role, "member");
    assert.deepEqual(await notesSeen(member), ["acme next", "acme plan"]);
    await assert.rejects(
      () => addNote(member, "by a member"),
      (error: { code?: string }) => error.code === "42501",
      "a role without the permission is refused by the policy",
    );

    // Without ?org= a token has no organization: the policies fail closed.
    const plain = await claimsFor(ada.token);
    assert.equal(plain.org_id, undefined);
    assert.ok(Array.isArray(plain.permissions), "every token says what it may do");
    assert.deepEqual(await notesSeen(plain), []);

    // Not a member: nothing to learn, as for any organization the caller cannot read.
    const stranger = await tokenFor(bob.token, globex);
    assert.equal(stranger.status, 404, JSON.stringify(stranger.body));
    const unknown = await tokenFor(bob.token, crypto.randomUUID());
    assert.equal(unknown.status, 404);
    assert.deepEqual(errorOf(unknown).message, errorOf(stranger).message);

    // A key is bound to what it is: it names no organization.
    const key = await createKey(ada.token, { name: "no org" });
    recordSecret(key.key);
    const keyed = await call("POST", `/auth/token?org=${acme}`, {
      headers: { "x-api-key": key.key },
    });
    assert.equal(keyed.status, 400, JSON.stringify(keyed.body));
    assert.equal(errorOf(keyed).details?.[0].path, "org");

    // A suspended organization's members get no token for it.
    await withDatabase((sql) =>
      sql`update latchkey.organizations set suspended_at = now() where id = ${acme}`
    );
    const suspended = await tokenFor(ada.token, acme);
    assert.equal(suspended.status, 403, JSON.stringify(suspended.body));
    assert.equal(errorOf(suspended).code, "org_suspended");
  },
});

Deno.test({
  name: "an organization's key's token speaks for its organization, as no person: its rows, " +
    "not another's, and only what its scopes and the organization's ceiling let it do",
  ignore,
  async fn() {
    const write = await insertTeamPermission();
    await createOrgNotes(write);
    const [acme, globex] = await Promise.all([insertOrg(["compile", write]), insertOrg()]);
    const [writer, reader, outsider] = await Promise.all([
      insertOrgKey(acme, ["compile", write]),
      insertOrgKey(acme, ["compile"]),
      insertOrgKey(globex, ["compile", write]),
    ]);
    await withDatabase((sql) =>
      sql`insert into public.latchkey_fixture_org_notes (org_id, body)
          values (${acme}, 'acme plan'), (${globex}, 'globex secret')`
    );
    const claimsOfKey = async (key: string, query = "") => {
      const minted = await call("POST", `/auth/token${query}`, { headers: { "x-api-key": key } });
      if (minted.status === 200) recordSecret(minted.body.access_token);
      return minted;
    };

    const minted = await claimsOfKey(writer.key);
    assert.equal(minted.status, 200, JSON.stringify(minted.body));
    const claims = decodeJwt(minted.body.access_token);
    // A machine principal: `sub` is the key, which is no user's, and it is no member.
    assert.deepEqual(
      [claims.sub, claims.key_id, claims.org_id, claims.org_role, claims.permissions],
      [writer.id, writer.id, acme, null, [write]],
    );
    assert.deepEqual([claims.role, claims.app_role, claims.email], [
      "authenticated",
      "user",
      undefined,
    ]);
    assert.deepEqual(claims.scopes, ["compile", write]);
    assert.deepEqual(await notesSeen(claims), ["acme plan"], "its organization's rows, no other");
    await addNote(claims, "written by acme's key");
    assert.deepEqual(
      await asDataApi(
        claims,
        async (tx) => (await tx<{ uid: string }[]>`select auth.uid()::text as uid`)[0].uid,
      ),
      writer.id,
      "auth.uid() is the key: a policy on users' rows finds none of its",
    );

    const readOnly = decodeJwt((await claimsOfKey(reader.key)).body.access_token);
    assert.deepEqual([readOnly.org_id, readOnly.permissions], [acme, []]);
    assert.deepEqual(await notesSeen(readOnly), ["acme plan", "written by acme's key"]);
    await assert.rejects(
      () => addNote(readOnly, "without the permission"),
      (error: { code?: string }) => error.code === "42501",
      "a key without the permission is refused by the policy",
    );

    // Organization B's key, scoped for writing but under the default ceiling (what role user
    // holds: not the team's permission), reads B's rows only and writes none.
    const other = decodeJwt((await claimsOfKey(outsider.key)).body.access_token);
    assert.deepEqual([other.org_id, other.permissions], [globex, []]);
    assert.deepEqual(await notesSeen(other), ["globex secret"]);
    await assert.rejects(
      () => addNote(other, "into globex"),
      (error: { code?: string }) => error.code === "42501",
    );

    // The ceiling narrowed: the next token says so; a key names no other organization.
    await withDatabase((sql) =>
      sql`update latchkey.organizations set key_permissions = '{compile}' where id = ${acme}`
    );
    const narrowed = decodeJwt((await claimsOfKey(writer.key)).body.access_token);
    assert.deepEqual([narrowed.permissions, narrowed.scopes], [[], ["compile"]]);
    const named = await claimsOfKey(writer.key, `?org=${globex}`);
    assert.equal(named.status, 400, JSON.stringify(named.body));
    assert.equal(errorOf(named).details?.[0].path, "org");

    // Suspended: no token at all.
    await withDatabase((sql) =>
      sql`update latchkey.organizations set suspended_at = now() where id = ${acme}`
    );
    const suspended = await claimsOfKey(writer.key);
    assert.equal(suspended.status, 403);
    assert.equal(errorOf(suspended).code, "org_suspended");
  },
});
