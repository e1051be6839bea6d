/**
 * Live events: one WebSocket that heals itself, resumes, drops duplicates, confirms receipts
 * and verifies: the browser's counterpart of `client/live.py`, with its rules.
 *
 * - It reconnects by itself after jittered exponential back-off (`backoff.js`), and resumes
 *   from the last sequence number it received, so that events arrive once each, in order,
 *   with nothing missed (guarantees 3 and 4 in DESIGN.md). Every close is retried but 4401
 *   (the token is unknown or revoked), which is final.
 * - With `verify` (the default), an event reaches `onEvent` only once a signed checkpoint that
 *   covers it has been verified (`audit.js`), and each checkpoint is checked against the one
 *   before. A log that does not match stops the subscription for good with `LogTampered` or
 *   `SplitView`.
 * - It confirms receipt of each notice the other party sent, once caught up with the log.
 * - Asked to (`answerChecks`), it answers each liveness check the server asks of its own
 *   party, once caught up, as `hotline listen --answer-checks` does.
 * - A receipt or an answer is owed until the server takes it or an event settles it, and is
 *   never sent twice at once. Sent again: after a reconnection, if no answer came back on
 *   the socket that carried it; with the channel's next event, if the server was too busy to
 *   take it (429 `too-many-commands`). Any other refusal drops it (`client/duties.py`).
 * - What it has handled and verified is kept in the `store` the caller gives, so that a later
 *   subscription holds the server to what this one saw.
 * - A message it cannot read, or of a type it does not know, is passed over whole; a message
 *   over 1 MiB ends the connection unread, which then resumes.
 * @module
 */

import { ChannelAuditor } from "./audit.js";
import { Backoff, sleep } from "./backoff.js";
import { noticeId } from "./drafts.js";
import { ConnectionClosed, HotlineError, ProblemError, Unreachable } from "./errors.js";
import { parseServerMessage } from "./messages.js";
import { loadResume, resumeKey, saveResume } from "./resume.js";
import { Socket, SocketClosed, SocketTimeout } from "./socket.js";

/** Close codes after which reconnecting cannot help; every other close is retried. */
const FINAL_CLOSE_CODES = new Set([4401]);
/** After these a receipt is moot: the notice was received, decided or withdrawn. */
const SETTLING = new Set([
  "notice.received",
  "notice.acknowledged",
  "notice.objected",
  "notice.cancelled",
]);
const CHANNEL_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** The server's "too busy" (`too-many-commands`): what it refused is sent again, later. */
const TOO_BUSY = 429;

/**
 * @typedef {import("./messages.js").HotlineEvent} HotlineEvent
 * @typedef {import("./messages.js").WelcomeMessage} WelcomeMessage
 * @typedef {import("./resume.js").Store} Store
 * @typedef {import("./resume.js").AuditState} AuditState
 * @typedef {"connecting" | "live" | "reconnecting" | "stopped"} SubscriptionState
 * @typedef {{attempt?: number, delay?: number, code?: number, reason?: string, head?: number,
 *   error?: unknown}} StatusInfo
 * @typedef {{channel: string, online: Record<string, string[]>}} Presence
 * @typedef {"receipt" | "answer_check"} Duty what a subscription owes the server by itself:
 *   a receipt of a notice from the other party, or an answer to a check asking its own party
 */

/**
 * What a subscription needs of the client: the socket's address and token, and REST reads to
 * verify with (`HotlineClient` has them all).
 * @typedef {object} LogReader
 * @property {string} baseUrl
 * @property {string} token
 * @property {number} timeout milliseconds to open a socket in, or to wait for its welcome
 * @property {Backoff} backoff
 * @property {import("./socket.js").WebSocketClass | undefined} WebSocket
 * @property {() => Promise<string>} logKey
 * @property {(channel: string, oldSize: number, size: number) => Promise<Uint8Array[]>} consistencyProof
 * @property {(channel: string, size: number) => Promise<import("./log.js").CompactRange>} compactRange
 */

