import { createRemoteJWKSet, type JWTPayload, jwtVerify } from "jose";
import postgres from "postgres";
import { withDatabase } from "./http.ts";

/**
 * Supabase's Data API as a team's code meets it, over real HTTP: what PostgREST does with a
 * token (verified against the issuer's JWKS; connected as `authenticator`, `set local role` to
 * its `role` claim, its claims in `request.jwt.claims`) so the team's RLS policies on
 * `auth.uid()` and `auth.jwt()` decide, as on a hosted project. Only on our hosted-like clusters,
 * where those exist (LATCHKEY_TEST_SUPERUSER_URL is set).
 */

/** A connection as PostgREST's: the `authenticator` role of the test database. */
export function authenticatorDatabase(max = 1): postgres.Sql {
  const url = new URL(Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!);
  url.username = "authenticator";
  return postgres(url.toString(), { max, prepare: false, onnotice: () => {} });
}

/** What PostgREST does with a verified token: its role claim as the role, its claims as GUC. */
export async function asDataApi<T>(
  claims: JWTPayload,
  work: (tx: postgres.TransactionSql) => Promise<T>,
  sql?: postgres.Sql,
): Promise<T> {
  const connection = sql ?? authenticatorDatabase();
  try {
    return await connection.begin(async (tx) => {
      await tx.unsafe(`set local role "${String(claims.role).replaceAll('"', '""')}"`);
      await tx`select set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`;
      return await work(tx);
    }) as T;
  } finally {
    if (!sql) await connection.end();
  }
}

/** A team's table, as a team would guard it: owners read theirs; writes need a session or scope. */
export async function createFixtureTable() {
  await withDatabase((sql) =>
    sql.unsafe(`
      drop table if exists public.latchkey_fixture_notes;
      create table public.latchkey_fixture_notes (
        id bigint generated always as identity primary key,
        owner_id uuid not null default auth.uid(),
        body text not null
      );
      alter table public.latchkey_fixture_notes enable row level security;
      grant select, insert on public.latchkey_fixture_notes to authenticated;
      create policy "Owners read their notes" on public.latchkey_fixture_notes
        for select to authenticated using (owner_id = (select auth.uid()));
      create policy "Sessions, and keys with notes:write, add notes"
        on public.latchkey_fixture_notes for insert to authenticated
        with check (
          owner_id = (select auth.uid())
          and ((select auth.jwt()) ->> 'key_id' is null
            or coalesce((select auth.jwt()) -> 'scopes', '[]'::jsonb) ? 'notes:write')
        );`)
  );
}

export async function insertNotesAsOwner(ownerId: string, ...bodies: string[]) {
  await withDatabase((sql) =>
    sql`insert into public.latchkey_fixture_notes ${
      sql(bodies.map((body) => ({ owner_id: ownerId, body })))
    }`
  );
}

export const visibleNotes = (claims: JWTPayload) =>
  asDataApi(claims, async (tx) =>
    (await tx<{ body: string }[]>`
      select body from public.latchkey_fixture_notes order by body`).map((row) => row.body));

export const addNote = (claims: JWTPayload, body: string) =>
  asDataApi(claims, (tx) => tx`insert into public.latchkey_fixture_notes (body) values (${body})`);

/** The notes table of functions/example-notes, with its policies (re-runnable). */
export async function createNotesTable(): Promise<void> {
  const fixture = await Deno.readTextFile(new URL("./example_notes.sql", import.meta.url));
  await withDatabase((sql) => sql.unsafe(fixture));
}

const identifier = /^[a-z_][a-z0-9_]*$/;

/** PostgREST's answer to a refusal: its JSON and the status it maps the SQLSTATE to. */
function postgrestError(error: { code?: string; message?: string }, anonymous: boolean) {
  const code = error.code ?? "";
  const status = code === "42501"
    ? (anonymous ? 401 : 403)
    : code === "42P01"
    ? 404
    : code.startsWith("23")
    ? 409
    : code.startsWith("22")
    ? 400
    : 500;
  return Response.json(
    { code, message: error.message ?? "", details: null, hint: null },
    { status },
  );
}

