import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { settlesWithin } from "../_shared/ground/settles_within.ts";
import { holderFile, takeFiles } from "./embedded_holder.ts";

/**
 * PostgreSQL's shared buffers, taken from PGlite's WASM memory, which never shrinks: buffers once
 * used stay resident. With the default (128MB) the idle server measured 330 MB of RSS, with 16MB
 * 210 MB; a local database of this size is read through the OS page cache anyway.
 */
export const sharedBuffers = "16MB";

export interface EmbeddedDatabase {
  url: string;
  close(): Promise<void>;
}

/**
 * PostgreSQL compiled to WASM, stored under `dataDirectory` and served on a loopback port, so
 * a fresh machine runs Latchkey with nothing but Deno. Only one process opens the files: the
 * others (tasks beside `deno task start`, psql) connect to the URL it records.
 */
export async function startEmbeddedDatabase(
  dataDirectory: string,
  holder: string,
): Promise<EmbeddedDatabase> {
  await Deno.mkdir(dataDirectory, { recursive: true });
  const record = await takeFiles(dataDirectory, holder);
  const release = () => Deno.remove(holderFile(dataDirectory)).catch(() => {});
  try {
    // pg_trgm backs the admin's substring search of users, as it does on Supabase.
    const db = await PGlite.create(`${dataDirectory}/pgdata`, {
      extensions: { pg_trgm },
      startParams: [...PGlite.defaultStartParams, "-c", `shared_buffers=${sharedBuffers}`],
    });
    // PGlite itself runs one query at a time. The socket server queues queries from several
    // connections and keeps a transaction's queries together, so tasks, psql or the test suite
    // can connect beside the server (which itself uses one connection).
    const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 100 });
    await server.start();
    const port = Number(String(server.getServerConn()).split(":").pop());
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    Deno.writeTextFileSync(holderFile(dataDirectory), JSON.stringify({ ...record, url }));
    return {
      url,
      async close() {
        // node:net's close waits for every connection to end, and on Deno 2.1 a connection a
        // task or psql closed is sometimes never reported as ended: the stop waited forever.
        await settlesWithin(server.stop(), 2_000);
        await db.close();
        await release();
      },
    };
  } catch (error) {
    await release();
    throw error;
  }
}
