/**
 * The uses of keys answered from the cache (key_cache.ts), which Latchkey has not seen: counted
 * per key and sent to it in batches (`POST /keys/cached-uses`, the keys themselves as proof that
 * the sender holds them), so each key's last use and usage history stay true. Sent once
 * `flushUses` uses are held or `flushSeconds` after the first of them, on a timer that never
 * keeps a process alive, and when the process is about to exit: Deno's and the edge runtime's
 * `beforeunload`, Node's `beforeExit` (best-effort: tried once, and an isolate killed outright
 * loses what it held). A batch Latchkey could not take (unreachable, 5xx) is kept for the next
 * flush, except at exit; beyond `maxKeys` keys, the uses of new ones are not counted.
 */

export interface KeyUse {
  key: string;
  count: number;
  /** ISO 8601. */
  lastUsedAt: string;
}

/** Sends one batch; true when it is done with (recorded, or refused for good). */
export type SendUses = (uses: KeyUse[]) => Promise<boolean>;

export interface KeyUsesOptions {
  flushSeconds?: number;
  flushUses?: number;
  maxKeys?: number;
}

interface Held {
  hash: string;
  key: string;
  count: number;
  lastUsedAt: number;
}

/** Latchkey takes at most this many keys a report. */
const batchSize = 100;

/** Every buffer of the process, for the flush before it exits. */
const buffers = new Set<KeyUses>();
let exitHookInstalled = false;
/** Set once the process is about to exit: what Latchkey does not take then is dropped. */
let exiting = false;

export class KeyUses {
  #held = new Map<string, Held>();
  #uses = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<void> = Promise.resolve();
  readonly #send: SendUses;
  readonly #flushSeconds: number;
  readonly #flushUses: number;
  readonly #maxKeys: number;

  constructor(send: SendUses, options: KeyUsesOptions = {}) {
    this.#send = send;
    this.#flushSeconds = options.flushSeconds ?? 10;
    this.#flushUses = options.flushUses ?? 1000;
    this.#maxKeys = options.maxKeys ?? 10_000;
    buffers.add(this);
    installExitHook();
  }

  /** One use of the key (by its hash) at `at` (epoch milliseconds). */
  record(hash: string, key: string, at: number): void {
    this.#add({ hash, key, count: 1, lastUsedAt: at });
    if (this.#uses >= this.#flushUses) inBackground(this.flush());
    else this.#flushLater();
  }

  /** Sends what is held now; resolves once sent (or kept for later). Never rejects. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const taken = [...this.#held.values()];
    this.#held = new Map();
    this.#uses = 0;
    // One flush at a time, in order: a batch kept for later is not sent twice at once.
    this.#flushing = this.#flushing.then(() => this.#sendAll(taken));
    return this.#flushing;
  }

  /** Uses held and not yet sent. */
  get held(): number {
    return this.#uses;
  }

  async #sendAll(taken: Held[]): Promise<void> {
    for (let start = 0; start < taken.length; start += batchSize) {
      const batch = taken.slice(start, start + batchSize);
      const uses = batch.map(({ key, count, lastUsedAt }) => ({
        key,
        count,
        lastUsedAt: new Date(lastUsedAt).toISOString(),
      }));
      const done = await this.#send(uses).catch(() => false);
      if (!done) {
        // Kept for a later flush, unless there is none: a Latchkey gone at exit must not keep
        // the process alive retrying.
        if (exiting) return;
        for (const held of taken.slice(start)) this.#keep(held);
        return;
      }
    }
  }

  /** A batch Latchkey did not take, back in with what came meanwhile, sent at the next flush. */
  #keep(held: Held): void {
    this.#add(held);
    this.#flushLater();
  }

  #flushLater(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      inBackground(this.flush());
    }, this.#flushSeconds * 1000);
    unref(this.#timer);
  }

  #add(use: Held): void {
    const held = this.#held.get(use.hash);
    if (held) {
      held.count += use.count;
      held.lastUsedAt = Math.max(held.lastUsedAt, use.lastUsedAt);
    } else if (this.#held.size < this.#maxKeys) {
      this.#held.set(use.hash, { ...use });
    } else {
      return;
    }
    this.#uses += use.count;
  }
}

/** Sends what every buffer of the process holds (before a graceful shutdown, in tests). */
export async function flushAllKeyUses(): Promise<void> {
  await Promise.all([...buffers].map((buffer) => buffer.flush()));
}

interface Host {
  addEventListener?: (type: string, listener: (event: unknown) => void) => void;
  process?: { on?: (event: string, listener: (code: unknown) => void) => void };
  Deno?: { unrefTimer?: (id: number) => void };
  EdgeRuntime?: { waitUntil?: (promise: Promise<unknown>) => void };
}

const host = globalThis as unknown as Host;

/**
 * Feature-detected: the `beforeunload` of Deno and the edge runtime, else Node's `beforeExit`.
 * Both come again once the flush's own work is done, when nothing is held: then it exits.
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const flushBeforeExit = (event?: unknown) => {
    if (![...buffers].some((buffer) => buffer.held > 0)) return;
    exiting = true;
    // Deno 2.9 exits after `beforeunload` unless it is cancelled (2.1: unless work was left),
    // and a promise's callbacks are no work: the flush runs from a timer of its own.
    (event as { preventDefault?: () => void } | undefined)?.preventDefault?.();
    setTimeout(() => inBackground(flushAllKeyUses()), 0);
  };
  if (typeof host.addEventListener === "function") {
    host.addEventListener("beforeunload", flushBeforeExit);
  } else {
    host.process?.on?.("beforeExit", flushBeforeExit);
  }
}

/** A timer that does not keep the process alive: Node's `unref`, Deno's `unrefTimer`. */
function unref(timer: ReturnType<typeof setTimeout>): void {
  if (typeof timer === "object" && timer !== null && "unref" in timer) {
    (timer as { unref(): void }).unref();
  } else if (typeof timer === "number") {
    host.Deno?.unrefTimer?.(timer);
  }
}

/** Work after the answer: the edge runtime keeps the isolate for it when told. */
function inBackground(work: Promise<void>): void {
  host.EdgeRuntime?.waitUntil?.(work);
}
