import assert from "node:assert/strict";
import { asAdminKey, errorOf, withDatabase } from "../../support/http.ts";

Deno.test("paging through 1,000 users gives each exactly once, even with inserts meanwhile", async () => {
  const tag = `page${crypto.randomUUID().slice(0, 8)}`;
  await withDatabase((sql) =>
    sql`insert into latchkey.users (email, name, is_service_account)
        select ${tag} || '-' || n || '@example.test', 'Paged ' || n, true
        from generate_series(1, 1000) n`
  );
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query = new URLSearchParams({ q: tag, limit: "77", ...(cursor ? { cursor } : {}) });
    const page = await asAdminKey("GET", `/admin/users?${query}`);
    assert.equal(page.status, 200);
    assert.equal(page.body.limit, 77);
    seen.push(...page.body.users.map((user: { email: string }) => user.email));
    cursor = page.body.nextCursor;
    pages += 1;
    if (pages === 3) {
      // New rows while paging: they sort before the first page, so they never show up later.
      await withDatabase((sql) =>
        sql`insert into latchkey.users (email, name, is_service_account)
            select ${tag} || '-late-' || n || '@example.test', 'Late', true
            from generate_series(1, 25) n`
      );
    }
  } while (cursor);
  const original = seen.filter((email) => !email.includes("-late-"));
  assert.equal(original.length, 1000, `no gaps: saw ${original.length} in ${pages} pages`);
  assert.equal(new Set(seen).size, seen.length, "no duplicates");
  assert.equal(pages, Math.ceil(1000 / 77));
});

Deno.test("limit defaults to 50, stops at 200, and bad limits or cursors are a 400", async () => {
  const page = await asAdminKey("GET", "/admin/audit");
  assert.equal(page.status, 200);
  assert.equal(page.body.limit, 50);
  assert.ok(page.body.events.length <= 50);
  for (
    const query of ["limit=0", "limit=201", "limit=ten", "cursor=bm90LWEtY3Vyc29y", "cursor=%%%"]
  ) {
    const result = await asAdminKey("GET", `/admin/users?${query}`);
    assert.equal(result.status, 400, query);
    assert.equal(errorOf(result).code, "validation_failed");
  }
  const unknown = await asAdminKey("GET", "/admin/users?sort=email");
  assert.equal(unknown.status, 400);
});

Deno.test("audit filters narrow the list", async () => {
  const page = await asAdminKey("GET", "/admin/audit?action=admin_key.used&limit=5");
  assert.equal(page.status, 200);
  assert.ok(page.body.events.length > 0);
  for (const event of page.body.events) {
    assert.equal(event.action, "admin_key.used");
    assert.equal(event.actorKind, "admin_key");
  }
  const since = new Date(Date.now() + 3600_000).toISOString();
  const future = await asAdminKey("GET", `/admin/audit?since=${since}`);
  assert.deepEqual(future.body.events, []);
});
