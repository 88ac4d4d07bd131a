import assert from "node:assert/strict";
import { functionsUrl } from "../support/http.ts";

// The API reference page over plain HTTP: what it serves, and everything it must not.
Deno.test("the reference page is served with a strict policy and only its own assets", async () => {
  const page = await fetch(`${functionsUrl}/docs`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
  const policy = page.headers.get("content-security-policy") ?? "";
  assert.match(policy, /script-src 'self'(;|$)/);
  assert.match(policy, /connect-src 'self'/);
  assert.match(policy, /frame-ancestors 'none'/);
  const html = await page.text();
  const scripts = [...html.matchAll(/<script([^>]*)>/g)].map((match) => match[1]);
  assert.ok(scripts.length >= 2 && scripts.every((attributes) => /\ssrc="/.test(attributes)));

  for (const [asset, type] of [["swagger-ui-bundle.js", /javascript/], ["swagger-ui.css", /css/]]) {
    const response = await fetch(`${functionsUrl}/docs/${asset}`);
    assert.equal(response.status, 200, asset as string);
    assert.match(response.headers.get("content-type") ?? "", type as RegExp);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    await response.body?.cancel();
  }
});

Deno.test("anything else under /docs is the 404 envelope: other files, traversal, other methods", async () => {
  const refused: [string, string][] = [
    ["GET", "/docs/nope.js"],
    ["GET", "/docs/swagger-ui-bundle.js.map"],
    ["GET", "/docs/index.html"],
    ["GET", "/docs/..%2f..%2fdeno.json"],
    ["GET", "/docs/%2e%2e/%2e%2e/deno.json"],
    ["GET", "/docsx"],
    ["POST", "/docs"],
    ["DELETE", "/docs/swagger-ui.css"],
  ];
  for (const [method, path] of refused) {
    const response = await fetch(`${functionsUrl}${path}`, { method });
    assert.equal(response.status, 404, `${method} ${path}`);
    const body = await response.json();
    assert.equal(body.error.code, "not_found", `${method} ${path}`);
    assert.equal(typeof body.error.requestId, "string");
  }
});
