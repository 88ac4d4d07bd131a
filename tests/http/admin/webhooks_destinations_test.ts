import assert from "node:assert/strict";
import { withDatabase } from "../../support/http.ts";
import {
  admin,
  startReceiver,
  untilDeliveries,
  verifyMessage,
  withWebhookFunctions,
} from "../../support/webhooks.ts";

/**
 * Safe destinations: a host whose addresses include a loopback, private, link-local, CGNAT,
 * metadata or unspecified one is refused at registration (400 naming `url`) and again at each
 * delivery, on a fresh lookup; the delivery connects to the address it checked (the stub
 * resolver below is the only one that knows these names), follows no redirect, and reads only
 * the start of an answer. The resolver flips between 127.0.0.1 (the one address the test
 * configuration allows) and refused ones; nothing leaves this machine.
 */

Deno.test("refused at registration: every kind of address webhooks may not reach", () =>
  withWebhookFunctions(async (functions, resolver) => {
    const refusals: [string, string[] | null, RegExp][] = [
      ["http://private.hooks.test/", ["10.1.2.3"], /10\.1\.2\.3 \(private\)/],
      ["http://cgnat.hooks.test/", ["100.64.0.9"], /CGNAT/],
      ["http://meta.hooks.test/", ["169.254.169.254"], /metadata/],
      ["http://linklocal.hooks.test/", ["169.254.10.1"], /link-local/],
      ["http://mixed.hooks.test/", ["127.0.0.1", "192.168.1.1"], /192\.168\.1\.1/],
      ["http://v6.hooks.test/", ["fd00:ec2::254"], /metadata/],
      ["http://mapped.hooks.test/", ["::ffff:10.0.0.1"], /private/],
      ["http://nothing.hooks.test/", [], /does not resolve/],
      ["http://127.0.0.2/", null, /loopback/],
      ["http://[::1]:8080/", null, /loopback/],
      ["http://0.0.0.0/", null, /unspecified/],
      ["http://[fe80::1]/", null, /link-local/],
      ["http://app.localhost:8080/", null, /::1 \(loopback\)/],
      ["http://localhost:8080/", null, /fully qualified/],
      ["http://intranet/", null, /fully qualified/],
      ["ftp://files.hooks.test/", null, /https:\/\//],
      ["https://user:pw@ok.hooks.test/", null, /user name or password/],
    ];
    for (const [url, addresses, reason] of refusals) {
      if (addresses) resolver.answers.set(new URL(url).hostname, addresses);
      const refused = await functions.call("POST", "/admin/webhooks", admin, {
        url,
        events: ["*"],
      });
      assert.equal(refused.status, 400, url);
      const detail = refused.body.error.details.find((d: { path: string }) => d.path === "url");
      assert.match(detail?.message ?? "", reason, url);
    }
    // localhost names never reach the resolver; the others did.
    assert.ok(!resolver.lookups.some((name) => name.endsWith("localhost")));
    assert.ok(resolver.lookups.includes("private.hooks.test"));
    const refusedUrls = refusals.map(([url]) => url);
    const [{ count }] = await withDatabase((sql) =>
      sql<{ count: number }[]>`
        select count(*)::int as count from latchkey.webhook_endpoints
        where url = any(${refusedUrls})`
    );
    assert.equal(count, 0);
  }));

Deno.test("a name that turns private after registration is refused at delivery, each time", () => {
  const receiver = startReceiver();
  return withWebhookFunctions(async (functions, resolver) => {
    const host = "flip.hooks.test";
    resolver.answers.set(host, ["127.0.0.1"]);
    const created = await functions.call("POST", "/admin/webhooks", admin, {
      url: `http://${host}:${receiver.port}/in`,
      events: ["webhook.updated"],
    });
    assert.equal(created.status, 201);
    const id = created.body.id;

    // Rebound to the metadata service: the delivery is refused, nothing is connected to.
    resolver.answers.set(host, ["169.254.169.254"]);
    const lookupsBefore = resolver.lookups.length;
    await functions.call("PATCH", `/admin/webhooks/${id}`, admin, { description: "one" });
    const [refused] = await untilDeliveries(id, (rows) => rows[0]?.last_error != null);
    assert.match(refused.last_error!, /169\.254\.169\.254 \(the cloud metadata service\)/);
    assert.equal(refused.last_status, null);
    assert.equal(refused.delivered_at, null);
    assert.equal(receiver.messages.length, 0);
    assert.equal(resolver.lookups.length - lookupsBefore, 1, "one lookup per delivery");

    // Rebound to a private address: refused again.
    resolver.answers.set(host, ["10.0.0.7"]);
    await withDatabase((sql) =>
      sql`update latchkey.webhook_deliveries set next_attempt_at = now()
          where endpoint_id = ${id}`
    );
    await functions.call("GET", "/admin/webhooks", admin);
    const [again] = await untilDeliveries(id, (rows) => rows[0]?.attempts === 2);
    assert.match(again.last_error!, /10\.0\.0\.7 \(private\)/);
    assert.equal(receiver.messages.length, 0);

    // Back to the allowed address: the same message arrives, connected to what was checked
    // (no other resolver knows flip.hooks.test), with the name as Host.
    resolver.answers.set(host, ["127.0.0.1"]);
    const retried = await functions.call(
      "POST",
      `/admin/webhooks/deliveries/${refused.id}/retry`,
      admin,
    );
    assert.equal(retried.status, 202);
    const message = await receiver.waitFor((m) => m.id === refused.id);
    assert.equal(message.host, `${host}:${receiver.port}`);
    verifyMessage(created.body.secret, message);
  }).finally(() => receiver.close());
});

Deno.test("no redirect is followed; an endless answer is read only up to its start", () => {
  const elsewhere = startReceiver();
  const redirecting = startReceiver(() =>
    new Response(null, {
      status: 307,
      headers: { location: `http://127.0.0.1:${elsewhere.port}/stolen` },
    })
  );
  const endless = startReceiver(() => {
    const chunk = new TextEncoder().encode("y".repeat(1024));
    return new Response(
      new ReadableStream({
        async pull(controller) {
          await new Promise((resolve) => setTimeout(resolve, 5));
          controller.enqueue(chunk);
        },
      }),
      { status: 200 },
    );
  });
  return withWebhookFunctions(async (functions, resolver) => {
    resolver.answers.set("redirect.hooks.test", ["127.0.0.1"]);
    resolver.answers.set("endless.hooks.test", ["127.0.0.1"]);
    const redirect = await functions.call("POST", "/admin/webhooks", admin, {
      url: `http://redirect.hooks.test:${redirecting.port}/`,
      events: ["webhook.updated"],
    });
    const stream = await functions.call("POST", "/admin/webhooks", admin, {
      url: `http://endless.hooks.test:${endless.port}/`,
      events: ["webhook.updated"],
    });
    await functions.call("PATCH", `/admin/webhooks/${redirect.body.id}`, admin, {
      description: "go",
    });
    const [redirected] = await untilDeliveries(
      redirect.body.id,
      (rows) => rows[0]?.last_status != null,
    );
    assert.equal(redirected.last_status, 307);
    assert.equal(redirected.delivered_at, null, "a 3xx is not a delivery");
    const [streamed] = await untilDeliveries(
      stream.body.id,
      (rows) => rows[0]?.delivered_at != null,
    );
    assert.equal(streamed.last_status, 200);
    assert.ok(streamed.last_error!.length <= 300 && /^y+$/.test(streamed.last_error!));
    assert.ok(streamed.last_latency_ms! < 3000, `${streamed.last_latency_ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(elsewhere.messages.length, 0, "the redirect's target never heard of it");
  }).finally(async () => {
    await redirecting.close();
    await endless.close();
    await elsewhere.close();
  });
});

async function openssl(...args: string[]) {
  const output = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" })
    .output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
}

/** A CA made now, and a certificate it signs for each name (rustls takes no self-signed leaf). */
async function certificatesFor(
  names: string[],
): Promise<{ ca: string; leaves: { cert: string; key: string }[] }> {
  const dir = await Deno.makeTempDir();
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  try {
    await openssl(
      "req",
      "-x509",
      ...ec,
      "-days",
      "1",
      "-subj",
      "/CN=Webhook test CA",
      "-keyout",
      `${dir}/ca.key`,
      "-out",
      `${dir}/ca.pem`,
    );
    const leaves = [];
    for (const [i, name] of names.entries()) {
      await openssl(
        "req",
        ...ec,
        "-subj",
        `/CN=${name}`,
        "-keyout",
        `${dir}/${i}.key`,
        "-out",
        `${dir}/${i}.csr`,
      );
      await Deno.writeTextFile(`${dir}/${i}.ext`, `subjectAltName=DNS:${name}\n`);
      await openssl(
        "x509",
        "-req",
        "-in",
        `${dir}/${i}.csr`,
        "-CA",
        `${dir}/ca.pem`,
        "-CAkey",
        `${dir}/ca.key`,
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        `${dir}/${i}.ext`,
        "-out",
        `${dir}/${i}.pem`,
      );
      leaves.push({
        cert: await Deno.readTextFile(`${dir}/${i}.pem`),
        key: await Deno.readTextFile(`${dir}/${i}.key`),
      });
    }
    return { ca: await Deno.readTextFile(`${dir}/ca.pem`), leaves };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "https to the checked address: SNI and the certificate are the URL's name",
  ignore: new Deno.Command("sh", { args: ["-c", "command -v openssl"] }).outputSync().code !== 0,
  fn: async () => {
    const { ca, leaves: [good, other] } = await certificatesFor([
      "secure.hooks.test",
      "someone-else.hooks.test",
    ]);
    const secure = startReceiver(undefined, good);
    const impostor = startReceiver(undefined, other);
    try {
      await withWebhookFunctions(
        async (functions, resolver) => {
          resolver.answers.set("secure.hooks.test", ["127.0.0.1"]);
          const trusted = await functions.call("POST", "/admin/webhooks", admin, {
            url: `https://secure.hooks.test:${secure.port}/in`,
            events: ["webhook.updated"],
          });
          // The impostor's certificate chains to the same trusted CA, but names another host.
          const wrongName = await functions.call("POST", "/admin/webhooks", admin, {
            url: `https://secure.hooks.test:${impostor.port}/in`,
            events: ["webhook.updated"],
          });
          await functions.call("PATCH", `/admin/webhooks/${trusted.body.id}`, admin, {
            description: "tls",
          });
          assert.equal(trusted.status, 201, JSON.stringify(trusted.body));
          assert.equal(wrongName.status, 201, JSON.stringify(wrongName.body));
          const message = await secure.waitFor(() => true);
          verifyMessage(trusted.body.secret, message);
          assert.equal(message.host, `secure.hooks.test:${secure.port}`);
          const [refused] = await untilDeliveries(
            wrongName.body.id,
            (rows) => rows[0]?.last_error != null,
          );
          assert.equal(refused.delivered_at, null);
          assert.match(refused.last_error!, /certificate|name|invalid|NotValidForName/i);
          assert.equal(impostor.messages.length, 0);
        },
        {},
        { caCerts: [ca] },
      );
    } finally {
      await secure.close();
      await impostor.close();
    }
  },
});