/**
 * @typedef {object} SubscribeOptions
 * @property {number} [after] the last sequence number the caller has: 0 (the default) replays
 *   the log from its start
 * @property {(event: HotlineEvent) => void | Promise<void>} [onEvent] gets each event once, in
 *   order (verified, unless `verify` is false); an event counts as handled once this returns
 *   (or its promise resolves). If it throws, the subscription stops with that error.
 * @property {(presence: Presence) => void} [onPresence] who of each party is connected, when it changes
 * @property {(state: SubscriptionState, info: StatusInfo) => void} [onStatus]
 * @property {(error: Error) => void} [onError] the error the subscription stopped with
 * @property {Store} [store] where the last verified checkpoint, the compact range of the events
 *   handled and the last sequence number are kept, per server and channel
 * @property {boolean} [resume] start after the last event the store says was handled (it wins
 *   over `after` then, as the Python client's resume file does)
 * @property {boolean} [verify] check every event against the server's signed checkpoints (true)
 * @property {string} [logKey] the server's verifier key, as got from its operator; without it
 *   the key remembered in the store is used, else the key the server serves (trust on first use)
 * @property {boolean} [confirmReceipts] confirm receipt of each notice from the other party (true)
 * @property {boolean} [answerChecks] answer each liveness check (`check.requested`) that asks
 *   the operator's own party and is still open (false): the client then vouches that the
 *   party is listening, so only a client that a person or a program watches should
 * @property {Backoff} [backoff] reconnection delays; the client's own when omitted
 * @property {AbortSignal} [signal] stops the subscription when aborted, as `close()` does
 * @property {{warn(...args: any[]): void}} [logger] where warnings go (`console`)
 */

/** Live events of one channel. Made by `HotlineClient.subscribe`, running at once. */
export class Subscription {
  /**
   * @param {LogReader} reader
   * @param {string} channel
   * @param {SubscribeOptions} options
   */
  constructor(reader, channel, options) {
    if (typeof channel !== "string" || !CHANNEL_ID.test(channel)) {
      throw new TypeError(`${JSON.stringify(channel)} is not a channel id`);
    }
    const { after = 0 } = options;
    if (!Number.isInteger(after) || after < 0) {
      throw new TypeError("after is the last sequence number the caller has: 0 or more");
    }
    if (reader.WebSocket === undefined) {
      throw new TypeError(
        "this platform has no WebSocket: pass one as the client's `WebSocket` option " +
          "(Node 20 has it with --experimental-websocket)",
      );
    }
    this.channel = channel;
    /** The last sequence number handled: what `onEvent` has seen and returned from. */
    this.lastSeq = after;
    /** @type {WelcomeMessage | null} The server's `welcome` on the current or last connection. */
    this.welcome = null;
    /** @type {Record<string, string[]>} By party, the operators connected to the channel now. */
    this.presence = {};
    /** @type {string | null} The log key in use, once known. */
    this.logKey = options.logKey ?? null;
    this._reader = reader;
    this._options = options;
    this._backoff = options.backoff ?? reader.backoff;
    this._logger = options.logger ?? console;
    this._storeKey = resumeKey(reader.baseUrl, channel);
    this._received = after; // the last seq taken off the socket, verified or not
    /** @type {number | null} the head the server announced on this connection */
    this._head = null;
    /** @type {Map<string, Duty>} what is owed: a notice's id -> a receipt, a check's -> an answer */
    this._owed = new Map();
    /** @type {Map<string, string>} receipts and answers sent on this connection, not yet
     * answered: ref -> the notice's or the check's id */
    this._asked = new Map();
    this._refs = 0;
    /** @type {string | null} the ref of this connection's `subscribe` */
    this._subscribeRef = null;
    /** @type {ChannelAuditor | null} */
    this._auditor = null;
    /** @type {AuditState} */
    this._savedAudit = {};
    /** @type {Socket | null} */
    this._socket = null;
    this._stopping = new AbortController(); // aborted once asked to stop
    this._settled = false;
    /** @type {(value: void) => void} */
    let resolve = () => {};
    /** @type {(error: Error) => void} */
    let reject = () => {};
    /**
     * Resolves once the subscription has stopped after `close()` (what it handled by then is
     * in the store); rejects with the error that stopped it otherwise.
     */
    this.closed = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this._resolve = resolve;
    this._reject = reject;
    if (options.onError) this.closed.catch(() => {}); // told through onError: not unhandled
    options.signal?.addEventListener("abort", () => this.close(), { once: true });
    if (options.signal?.aborted) {
      this._stopping.abort();
      this._settle(null);
    } else {
      this._run().then(
        () => this._settle(null),
        // An error on the way out of a close the caller asked for is not news.
        (error) => this._settle(this._stopped ? null : error),
      );
    }
  }

  /**
   * The last signed checkpoint verified (with its note), or `null` before the first.
   * @returns {(import("./checkpoint.js").Checkpoint & {note: string}) | null}
   */
  get checkpoint() {
    const auditor = this._auditor;
    if (auditor?.checkpoint == null || auditor.note === null) return null;
    return { ...auditor.checkpoint, note: auditor.note };
  }

