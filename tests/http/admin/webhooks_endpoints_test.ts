import assert from "node:assert/strict";
import { withDatabase } from "../../support/http.ts";
import { admin, withWebhookFunctions } from "../../support/webhooks.ts";

/**
 * Registering, listing, changing, deleting endpoints and rotating their secrets: the secret is
 * a Standard Webhooks `whsec_` secret shown once and never again (not in a list, not in the
 * audit log, not in the database as is), every change is audited, and what an endpoint may
 * subscribe to is checked against the audit catalogue.
 */

Deno.test("a registered endpoint's secret is shown once, stored sealed, never read back", () =>
  withWebhookFunctions(async (functions, resolver) => {
    resolver.answers.set("receiver.hooks.test", ["127.0.0.1"]);
    const created = await functions.call("POST", "/admin/webhooks", admin, {
      url: "http://receiver.hooks.test:9/in",
      events: ["auth.*", "admin.user_updated", "auth.*"],
      description: "SIEM",
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { secret, ...endpoint } = created.body;
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    const secretBytes = Uint8Array.from(atob(secret.slice(6)), (char) => char.charCodeAt(0));
    assert.equal(secretBytes.length, 32);
    assert.deepEqual(endpoint.events, ["auth.*", "admin.user_updated"], "duplicates dropped");
    assert.equal(endpoint.enabled, true);
    assert.equal(endpoint.previousSecretExpiresAt, null);

    const listed = await functions.call("GET", "/admin/webhooks?limit=200", admin);
    assert.equal(listed.status, 200);
    const row = listed.body.webhooks.find((hook: { id: string }) => hook.id === endpoint.id);
    assert.deepEqual(row, endpoint);
    assert.ok(!JSON.stringify(listed.body).includes(secret.slice(6)), "no secret in the list");

    const [stored] = await withDatabase((sql) =>
      sql<{ sealed: Uint8Array }[]>`
        select secret_ciphertext as sealed from latchkey.webhook_endpoints
        where id = ${endpoint.id}`
    );
    const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0"));
    assert.ok(
      !hex(stored.sealed).join("").includes(hex(secretBytes).join("")),
      "the secret is not stored as is",
    );
    assert.equal(stored.sealed.length, 12 + 32 + 16, "nonce, ciphertext and tag");

    // The audit log records the registration, never the secret.
    const audit = await functions.call(
      "GET",
      `/admin/audit?targetId=${endpoint.id}&action=webhook.created`,
      admin,
    );
    assert.equal(audit.body.events.length, 1);
    assert.equal(audit.body.events[0].metadata.url, "http://receiver.hooks.test:9/in");
    assert.ok(!JSON.stringify(audit.body).includes(secret.slice(6)));
  }));

Deno.test("change, rotate and delete an endpoint: each audited, the new secret once", () =>
  withWebhookFunctions(async (functions, resolver) => {
    resolver.answers.set("receiver.hooks.test", ["127.0.0.1"]);
    const created = await functions.call("POST", "/admin/webhooks", admin, {
      url: "http://receiver.hooks.test:9/in",
      events: ["*"],
    });
    const id = created.body.id;
    const changed = await functions.call("PATCH", `/admin/webhooks/${id}`, admin, {
      enabled: false,
      description: "paused",
    });
    assert.equal(changed.status, 200);
    assert.equal(changed.body.enabled, false);
    assert.equal(changed.body.description, "paused");

    const rotated = await functions.call("POST", `/admin/webhooks/${id}/rotate-secret`, admin, {
      overlapSeconds: 3600,
    });
    assert.equal(rotated.status, 200);
    assert.match(rotated.body.secret, /^whsec_/);
    assert.notEqual(rotated.body.secret, created.body.secret);
    const overlapEnds = Date.parse(rotated.body.previousSecretExpiresAt) - Date.now();
    assert.ok(overlapEnds > 3500_000 && overlapEnds <= 3600_000, String(overlapEnds));
    const listed = await functions.call("GET", "/admin/webhooks", admin);
    const shown = listed.body.webhooks.find((hook: { id: string }) => hook.id === id);
    assert.equal(shown.previousSecretExpiresAt, rotated.body.previousSecretExpiresAt);
    assert.equal(shown.secret, undefined);

    const noOverlap = await functions.call("POST", `/admin/webhooks/${id}/rotate-secret`, admin, {
      overlapSeconds: 0,
    });
    assert.equal(noOverlap.body.previousSecretExpiresAt, null);

    const deleted = await functions.call("DELETE", `/admin/webhooks/${id}`, admin);
    assert.deepEqual(deleted.body, { success: true, id });
    const again = await functions.call("DELETE", `/admin/webhooks/${id}`, admin);
    assert.equal(again.status, 404);
    for (
      const [method, path, body] of [
        ["PATCH", `/admin/webhooks/${id}`, { enabled: true }],
        ["POST", `/admin/webhooks/${id}/rotate-secret`, {}],
        ["POST", `/admin/webhooks/deliveries/${crypto.randomUUID()}/retry`, undefined],
      ] as const
    ) {
      const missing = await functions.call(method, path, admin, body);
      assert.equal(missing.status, 404, `${method} ${path}`);
    }

    const audit = await functions.call("GET", `/admin/audit?targetId=${id}&limit=20`, admin);
    assert.deepEqual(
      audit.body.events.map((event: { action: string }) => event.action).reverse(),
      [
        "webhook.created",
        "webhook.updated",
        "webhook.secret_rotated",
        "webhook.secret_rotated",
        "webhook.deleted",
      ],
    );
    const update = audit.body.events.find((event: { action: string }) =>
      event.action === "webhook.updated"
    );
    assert.deepEqual(update.metadata.changes.enabled, { before: true, after: false });
    assert.ok(!JSON.stringify(audit.body).includes(rotated.body.secret.slice(6)));
  }));

Deno.test("events must be audit actions, prefixes of them or *; bodies are strict", () =>
  withWebhookFunctions(async (functions, resolver) => {
    resolver.answers.set("receiver.hooks.test", ["127.0.0.1"]);
    const url = "http://receiver.hooks.test:9/in";
    const cases: [unknown, string][] = [
      [{ url, events: ["auth.sign_in", "auth.nonsense"] }, "events.1"],
      [{ url, events: ["nope.*"] }, "events.0"],
      [{ url, events: [] }, "events"],
      [{ url, events: ["*"], secret: "whsec_mine" }, "secret"],
      [{ events: ["*"] }, "url"],
    ];
    for (const [body, path] of cases) {
      const refused = await functions.call("POST", "/admin/webhooks", admin, body);
      assert.equal(refused.status, 400, JSON.stringify(body));
      assert.ok(
        refused.body.error.details.some((detail: { path: string }) => detail.path === path),
        `${JSON.stringify(body)}: ${JSON.stringify(refused.body.error.details)}`,
      );
    }
    const [{ count }] = await withDatabase((sql) =>
      sql<{ count: number }[]>`
        select count(*)::int as count from latchkey.webhook_endpoints
        where url = ${url} and events && array['auth.nonsense', 'nope.*']`
    );
    assert.equal(count, 0);
  }));

Deno.test("without LATCHKEY_MFA_ENCRYPTION_KEY no endpoint can be registered: 501", () =>
  withWebhookFunctions(async (functions, resolver) => {
    resolver.answers.set("receiver.hooks.test", ["127.0.0.1"]);
    const refused = await functions.call("POST", "/admin/webhooks", admin, {
      url: "http://receiver.hooks.test:9/in",
      events: ["*"],
    });
    assert.equal(refused.status, 501);
    assert.equal(refused.body.error.code, "not_configured");
    assert.match(refused.body.error.message, /LATCHKEY_MFA_ENCRYPTION_KEY/);
  }, { LATCHKEY_MFA_ENCRYPTION_KEY: "" }));
