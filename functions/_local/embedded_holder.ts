/**
 * The embedded database's one holder: PGlite is one PostgreSQL in one process, and a second
 * process over the same files loses writes, so the process that opens them records itself in
 * `<data dir>/embedded-database.json` and serves the database to every other on a URL. Kept
 * apart from embedded_database.ts so that asking who holds the files does not load PGlite.
 */

/** Who has the files open, and the URL it serves them on (empty while it is starting). */
export interface EmbeddedHolder {
  pid: number;
  /** "deno task start", or the task that opened the files because no server had. */
  holder: string;
  url: string;
  since: string;
}

/** Another process has the files open, and is not one we may share them through. */
export class EmbeddedDatabaseBusy extends Error {
  constructor(readonly dataDirectory: string, readonly current: EmbeddedHolder) {
    super(
      `${dataDirectory}/pgdata is open in process ${current.pid} (${current.holder}, since ` +
        `${current.since}); stop that process first (if it is not Latchkey's, delete ` +
        `${holderFile(dataDirectory)})`,
    );
  }
}

export const holderFile = (dataDirectory: string) => `${dataDirectory}/embedded-database.json`;

/** A holder starting up gets this long to serve the database before it counts as gone. */
const startingMs = 60_000;

/**
 * Whether the recorded holder still serves the database: its port answers (a process that died
 * does not), or it is still starting. Asked over the network because reading /proc or signalling
 * a process needs more permissions than the tasks have.
 */
async function isServing(recorded: EmbeddedHolder): Promise<boolean> {
  if (!recorded.url) return Date.now() - Date.parse(recorded.since) < startingMs;
  const { hostname, port } = new URL(recorded.url);
  try {
    const connection = await Deno.connect({ hostname, port: Number(port) });
    connection.close();
    return true;
  } catch {
    return false;
  }
}

/** The process holding the files now, or null (a holder that is gone is forgotten). */
export async function embeddedHolder(dataDirectory: string): Promise<EmbeddedHolder | null> {
  let recorded: EmbeddedHolder;
  try {
    recorded = JSON.parse(Deno.readTextFileSync(holderFile(dataDirectory)));
  } catch {
    return null;
  }
  if (await isServing(recorded)) return recorded;
  try {
    Deno.removeSync(holderFile(dataDirectory));
  } catch (error) {
    // Another process forgot it first.
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return null;
}

/** Records this process as the holder, or throws EmbeddedDatabaseBusy: never two at once. */
export async function takeFiles(dataDirectory: string, holder: string): Promise<EmbeddedHolder> {
  const record = { pid: Deno.pid, holder, url: "", since: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    const current = await embeddedHolder(dataDirectory);
    if (current) throw new EmbeddedDatabaseBusy(dataDirectory, current);
    try {
      // createNew: of two processes starting together, exactly one creates the file.
      Deno.writeTextFileSync(holderFile(dataDirectory), JSON.stringify(record), {
        createNew: true,
      });
      return record;
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
  }
  const current = await embeddedHolder(dataDirectory);
  if (current) throw new EmbeddedDatabaseBusy(dataDirectory, current);
  throw new Error(`could not take ${holderFile(dataDirectory)}`);
}