  /** Stop: close the socket; `onEvent` is called no more, and `closed` resolves once stopped. */
  close() {
    if (this._stopped) return;
    this._stopping.abort();
    this._socket?.close();
  }

  /** Whether the subscription was asked to stop. */
  get _stopped() {
    return this._stopping.signal.aborted;
  }

  // -- the connection loop -----------------------------------------------------------------

  async _run() {
    this._start();
    const url = wsUrl(this._reader.baseUrl);
    const WebSocketImpl = /** @type {import("./socket.js").WebSocketClass} */ (
      this._reader.WebSocket
    );
    this._status("connecting", { attempt: 0 });
    for (let attempt = 0; !this._stopped; ) {
      /** @type {{welcomed: boolean, code?: number, reason?: string}} */
      let ended = { welcomed: false };
      try {
        const socket = await Socket.open(WebSocketImpl, url, {
          timeout: this._reader.timeout,
          signal: this._stopping.signal,
        });
        ended = await this._session(socket);
      } catch (error) {
        if (!(error instanceof SocketClosed || error instanceof SocketTimeout)) throw error;
        ended = { welcomed: false, ...closeInfo(error) };
      }
      if (this._stopped) return;
      if (ended.welcomed) attempt = 0;
      const delay = this._backoff.delay(attempt);
      attempt += 1;
      this._status("reconnecting", { attempt, delay, code: ended.code, reason: ended.reason });
      await sleep(delay, this._stopping.signal);
    }
  }

  /** Read the store, once: where to start, and what was verified before. */
  _start() {
    const { store, resume } = this._options;
    if (!store) return;
    const saved = loadResume(store, this._storeKey);
    this._savedAudit = saved.audit;
    if (resume && saved.after !== null) this.lastSeq = this._received = saved.after;
  }

  /**
   * Say hello, subscribe, and read until the socket closes. Only what the network or the
   * server did is retried; anything else (a refusal, a log that does not verify, a failure of
   * the caller's `onEvent`) would only happen again, so it ends the subscription.
   * @param {Socket} socket
   * @returns {Promise<{welcomed: boolean, code?: number, reason?: string}>}
   */
  async _session(socket) {
    let welcomed = false;
    this._socket = socket; // for close() to close
    try {
      if (this._stopped) return { welcomed };
      socket.send(JSON.stringify({ type: "hello", token: this._reader.token }));
      const first = parseServerMessage(await socket.recv(this._reader.timeout));
      if ("ignored" in first) {
        this._logger.warn(`hotline: the server's first message is garbled (${first.ignored})`);
        return { welcomed };
      }
      if (first.message.type !== "welcome") {
        throw new ConnectionClosed(`expected a welcome, got ${first.message.type}`, {
          code: 1002,
        });
      }
      this.welcome = first.message;
      welcomed = true;
      await this._prepareAudit();
      if (this._stopped) return { welcomed };
      this._head = null;
      this._subscribeRef = `s${++this._refs}`;
      socket.send(
        JSON.stringify({
          type: "subscribe",
          ref: this._subscribeRef,
          channel: this.channel,
          after: this._received,
        }),
      );
      for (;;) {
        await this._onMessage(socket, await socket.recv());
        if (this._stopped) return { welcomed };
      }
    } catch (error) {
      if (error instanceof SocketClosed && FINAL_CLOSE_CODES.has(error.code)) {
        throw new ConnectionClosed(
          `the server closed the socket: ${error.code} ${error.reason}`.trimEnd(),
          { code: error.code, reason: error.reason },
        );
      }
      if (error instanceof SocketClosed || error instanceof SocketTimeout) {
        return { welcomed, ...closeInfo(error) };
      }
      // A REST read for verification (a proof, the key) failed while the server was
      // restarting, say; refusals of this client's own making stay final.
      if (error instanceof Unreachable || (error instanceof ProblemError && error.status >= 500)) {
        this._logger.warn(`hotline: a verification read failed (${error.message}); reconnecting`);
        return { welcomed, reason: error.message };
      }
      throw error;
    } finally {
      this._socket = null;
      this._asked.clear(); // what it carried unanswered goes again on the next connection
      socket.close();
    }
  }

