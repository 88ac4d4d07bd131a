import assert from "node:assert/strict";
import postgres from "postgres";
import { loadConfig } from "../../functions/_shared/config/config.ts";
import { createDatabase } from "../../functions/_shared/db/database.ts";
import { needsDenoTls } from "../../functions/_shared/db/deno_tls.ts";
import { findPostgresBinaries, startEphemeralCluster } from "../support/database.ts";

/**
 * TLS to the database against a PostgreSQL with ssl=on and a CA made here: verified with the
 * CA from LATCHKEY_DB_CA_CERT (host name included), refused without it or with another CA,
 * encrypted without verification for sslmode=require. On Deno 2.1 the connection is our own
 * (deno_tls.ts), and sslmode=require verifies: Deno 2.1 cannot encrypt without verifying.
 */

const binDirectory = await findPostgresBinaries();
const deno21 = needsDenoTls;
// Refusals for the certificate's sake, not any failure: Deno's own TLS words them as rustls does
// (2.1), node:tls as OpenSSL does (2.9).
const unknownIssuer = /UnknownIssuer|unable to verify the first certificate/;

async function openssl(...args: string[]) {
  const output = await new Deno.Command("openssl", { args, stderr: "piped", stdout: "piped" })
    .output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
}

/** A CA, and a server certificate it signs for `localhost` only. */
async function makeCertificates(directory: string) {
  for (const ca of ["ca", "other-ca"]) {
    await openssl(
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      `/CN=Latchkey test ${ca}`,
      "-keyout",
      `${directory}/${ca}.key`,
      "-out",
      `${directory}/${ca}.crt`,
    );
  }
  await openssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-keyout",
    `${directory}/server.key`,
    "-out",
    `${directory}/server.csr`,
  );
  await Deno.writeTextFile(`${directory}/san.ext`, "subjectAltName=DNS:localhost\n");
  await openssl(
    "x509",
    "-req",
    "-in",
    `${directory}/server.csr`,
    "-CA",
    `${directory}/ca.crt`,
    "-CAkey",
    `${directory}/ca.key`,
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    `${directory}/san.ext`,
    "-out",
    `${directory}/server.crt`,
  );
  // PostgreSQL refuses a key others can read; as root the server runs as `postgres`.
  await Deno.chmod(`${directory}/server.key`, 0o600);
  if (Deno.uid() === 0) {
    await new Deno.Command("chown", { args: ["-R", "postgres", directory] }).output();
    await Deno.chmod(directory, 0o755);
  }
}

async function sslInUse(url: string, caCert?: string): Promise<boolean> {
  const config = loadConfig({
    LATCHKEY_DB_URL: url,
    LATCHKEY_DB_CONNECT_TIMEOUT_SECONDS: "2",
    ...(caCert ? { LATCHKEY_DB_CA_CERT: caCert } : {}),
  });
  const sql = createDatabase(config, { maxConnections: 1 });
  try {
    const [row] = await sql<{ ssl: boolean }[]>`
      select ssl from pg_stat_ssl where pid = pg_backend_pid()`;
    return row.ssl;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

Deno.test({
  name: "TLS to the database: verified with the configured CA, refused otherwise",
  ignore: !binDirectory,
  async fn() {
    const directory = await Deno.makeTempDir({ prefix: "latchkey-tls-" });
    const cluster = await startEphemeralCluster(binDirectory!);
    try {
      await makeCertificates(directory);
      // `alter system` takes a superuser, which `url` may not connect as.
      const admin = postgres(cluster.superuserUrl ?? cluster.url, { max: 1, onnotice: () => {} });
      await admin.unsafe(`alter system set ssl_cert_file = '${directory}/server.crt'`);
      await admin.unsafe(`alter system set ssl_key_file = '${directory}/server.key'`);
      await admin.unsafe("alter system set ssl = on");
      await admin`select pg_reload_conf()`;
      await new Promise((resolve) => setTimeout(resolve, 500));
      await admin.end();

      const ca = await Deno.readTextFile(`${directory}/ca.crt`);
      const otherCa = await Deno.readTextFile(`${directory}/other-ca.crt`);
      const byName = new URL(cluster.url);
      byName.hostname = "localhost";
      const at = (host: URL, mode: string) => {
        const url = new URL(host);
        url.searchParams.set("sslmode", mode);
        return url.toString();
      };

      assert.equal(await sslInUse(at(byName, "verify-full"), ca), true, "verified with our CA");
      assert.equal(await sslInUse(byName.toString(), ca), true, "a configured CA means TLS");
      assert.equal(await sslInUse(at(byName, "require"), ca), true, "require with our CA");
      if (deno21) {
        await assert.rejects(
          () => sslInUse(at(byName, "require")),
          /Deno 2\.1 cannot encrypt without verifying/,
          "Deno 2.1: require verifies, and says why it refuses a certificate it cannot verify",
        );
      } else {
        assert.equal(await sslInUse(at(byName, "require")), true, "require encrypts");
      }
      assert.equal(await sslInUse(byName.toString()), false, "no sslmode, no CA: plain");
      await assert.rejects(
        () => sslInUse(at(byName, "verify-full")),
        unknownIssuer,
        "verify-full refuses a certificate from an unknown CA",
      );
      await assert.rejects(
        () => sslInUse(at(byName, "require"), otherCa),
        unknownIssuer,
        "with a CA configured, another CA's certificate is refused even for require",
      );
      await assert.rejects(
        () => sslInUse(at(new URL(cluster.url), "verify-full"), ca),
        /NotValidForName|does not match certificate's altnames/,
        "the host name is verified: 127.0.0.1 is not in a certificate for localhost",
      );
      if (deno21) {
        // Why deno_tls.ts exists: postgres.js' own upgrade (node:tls over its node:net socket)
        // still never completes on this Deno. When this fails, Deno fixed it; drop our socket.
        const own = postgres(at(byName, "verify-full"), {
          max: 1,
          ssl: { ca },
          connect_timeout: 1,
          onnotice: () => {},
        });
        await assert.rejects(() => own`select 1`, { code: "CONNECT_TIMEOUT" });
        await own.end({ timeout: 1 });
      }
    } finally {
      await cluster.stop();
      await Deno.remove(directory, { recursive: true });
    }
  },
});
