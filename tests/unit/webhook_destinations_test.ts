import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- test-only, so not in deno.json (docs/testing.md, lockfiles)
import { Webhook } from "npm:standardwebhooks@1.1.1";
import { ConfigError, loadConfig } from "../../functions/_shared/config/config.ts";
import { refusedAddressRange } from "../../functions/_shared/ground/ip_addresses.ts";
import { webhookDestination } from "../../functions/_shared/webhooks/destinations.ts";
import {
  standardWebhookSignature,
  webhookSigningKey,
} from "../../functions/_shared/webhooks/standard_webhooks.ts";
import {
  newWebhookSecret,
  webhookSecretBytes,
} from "../../functions/_shared/webhooks/webhook_secrets.ts";

Deno.test("the ranges webhooks may not reach, and the public ones they may", () => {
  const refused = [
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.1",
    "100.64.0.1",
    "100.127.255.255",
    "127.0.0.1",
    "127.255.255.254",
    "169.254.169.254",
    "169.254.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.0.1",
    "192.0.2.1",
    "198.18.0.1",
    "224.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "fd00:ec2::254",
    "fc00::1",
    "fe80::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a00:1",
    "2002:a9fe:a9fe::1",
    "2001:db8::1",
    "2001::1",
    "1::1",
    "not an address",
    "fe80::1%eth0",
    "010.0.0.1",
  ];
  const allowed = [
    "1.1.1.1",
    "8.8.8.8",
    "100.63.255.255",
    "100.128.0.0",
    "172.32.0.1",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "2a00:1450::1",
  ];
  assert.deepEqual(refused.filter((address) => refusedAddressRange(address) === null), []);
  assert.deepEqual(allowed.filter((address) => refusedAddressRange(address) !== null), []);
  assert.equal(refusedAddressRange("169.254.169.254"), "the cloud metadata service");
  assert.equal(refusedAddressRange("fd00:ec2::254"), "the cloud metadata service");
  assert.equal(refusedAddressRange("100.64.0.1"), "shared address space (CGNAT)");
});

Deno.test("production takes https:// only, and no allowed private address", () => {
  const production = loadConfig({ LATCHKEY_ENV: "production", LATCHKEY_LOG_LEVEL: "silent" });
  const development = loadConfig({ LATCHKEY_LOG_LEVEL: "silent" });
  assert.match(
    (webhookDestination(production, "http://hooks.example.net/") as { problem: string }).problem,
    /https:\/\//,
  );
  assert.ok("destination" in webhookDestination(production, "https://hooks.example.net/"));
  assert.ok("destination" in webhookDestination(development, "http://hooks.example.net/"));
  assert.throws(
    () =>
      loadConfig({
        LATCHKEY_ENV: "production",
        LATCHKEY_WEBHOOK_ALLOW_ADDRESSES: "127.0.0.1",
      }),
    (error) =>
      error instanceof ConfigError && /LATCHKEY_WEBHOOK_ALLOW_ADDRESSES/.test(error.message),
  );
  assert.throws(() => loadConfig({ LATCHKEY_WEBHOOK_ALLOW_ADDRESSES: "localhost" }), ConfigError);
  assert.deepEqual(
    loadConfig({ LATCHKEY_WEBHOOK_ALLOW_ADDRESSES: "127.0.0.1, ::1" })
      .LATCHKEY_WEBHOOK_ALLOW_ADDRESSES,
    ["127.0.0.1", "::1"],
  );
});

Deno.test("our WebCrypto signature is what the standardwebhooks library verifies", async () => {
  const { secret, bytes } = newWebhookSecret();
  assert.deepEqual(webhookSecretBytes(secret), bytes);
  const other = newWebhookSecret();
  const body = JSON.stringify({ type: "auth.sign_in", timestamp: "x", data: { a: "é" } });
  const timestamp = Math.floor(Date.now() / 1000);
  const signature = await standardWebhookSignature(
    await Promise.all([bytes, other.bytes].map(webhookSigningKey)),
    "msg_1",
    timestamp,
    body,
  );
  const headers = {
    "webhook-id": "msg_1",
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signature,
  };
  const library = new Webhook(secret);
  assert.equal(library.sign("msg_1", new Date(timestamp * 1000), body), signature.split(" ")[0]);
  assert.deepEqual(library.verify(body, headers), JSON.parse(body));
  assert.deepEqual(new Webhook(other.secret).verify(body, headers), JSON.parse(body));
  assert.throws(() => new Webhook(newWebhookSecret().secret).verify(body, headers));
});
