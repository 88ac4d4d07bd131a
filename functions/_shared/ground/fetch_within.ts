/**
 * A request that gives up after `ms`, body included; answers the status and the body's text.
 * Not `AbortSignal.timeout`: its timer outlives the request (unref'd), and on Deno 2.1, the
 * edge runtime's line, pending unref'd timers at exit end a test run with "Promise resolution
 * is still pending". This one's timer dies with the request.
 */
export async function fetchTextWithin(
  url: string,
  init: RequestInit,
  ms: number,
): Promise<{ status: number; ok: boolean; text: string }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`no answer within ${ms} ms`)), ms);
  try {
    const response = await fetch(url, { ...init, signal: controller.signal });
    return { status: response.status, ok: response.ok, text: await response.text() };
  } finally {
    clearTimeout(timer);
  }
}