class BadRequest extends Error {}

function columnsOf(select: string | null): string {
  if (select === null || select === "*") return "*";
  const columns = select.split(",");
  if (!columns.every((column) => identifier.test(column))) {
    throw new BadRequest(`select=${select}: only plain columns here`);
  }
  return columns.map((column) => `"${column}"`).join(", ");
}

/**
 * The few PostgREST requests supabase-js makes in these tests, answered as PostgREST would:
 * `GET` with `select=` columns, `order=col.asc|desc` and `col=eq.value` filters; `POST` of one
 * row or several, with `Prefer: return=representation` and a single object when asked
 * (`application/vnd.pgrst.object+json`). Anything else is refused with 400, never guessed.
 */
async function restRequest(
  request: Request,
  table: string,
  claims: JWTPayload,
  sql: postgres.Sql,
): Promise<Response> {
  const url = new URL(request.url);
  if (!identifier.test(table)) throw new BadRequest(`table ${table}`);
  const params = [...url.searchParams].filter(([name]) =>
    !["select", "order", "columns"].includes(name)
  );
  const select = columnsOf(url.searchParams.get("select"));
  const single = (request.headers.get("accept") ?? "").includes("vnd.pgrst.object+json");
  let rows: Record<string, unknown>[];
  if (request.method === "GET") {
    const values: string[] = [];
    const where = params.map(([column, filter]) => {
      if (!identifier.test(column) || !filter.startsWith("eq.")) {
        throw new BadRequest(`${column}=${filter}: only eq filters here`);
      }
      values.push(filter.slice(3));
      return `"${column}"::text = $${values.length}`;
    });
    const order = url.searchParams.get("order");
    const orderBy = order
      ? order.split(",").map((term) => {
        const [column, direction = "asc"] = term.split(".");
        if (!identifier.test(column) || !["asc", "desc"].includes(direction)) {
          throw new BadRequest(`order=${order}`);
        }
        return `"${column}" ${direction}`;
      }).join(", ")
      : "";
    rows = await asDataApi(claims, (tx) =>
      tx.unsafe(
        `select ${select} from public."${table}"${
          where.length ? ` where ${where.join(" and ")}` : ""
        }${orderBy ? ` order by ${orderBy}` : ""}`,
        values,
      ), sql);
  } else if (request.method === "POST") {
    if (params.length) throw new BadRequest("no filters on an insert");
    const body = await request.json();
    const records: Record<string, unknown>[] = Array.isArray(body) ? body : [body];
    const columns = [...new Set(records.flatMap((record) => Object.keys(record)))];
    if (!records.length || !columns.every((column) => identifier.test(column))) {
      throw new BadRequest("rows of plain columns");
    }
    const values = records.flatMap((record) => columns.map((column) => record[column] ?? null));
    const tuples = records.map((_, row) =>
      `(${columns.map((_, column) => `$${row * columns.length + column + 1}`).join(", ")})`
    );
    const representation = (request.headers.get("prefer") ?? "").includes("return=representation");
    rows = await asDataApi(claims, (tx) =>
      tx.unsafe(
        `insert into public."${table}" (${
          columns.map((column) => `"${column}"`).join(", ")
        }) values ${tuples.join(", ")}${representation ? ` returning ${select}` : ""}`,
        values as string[],
      ), sql);
    if (!representation) return new Response(null, { status: 201 });
  } else {
    throw new BadRequest(`method ${request.method}`);
  }
  if (!single) {
    return Response.json([...rows], { status: request.method === "POST" ? 201 : 200 });
  }
  if (rows.length !== 1) {
    return Response.json({
      code: "PGRST116",
      message: "JSON object requested, multiple (or no) rows returned",
    }, { status: 406 });
  }
  return Response.json(rows[0], { status: request.method === "POST" ? 201 : 200 });
}

