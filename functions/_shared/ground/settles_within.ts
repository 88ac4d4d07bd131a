/**
 * Whether `work` settles within `ms`; its timer is cleared either way, so nothing outlives the
 * wait (on Deno 2.1 a pending timer at exit ends a test run with an error).
 */
export async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      work.then(() => true, () => true),
      new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
