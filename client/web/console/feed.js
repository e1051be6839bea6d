/**
 * One channel's verified event stream, as the console uses it: the SDK's subscription,
 * from the log's first event, its last verified checkpoint kept in localStorage.
 *
 * The console holds no copy of the notices between visits: each time it opens a channel it
 * reads the log from event 1 and folds it again, so what it shows is never older or other
 * than what the signed log says. What it keeps is the checkpoint, so that a server that
 * rewrote the history between two visits is caught (a split view) rather than believed.
 * @module
 */

import { LogTampered, MemoryStore, SplitView } from "../sdk/hotline.js";

/**
 * @typedef {import("../sdk/hotline.js").Subscription} Subscription
 * @typedef {"connecting" | "live" | "reconnecting" | "stopped" | "offline"} FeedState
 */

/**
 * @typedef {object} FeedHandlers
 * @property {(event: unknown) => void} onEvent a verified event, in log order, once
 * @property {(online: unknown) => void} onPresence who is online, by party
 * @property {(state: FeedState, detail: string, head: number | null) => void} onStatus the
 *   connection's state; with "live", the log's head when the subscription began
 * @property {(error: Error) => void} onTampered verification failed: stop everything
 * @property {(error: Error) => void} onEnded the stream ended for another reason (a token
 *   revoked, a channel gone)
 */

/**
 * A live, verified subscription to one channel, which can be paused while the browser is
 * offline and resumed after the last event taken.
 *
 * Pausing is the console's own doing: a browser that loses its network says so at once
 * (the `offline` event), while a socket over a dead network may look open for minutes.
 */
export class Feed {
  /**
   * @param {import("../sdk/hotline.js").HotlineClient} client
   * @param {string} channel
   * @param {FeedHandlers} handlers
   */
  constructor(client, channel, handlers) {
    this.client = client;
    this.channel = channel;
    this.handlers = handlers;
    this.ended = false;
    /** @type {import("../sdk/hotline.js").Subscription | null} null while paused */
    this.subscription = null;
    this.generation = 0;
    this.#open(0);
  }

  /**
   * Subscribe after `after`; only the current subscription's reports are passed on.
   * @param {number} after
   */
  #open(after) {
    const handlers = this.handlers;
    // The SDK reports "connecting" before `subscribe` returns: tell the reports of this
    // subscription from a paused one's by a number, not by the object not made yet.
    const generation = ++this.generation;
    const current = () => this.generation === generation && !this.ended;
    this.subscription = this.client.subscribe(this.channel, {
      after,
      store: checkpointStore(),
      onEvent: (event) => {
        if (current()) handlers.onEvent(event);
      },
      onPresence: (message) => {
        if (current()) handlers.onPresence(message.online);
      },
      onStatus: (state, info) => {
        if (current()) handlers.onStatus(state, describe(info), info.head ?? null);
      },
    });
    this.subscription.closed.then(
      () => {},
      (/** @type {unknown} */ error) => {
        if (!current()) return; // closed by us: whatever it says is moot
        this.ended = true;
        const failure = error instanceof Error ? error : new Error(String(error));
        if (failure instanceof LogTampered || failure instanceof SplitView)
          handlers.onTampered(failure);
        else handlers.onEnded(failure);
      },
    );
  }

  /** Drop the connection until `resume`: the browser says it is offline. */
  pause() {
    const paused = this.subscription;
    this.subscription = null;
    this.generation += 1;
    paused?.close();
  }

  /**
   * Connect again, asking for the events after the last one taken.
   * @param {number} after
   */
  resume(after) {
    if (!this.ended && this.subscription === null) this.#open(after);
  }

  /** Stop listening; nothing more is reported. */
  close() {
    this.ended = true;
    this.subscription?.close();
  }
}

/**
 * Where the SDK keeps the last verified checkpoint: localStorage, which outlives the tab,
 * or memory where a browser refuses storage (then each visit trusts on first use again).
 * @returns {{getItem(key: string): string | null, setItem(key: string, value: string): void}}
 */
function checkpointStore() {
  try {
    const probe = "hotline.probe";
    localStorage.setItem(probe, "1");
    localStorage.removeItem(probe);
    return localStorage;
  } catch {
    return new MemoryStore();
  }
}

/**
 * A status's detail in words, whatever shape the SDK gave it.
 * @param {unknown} info
 * @returns {string}
 */
function describe(info) {
  if (info instanceof Error) return info.message;
  if (typeof info === "string") return info;
  if (typeof info === "object" && info !== null) {
    const { reason, error, delay } = /** @type {Record<string, unknown>} */ (info);
    if (error instanceof Error) return error.message;
    const parts = [];
    if (typeof delay === "number")
      parts.push(`next try in ${Math.max(1, Math.round(delay / 1000))} s`);
    if (typeof reason === "string" && reason) parts.push(reason);
    return parts.join(": ");
  }
  return "";
}