export interface DataApiProject {
  /** The project's URL: `/rest/v1` here, `/functions/v1` and `/auth/v1` passed on. */
  url: string;
  /** Where `/functions/v1/...` (the gateway) or `/auth/v1/...` (Supabase Auth) goes. */
  passOn(prefix: "/functions/v1/" | "/auth/v1/", origin: string): void;
  /** The `POST /functions/v1/auth/token` calls that passed through, by credential. */
  mints(credential: string): number;
  close(): Promise<void>;
}

/**
 * A Supabase project's API on one origin, as Supabase's API gateway serves it: `/rest/v1/` is
 * the Data API above, taking the tokens whose issuer publishes its keys at one of `jwksUrls`
 * (a function of the project's URL, which is known once this listens) or signed with its legacy
 * `secret`; `/functions/v1/` goes to
 * the functions (the Latchkey gateway; its mints counted), as a team's function reaches Latchkey
 * on a hosted project (`SUPABASE_URL/functions/v1`), and `/auth/v1/` to Supabase Auth.
 */
export function serveDataApiProject(
  jwksUrls: (projectUrl: string) => string[],
  /** A project's legacy HS256 JWT secret, which it verifies tokens with too. */
  secret?: string,
): DataApiProject {
  const sql = authenticatorDatabase(4);
  const origins = new Map<string, string>();
  const minted = new Map<string, number>();
  let keySets: (ReturnType<typeof createRemoteJWKSet> | Uint8Array)[] = [];

  async function claimsOf(request: Request): Promise<JWTPayload | null> {
    const bearer = /^Bearer (\S+)$/i.exec(request.headers.get("authorization") ?? "")?.[1];
    if (!bearer) return { role: "anon" };
    for (const keys of keySets) {
      try {
        return (keys instanceof Uint8Array
          ? await jwtVerify(bearer, keys, { algorithms: ["HS256"] })
          : await jwtVerify(bearer, keys)).payload;
      } catch {
        // The next issuer's keys.
      }
    }
    return null;
  }

  async function passOn(request: Request, path: string, origin: string): Promise<Response> {
    if (request.method === "POST" && path === "/functions/v1/auth/token") {
      const credential = request.headers.get("x-api-key") ??
        request.headers.get("authorization")?.replace(/^Bearer /i, "") ?? "";
      minted.set(credential, (minted.get(credential) ?? 0) + 1);
    }
    const headers = new Headers(request.headers);
    headers.delete("host");
    const url = new URL(request.url);
    return await fetch(`${origin}${path}${url.search}`, {
      method: request.method,
      headers,
      body: ["GET", "HEAD"].includes(request.method) ? undefined : await request.arrayBuffer(),
      redirect: "manual",
    });
  }

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = new URL(request.url).pathname;
    for (const [prefix, origin] of origins) {
      if (path.startsWith(prefix)) return await passOn(request, path, origin);
    }
    const table = /^\/rest\/v1\/([^/]+)$/.exec(path)?.[1];
    if (!table) return new Response("not found", { status: 404 });
    const claims = await claimsOf(request);
    if (!claims) {
      return Response.json({ code: "PGRST301", message: "JWT could not be verified" }, {
        status: 401,
      });
    }
    try {
      return await restRequest(request, table, claims, sql);
    } catch (error) {
      if (error instanceof BadRequest) {
        return Response.json({ code: "PGRST100", message: error.message }, { status: 400 });
      }
      if (error instanceof postgres.PostgresError) {
        return postgrestError(error, claims.role === "anon");
      }
      throw error;
    }
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  keySets = [
    ...jwksUrls(url).map((jwks) => createRemoteJWKSet(new URL(jwks))),
    ...(secret ? [new TextEncoder().encode(secret)] : []),
  ];
  return {
    url,
    passOn(prefix, origin) {
      origins.set(prefix, origin);
    },
    mints: (credential) => minted.get(credential) ?? 0,
    async close() {
      await server.shutdown();
      await sql.end();
    },
  };
}
