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
import { addMember, createOrg } from "../../support/orgs.ts";

/**
 * Issue 29, item 4: a session's token names an organization with `?org=`, and a team's own
 * policies read it with latchkey.org_id() and latchkey.has_permission(), as PostgREST runs them
 * (connected as `authenticator`, the token's role set, its claims in `request.jwt.claims`).
 */

// auth.uid(), auth.jwt() and the authenticator role exist on our hosted-like clusters only.
const ignore = !Deno.env.get("LATCHKEY_TEST_SUPERUSER_URL");

/** A team's table of organization-owned rows, guarded the way the README shows. */
async function createOrgNotes() {
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
          and (select latchkey.has_permission('org:write')));`)
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