  /**
   * @param {Socket} socket
   * @param {string} text
   */
  async _onMessage(socket, text) {
    const parsed = parseServerMessage(text);
    if ("ignored" in parsed) {
      // A newer server may say things this client does not know yet.
      this._logger.warn(`hotline: passing over a message this client cannot read: ${parsed.ignored}`);
      return;
    }
    const message = parsed.message;
    switch (message.type) {
      case "event": {
        const event = message.event;
        if (event.channel !== this.channel || event.seq <= this._received) return; // a duplicate
        this._received = event.seq;
        const verified = this._auditor
          ? await this._auditor.add(event, event, message.checkpoint)
          : [event];
        await this._deliver(verified);
        this._sendOwed(socket);
        return;
      }
      case "subscribed": {
        if (message.channel !== this.channel) return;
        if (this._auditor) {
          if (message.checkpoint === null) {
            throw new HotlineError(
              `the server sends no checkpoints for ${this.channel}, so its log cannot be ` +
                "verified (subscribe with verify: false to read it unchecked)",
            );
          }
          await this._auditor.checkCheckpoint(message.checkpoint);
        }
        if (this._received > message.head) {
          throw new HotlineError(
            `channel ${this.channel} ends at ${message.head}, yet this client has seen ` +
              `${this._received}: not the log it was reading before`,
          );
        }
        this._head = message.head;
        this._status("live", { head: message.head });
        this._sendOwed(socket);
        return;
      }
      case "presence":
        if (message.channel !== this.channel) return;
        this.presence = message.online;
        this._options.onPresence?.({ channel: message.channel, online: message.online });
        return;
      case "result":
        this._answered(message.ref);
        return;
      case "error":
        if (message.ref !== null && message.ref === this._subscribeRef) {
          // A refused subscription: nothing reconnecting could fix.
          throw new ProblemError(message);
        }
        if (message.ref === null) {
          this._logger.warn(`hotline: the server refused a message: ${message.detail}`);
        } else {
          this._refused(message.ref, message.status);
        }
        return;
      default:
        return; // a welcome again: nothing to do
    }
  }

  /**
   * Hand verified events to `onEvent`, then remember them as handled.
   * @param {HotlineEvent[]} events
   */
  async _deliver(events) {
    let handled = 0;
    try {
      for (const event of events) {
        if (this._stopped) return;
        this._noteReceipt(event);
        this._noteCheck(event);
        await this._options.onEvent?.(event);
        this.lastSeq = event.seq;
        handled += 1;
      }
    } finally {
      // Once per batch rather than per event: a catch-up of thousands writes the store once
      // per page, and the handled range is copied rather than rebuilt (see markHandled).
      if (handled > 0) {
        await this._auditor?.markHandled(this.lastSeq);
        this._save();
      }
    }
  }

  _save() {
    const { store } = this._options;
    if (!store) return;
    const audit =
      this._auditor && this.logKey !== null ? { log_key: this.logKey, ...this._auditor.state() } : null;
    saveResume(store, this._storeKey, this.lastSeq, audit);
  }

  // -- receipts ----------------------------------------------------------------------------

  /** @param {HotlineEvent} event */
  _noteReceipt(event) {
    if (this._options.confirmReceipts === false || this.welcome === null) return;
    const notice = event.data.notice;
    if (typeof notice !== "string") return;
    let id;
    try {
      id = noticeId(notice);
    } catch {
      return;
    }
    if (event.type === "notice.sent") {
      if (event.actor !== null && event.actor.party !== this.welcome.party.id) {
        this._owed.set(id, "receipt");
      }
    } else if (SETTLING.has(event.type)) {
      this._release(id, "receipt");
    }
  }

  /** @param {HotlineEvent} event */
  _noteCheck(event) {
    if (this._options.answerChecks !== true || this.welcome === null) return;
    const check = event.data.check;
    if (typeof check !== "string") return;
    let id;
    try {
      id = noticeId(check); // a UUID, spelled one way
    } catch {
      return;
    }
    if (event.type === "check.requested") {
      if (event.data.party === this.welcome.party.id) this._owed.set(id, "answer_check");
    } else if (event.type === "check.answered" || event.type === "check.missed") {
      this._release(id, "answer_check");
    }
  }

  /**
   * An event settled what was owed for `id`: a receipt, or an answer.
   * @param {string} id
   * @param {Duty} duty
   */
  _release(id, duty) {
    if (this._owed.get(id) === duty) this._owed.delete(id);
  }

