/**
 * The plainest static host: the files of one folder by path, nothing else (no headers of
 * ours, no rewriting), to show that a built folder works from any static host.
 */
export function serveFolder(folder: string, port = 0) {
  const types: Record<string, string> = {
    html: "text/html; charset=utf-8",
    js: "text/javascript",
    css: "text/css",
    json: "application/json",
    png: "image/png",
  };
  return Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (request) => {
    const path = new URL(request.url).pathname;
    const name = path.endsWith("/") ? `${path.slice(1)}index.html` : path.slice(1);
    if (!/^([a-z0-9_-]+\/)*[a-z0-9._-]+$/i.test(name) || name.includes("..")) {
      return new Response("not found", { status: 404 });
    }
    try {
      const body = await Deno.readFile(`${folder}/${name}`);
      return new Response(body, {
        headers: { "content-type": types[name.split(".").pop()!] ?? "application/octet-stream" },
      });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}