  /**
   * Send the receipts and the answers owed.
   * @param {Socket} socket
   */
  _sendOwed(socket) {
    // Only once caught up: a notice replayed from the log may have been received long
    // ago, and a check answered, which a later event of the replay will show.
    if (this._head === null || this._received < this._head) return;
    const inFlight = new Set(this._asked.values());
    for (const [id, duty] of this._owed) {
      if (inFlight.has(id)) continue; // its answer is still to come: never two at once
      const ref = `${duty === "receipt" ? "r" : "c"}${++this._refs}`;
      this._asked.set(ref, id);
      const subject = duty === "receipt" ? { notice: id } : { check: id };
      socket.send(JSON.stringify({ type: duty, ref, channel: this.channel, ...subject }));
    }
  }

  /**
   * The server carried out a receipt or an answer: it is no longer owed.
   * @param {string} ref
   */
  _answered(ref) {
    const id = this._asked.get(ref);
    if (id === undefined) return;
    this._asked.delete(ref);
    this._owed.delete(id);
  }

  /**
   * The server refused a receipt or an answer. Too busy (429): nothing was done, so it stays
   * owed and goes again with the channel's next event. Any other refusal drops it: it is not
   * the subscription's to fix, and would only be refused again.
   * @param {string} ref
   * @param {number} status
   */
  _refused(ref, status) {
    const id = this._asked.get(ref);
    if (id === undefined) return;
    this._asked.delete(ref);
    if (status !== TOO_BUSY) this._owed.delete(id);
  }

  // -- verification ------------------------------------------------------------------------

  /** Set up the auditor once: the log key, and where checking starts. */
  async _prepareAudit() {
    if (this._options.verify === false || this._auditor !== null) return;
    const saved = this._savedAudit;
    const savedKey = typeof saved.log_key === "string" ? saved.log_key : null;
    let key = this._options.logKey ?? savedKey;
    if (key === null) {
      key = await this._reader.logKey();
      this._logger.warn(`hotline: trusting the server's log key on first use: ${key}`);
    }
    // A key pinned by the caller after the server rotated its own: the checkpoint
    // remembered was signed with the old one, which opens it and nothing newer.
    const previousKeys = savedKey !== null && savedKey !== key ? [savedKey] : [];
    const channel = this.channel;
    /** @type {import("./audit.js").ProofSource} */
    const fetch = (oldSize, size) => this._reader.consistencyProof(channel, oldSize, size);
    const checkpoint = typeof saved.checkpoint === "string" ? saved.checkpoint : null;
    const start = this.lastSeq;
    const auditor =
      saved.range?.size === start
        ? await ChannelAuditor.fromState(channel, [key], fetch, saved, { previousKeys }).catch(
            (error) => {
              if (!(error instanceof TypeError)) throw error;
              throw new HotlineError(`the stored state ${this._storeKey} is not one this client wrote: ${error.message}`);
            },
          )
        : // Starting elsewhere than where the saved range ends: the range comes from the
          // server, but the checkpoint remembered still holds it to its word.
          await ChannelAuditor.create(channel, [key], fetch, {
            handled: await this._reader.compactRange(channel, start),
            checkpoint,
            previousKeys,
          });
    if (this._stopped) return;
    this.logKey = key;
    this._auditor = auditor;
  }

  // -- ending ------------------------------------------------------------------------------

  /**
   * @param {SubscriptionState} state
   * @param {StatusInfo} info
   */
  _status(state, info) {
    this._options.onStatus?.(state, info);
  }

  /**
   * The subscription has stopped: say so, and settle `closed`.
   * @param {unknown} error what stopped it, or `null` for `close()`
   */
  _settle(error) {
    if (this._settled) return;
    this._settled = true;
    this._stopping.abort();
    const failure = error === null ? null : asError(error);
    // Settled first, so that a callback that throws cannot leave `closed` pending for ever.
    if (failure === null) this._resolve();
    else this._reject(failure);
    try {
      this._status("stopped", failure === null ? {} : { error: failure });
    } finally {
      if (failure !== null) this._options.onError?.(failure);
    }
  }
}

/**
 * The socket's address for a server's base URL: `http` becomes `ws`, `https` `wss`.
 * @param {string} baseUrl
 * @returns {string}
 */
export function wsUrl(baseUrl) {
  const url = new URL(baseUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return `${url.href.replace(/\/+$/, "")}/api/v1/ws`;
}

/** @param {SocketClosed | SocketTimeout} error */
function closeInfo(error) {
  return error instanceof SocketClosed
    ? { code: error.code, reason: error.reason }
    : { reason: error.message };
}

/** @param {unknown} error */
function asError(error) {
  return error instanceof Error ? error : new HotlineError(String(error));
}
