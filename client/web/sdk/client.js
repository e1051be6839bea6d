/**
 * An operator's connection to a Hotline server: the REST calls as methods, and live events as
 * a subscription (`live.js`). The browser's counterpart of `client/sdk.py`, with the same
 * rules: the token travels in a header (REST) or in the socket's first message, never in a
 * URL; a request that is safe to repeat (a read, a send with its id, a receipt, an upload) is
 * tried again after a network failure or a 502/503/504; a refusal is a `ProblemError` with the
 * problem's status and stable `code`, and a server that does not answer is `Unreachable`.
 *
 *     const hotline = new HotlineClient({ baseUrl: "http://127.0.0.1:8000", token });
 *     const notice = await hotline.send("water-roads", { subject: "Water main renewal, Mill Lane" });
 * @module
 */

import {
  MEDIA_TYPES,
  acceptedMediaType,
  checkAttachment,
  mediaTypeOf,
  sha256Hex,
} from "./attachments.js";
import { Backoff, sleep } from "./backoff.js";
import { concat, fromBase64 } from "./bytes.js";
import { buildCancellation, buildDecision, buildDraft, noticeId, wireTime } from "./drafts.js";
import {
  AttachmentMismatch,
  HotlineError,
  LogTampered,
  ProblemError,
  Unreachable,
} from "./errors.js";
import { CompactRange, eventHash } from "./log.js";
import { Subscription } from "./live.js";

const RETRY_STATUSES = new Set([502, 503, 504]);

/**
 * @typedef {import("./drafts.js").NoticeDraft} NoticeDraft
 * @typedef {import("./attachments.js").Attachment} Attachment
 * @typedef {import("./messages.js").HotlineEvent} HotlineEvent
 * @typedef {import("./live.js").SubscribeOptions} SubscribeOptions
 * @typedef {{id: string, name: string}} NamedRef
 * @typedef {{operator: NamedRef, role: string, party: NamedRef, email?: string | null}} Me
 * @typedef {{id: string, parties: NamedRef[], policy: Record<string, any>, head: number}} Channel
 * @typedef {{events: HotlineEvent[], head: number}} EventPage
 * @typedef {Record<string, any> & {id: string, channel: string, status: string, seq: number}} Notice
 * @typedef {Notice & {history: HotlineEvent[]}} NoticeDetail
 * @typedef {{items: Notice[], next_cursor: string | null}} NoticePage
 * @typedef {{origin: string, size: number, root_hash: string, note: string}} CheckpointOut
 */

/**
 * How a notice left unanswered is chased, counted from its acknowledgement deadline.
 * @typedef {object} Chase
 * @property {number} remind_after_seconds the first reminder, after the deadline
 * @property {number} remind_every_seconds between reminders
 * @property {number} reminders how many at most (0: none)
 * @property {number | null} escalate_after_seconds when it escalates; `null`: never
 */

/**
 * A channel's policy, as the wire spells it (`PolicyOut`).
 * @typedef {object} Policy
 * @property {Record<string, number>} ack_deadline_seconds by priority
 * @property {Record<string, number>} min_advance_notice_seconds by priority
 * @property {boolean} require_signatures
 * @property {Record<string, Chase>} [chase] by priority
 * @property {Record<string, string[]>} [escalate_to] by party, the operators on duty to
 *   escalate to; a party not named escalates to its admins
 * @property {{every_seconds: number, answer_within_seconds: number} | null} [checks]
 *   liveness checks, or `null` for none
 * @property {boolean} [mail_when_offline] whether a notice the receiving party has not seen
 *   a while after it was sent is mailed to its operators (`false` when left out)
 */

/**
 * A policy one party's admin proposed; it takes effect when the other party's admin accepts.
 * @typedef {Record<string, any> & {id: string, policy: Policy, party: string, operator: string,
 *   proposed_at: string, lapses_at: string}} Proposal
 */

/**
 * The policy in force (put there by the proposal `policy_id` at the event `since_seq`; both
 * `null` for the channel's first policy), and the proposal waiting for the other party, if any.
 * @typedef {{in_force: Policy, policy_id: string | null, since_seq: number | null,
 *   pending: Proposal | null}} PolicyState
 */

/**
 * A liveness check the server asked a party to answer.
 * @typedef {Record<string, any> & {id: string, party: string, requested_at: string,
 *   answer_by: string, answered_at: string | null, answered_by: string | null,
 *   missed_at: string | null}} Check
 * @typedef {{items: Check[], next_cursor: string | null}} CheckPage
 */

/**
 * How each party answered its checks over a time range.
 * @typedef {{party: string, requested: number, answered: number, missed: number,
 *   pending: number, median_answer_ms: number | null}} PartyAvailability
 * @typedef {{since: string, until: string, parties: PartyAvailability[]}} Availability
 */

/**
 * Two notices that plan activity in one area at overlapping times.
 * @typedef {Record<string, any> & {id: string, notices: [string, string], area: string,
 *   overlap: {starts_at: string, ends_at: string}, detected_seq: number,
 *   resolved_seq: number | null}} Conflict
 */

/**
 * A party's webhook subscription on a channel (`Webhook`); never its secret.
 * @typedef {object} Webhook
 * @property {string} id
 * @property {string} channel
 * @property {string} party the party it belongs to
 * @property {string} url where each event is posted
 * @property {string[]} types the event types sent; empty: all
 * @property {boolean} enabled whether it is called
 * @property {number} failures deliveries given up in a row (each after all its tries)
 * @property {string | null} disabled_reason why it is not called, if it is not
 * @property {string | null} previous_secret_until after a rotation, until when the old
 *   secret signs too
 * @property {string} created_at
 * @property {string} created_by the admin who made it
 * @typedef {Webhook & {secret: string}} NewWebhook a subscription as made: its secret,
 *   `whsec_…`, shown this once
 * @typedef {{secret: string, previous_secret_until: string | null}} RotatedSecret the new
 *   secret, shown this once, and until when the old one signs too (`null`: it stopped)
 * @typedef {{operator: string, email: string | null}} OperatorEmail where an operator's
 *   mail goes; `null`: nowhere
 */

/**
 * Something an event sent out of band: a webhook call or a mail, with every try.
 * @typedef {object} Delivery
 * @property {string} id stable: every try's `webhook-id`, or the mail's `Message-ID`
 * @property {"webhook" | "mail"} kind
 * @property {string} channel
 * @property {number} seq the event that caused it
 * @property {string} event_type
 * @property {string} target a webhook's id; for mail `operator:<id>` or `party:<id>`
 * @property {"waiting" | "delivered" | "failed" | "skipped"} status
 * @property {string} next_attempt_at
 * @property {string} created_at
 * @property {string | null} finished_at
 * @property {string | null} last_error
 * @property {Array<{at: string, ok: boolean, status_code: number | null, error: string | null,
 *   duration_ms: number}>} attempts oldest first
 * @typedef {{items: Delivery[], next_before: string | null}} DeliveryPage newest event
 *   first; `next_before` is the `before` of the next page (`null`: the last)
 */

/**
 * @typedef {object} ClientOptions
 * @property {string} baseUrl the server, such as `https://hotline.example.org`
 * @property {string} token the operator's bearer token
 * @property {typeof globalThis.fetch} [fetch] used instead of the global `fetch`
 * @property {import("./socket.js").WebSocketClass} [WebSocket] used instead of the global one
 * @property {number} [timeout] milliseconds any one request, or socket opening, may take (10 s)
 * @property {number} [retries] how often a request safe to repeat is tried again (2)
 * @property {Backoff} [backoff] the delays between tries, and the default for subscriptions
 */

export class HotlineClient {
  /** @param {ClientOptions} options */
  constructor({ baseUrl, token, fetch, WebSocket, timeout = 10_000, retries = 2, backoff }) {
    /** The server, without a trailing slash. */
    this.baseUrl = new URL(baseUrl, globalThis.location?.href).href.replace(/\/+$/, "");
    this.timeout = timeout;
    this.retries = retries;
    this.backoff = backoff ?? new Backoff();
    // A private field: logging the client, or serialising it, does not show the token.
    this.#token = token;
    /** @type {typeof globalThis.fetch} */
    this._fetch = fetch ?? globalThis.fetch.bind(globalThis);
    /** @type {import("./socket.js").WebSocketClass | undefined} */
    this.WebSocket = WebSocket ?? globalThis.WebSocket;
  }

  /** @type {string} */
  #token;

  /** The operator's bearer token (the socket's `hello` carries it). */
  get token() {
    return this.#token;
  }

  // -- REST ------------------------------------------------------------------------------

  /**
   * Whether the server answers its liveness check; never rejects.
   * @returns {Promise<boolean>}
   */
  async healthy() {
    try {
      const response = await this._fetch(`${this.baseUrl}/healthz`, {
        signal: AbortSignal.timeout(this.timeout),
      });
      return response.status === 200;
    } catch {
      return false;
    }
  }

  /**
   * The operator the token belongs to, its role and its party.
   * @returns {Promise<Me>}
   */
  async me() {
    return this._request("GET", "/me", { retry: true });
  }

  /**
   * The channels of the operator's party, with their policies and heads.
   * @returns {Promise<Channel[]>}
   */
  async channels() {
    return this._request("GET", "/channels", { retry: true });
  }

  /**
   * One channel of the operator's party.
   * @param {string} channel
   * @returns {Promise<Channel>}
   */
  async channel(channel) {
    return this._request("GET", channelPath(channel), { retry: true });
  }

  /**
   * A slice of the channel's log, as served (not verified: `subscribe` verifies).
   * @param {string} channel
   * @param {{after?: number, limit?: number}} [options] events after `after` (0), at most `limit` (100)
   * @returns {Promise<EventPage>}
   */
  async events(channel, { after = 0, limit = 100 } = {}) {
    return this._request("GET", `${channelPath(channel)}/events`, {
      params: { after, limit },
      retry: true,
    });
  }

  /**
   * One page of the channel's notices that match, newest first.
   * @param {string} channel
   * @param {{status?: string, priority?: string, sentBy?: string, awaitingDecision?: boolean,
   *   cursor?: string | null, limit?: number}} [filters] `cursor`: the `next_cursor` of the
   *   page before; `limit`: notices per page (at most 200)
   * @returns {Promise<NoticePage>}
   */
  async notices(channel, { status, priority, sentBy, awaitingDecision, cursor, limit } = {}) {
    return this._request("GET", `${channelPath(channel)}/notices`, {
      params: {
        status,
        priority,
        sent_by: sentBy,
        awaiting_decision: awaitingDecision ? "true" : undefined,
        cursor: cursor ?? undefined,
        limit,
      },
      retry: true,
    });
  }

  /**
   * One notice with its own events from the log.
   * @param {string} channel
   * @param {string} id the notice's id
   * @returns {Promise<NoticeDetail>}
   */
  async notice(channel, id) {
    return this._request("GET", noticePath(channel, id), { retry: true });
  }

  /**
   * Send a notice to the other party of `channel`. Sending again with the same `id` and
   * content is safe (the server answers with the original), so give your own `id`
   * (`crypto.randomUUID()`), or take the one a failure carries (`error.noticeId`), to retry.
   * @param {string} channel
   * @param {NoticeDraft} draft
   * @returns {Promise<Notice>} the notice as the server recorded it
   * @throws {ProblemError} 422: the draft breaks the schema or the policy; 409: the id was
   *   used before for other content
   */
  async send(channel, draft) {
    const body = buildDraft(draft);
    try {
      return await this._request("POST", `${channelPath(channel)}/notices`, {
        json: body,
        retry: true,
      });
    } catch (error) {
      if (error instanceof HotlineError) error.noticeId = /** @type {string} */ (body.id);
      throw error;
    }
  }

  /**
   * Confirm that the operator's party has the notice (the first confirmation counts).
   * @param {string} channel
   * @param {string} id
   * @returns {Promise<Notice>}
   */
  async receipt(channel, id) {
    return this._request("POST", noticePath(channel, id, "receipt"), { retry: true });
  }

  /**
   * Acknowledge a notice for the operator's party.
   * @param {string} channel
   * @param {string} id
   * @returns {Promise<Notice>}
   * @throws {ProblemError} 409 `already-decided`: the first decision is in `.problem.decision`
   */
  async acknowledge(channel, id) {
    return this._decide(channel, id, "acknowledged", null);
  }

  /**
   * Object to a notice, saying why.
   * @param {string} channel
   * @param {string} id
   * @param {string} reason
   * @returns {Promise<Notice>}
   * @throws {ProblemError} 409 `already-decided`; 422: the reason is empty
   */
  async object(channel, id, reason) {
    return this._decide(channel, id, "objected", reason);
  }

  /**
   * @param {string} channel
   * @param {string} id
   * @param {"acknowledged" | "objected"} decision
   * @param {string | null} reason
   * @returns {Promise<Notice>}
   */
  async _decide(channel, id, decision, reason) {
    return this._request("POST", noticePath(channel, id, "decision"), {
      json: buildDecision(decision, reason),
    });
  }

  /**
   * Withdraw a notice the operator's party sent, while it awaits a decision.
   * @param {string} channel
   * @param {string} id
   * @param {string} [reason]
   * @returns {Promise<Notice>}
   */
  async cancel(channel, id, reason) {
    return this._request("POST", noticePath(channel, id, "cancellation"), {
      json: buildCancellation(reason),
    });
  }

  // -- policy ------------------------------------------------------------------------------

  /**
   * The policy in force on `channel`, and the proposal waiting for an answer, if any.
   * @param {string} channel
   * @returns {Promise<PolicyState>}
   */
  async policy(channel) {
    return this._request("GET", `${channelPath(channel)}/policy`, { retry: true });
  }

  /**
   * Propose a new policy to the other party (admins only); it replaces the proposal still
   * waiting, whichever party made it. Proposing again with the same `id` is safe: a
   * failure carries the id to retry with (`error.proposalId`).
   * @param {string} channel
   * @param {Policy} policy the whole policy proposed, as `policy(channel).in_force` spells it
   * @param {{id?: string, lapsesIn?: number}} [options] `id`: a UUID of your choosing;
   *   `lapsesIn`: seconds until the proposal lapses unanswered (the server's default: 7 days)
   * @returns {Promise<Proposal>}
   * @throws {ProblemError} 403: not an admin; 422: the policy or the lapse is out of bounds
   */
  async proposePolicy(channel, policy, { id = globalThis.crypto.randomUUID(), lapsesIn } = {}) {
    const proposal = uuid(id, "a proposal id");
    if (lapsesIn !== undefined && !(Number.isInteger(lapsesIn) && lapsesIn > 0)) {
      throw new TypeError("lapsesIn is a whole number of seconds");
    }
    try {
      return await this._request("POST", `${channelPath(channel)}/policy/proposals`, {
        json: { id: proposal, policy, lapses_in_seconds: lapsesIn },
        retry: true,
      });
    } catch (error) {
      if (error instanceof HotlineError) error.proposalId = proposal;
      throw error;
    }
  }

  /**
   * Accept the other party's proposal (admins only): from its event on, it is the policy.
   * Accepting the proposal in force again changes nothing, so this is tried again after a
   * network failure.
   * @param {string} channel
   * @param {string} proposal the proposal's id
   * @returns {Promise<PolicyState>}
   * @throws {ProblemError} 403: not an admin, or the proposal is one's own party's; 409
   *   `proposal-closed`: it lapsed, was withdrawn or replaced
   */
  async acceptPolicy(channel, proposal) {
    return this._request("POST", proposalPath(channel, proposal, "accept"), { retry: true });
  }

  /**
   * Withdraw one's own party's proposal (admins only). Not tried again: a repeat is refused.
   * @param {string} channel
   * @param {string} proposal the proposal's id
   * @returns {Promise<PolicyState>}
   * @throws {ProblemError} 403; 409 `proposal-closed`
   */
  async withdrawPolicy(channel, proposal) {
    return this._request("POST", proposalPath(channel, proposal, "withdraw"));
  }

  // -- liveness checks and conflicts ------------------------------------------------------

  /**
   * One page of the channel's liveness checks, newest first.
   * @param {string} channel
   * @param {{party?: string, cursor?: string | null, limit?: number}} [options] `party`: only
   *   the checks that asked it; `cursor`: the `next_cursor` of the page before; `limit`:
   *   checks per page (at most 200)
   * @returns {Promise<CheckPage>}
   */
  async checks(channel, { party, cursor, limit } = {}) {
    return this._request("GET", `${channelPath(channel)}/checks`, {
      params: { party, cursor: cursor ?? undefined, limit },
      retry: true,
    });
  }

  /**
   * Answer a liveness check for the operator's party. Answering again changes nothing, so
   * this is tried again after a network failure.
   * @param {string} channel
   * @param {string} check the check's id
   * @returns {Promise<Check>}
   * @throws {ProblemError} 403: the check asks the other party; 409 `check-closed`: it was
   *   missed already; 404: no such check
   */
  async answerCheck(channel, check) {
    const path = `${channelPath(channel)}/checks/${uuid(check, "a check id")}/answer`;
    return this._request("POST", path, { retry: true });
  }

  /**
   * Each party's checks over a time range: asked, answered, missed, and the median answer time.
   * @param {string} channel
   * @param {{since?: string | Date, until?: string | Date}} [range] the server's default
   *   when left out
   * @returns {Promise<Availability>}
   */
  async availability(channel, { since, until } = {}) {
    return this._request("GET", `${channelPath(channel)}/availability`, {
      params: { since: timeParam(since, "since"), until: timeParam(until, "until") },
      retry: true,
    });
  }

  /**
   * The conflicting plans of the channel, newest first: two notices with overlapping windows
   * in one area.
   * @param {string} channel
   * @param {{open?: boolean, limit?: number}} [options] `open`: `true` for only those not
   *   resolved yet, `false` for only resolved ones, both when left out; `limit`: at most this
   *   many (100)
   * @returns {Promise<Conflict[]>}
   */
  async conflicts(channel, { open, limit } = {}) {
    return this._request("GET", `${channelPath(channel)}/conflicts`, {
      params: { open: open === undefined ? undefined : String(open), limit },
      retry: true,
    });
  }

  // -- attachments -------------------------------------------------------------------------

  /**
   * Upload a file to `channel`, for a notice to list (`send(channel, {attachments: [...]})`).
   * Uploading the same bytes again is safe: it is the same file, so this is tried again
   * after a network failure.
   * @param {string} channel
   * @param {Blob | Uint8Array} file a `File` from an `<input type=file>`, or the bytes
   * @param {{name?: string, mediaType?: string}} [options] `name`: what the other party
   *   sees (a `File`'s own by default; bytes need one); `mediaType`: by default the file's
   *   type if the server takes it, else guessed from the name's extension
   * @returns {Promise<Attachment>} the listing: SHA-256, size, media type and name
   * @throws {TypeError} no name, or no media type the server takes
   * @throws {ProblemError} 413: too big; 415: a type the server does not take; 422:
   *   empty, or not what its type says (`attachment-type-mismatch`)
   * @throws {AttachmentMismatch} the server listed other bytes than those sent
   */
  async uploadAttachment(channel, file, { name, mediaType } = {}) {
    const blob = typeof Blob !== "undefined" && file instanceof Blob ? file : null;
    const fileName = name ?? (blob && "name" in blob ? String(blob.name) : undefined);
    if (!fileName) throw new TypeError("name the file: the other party sees the name");
    const declared = blob && acceptedMediaType(blob.type) ? blob.type : null;
    const type = mediaType ?? declared ?? mediaTypeOf(fileName);
    if (type === null) {
      const known = Object.keys(MEDIA_TYPES).join(" ");
      throw new TypeError(`${fileName}: not a kind of file a notice may carry (${known})`);
    }
    const bytes = blob
      ? new Uint8Array(await blob.arrayBuffer())
      : new Uint8Array(/** @type {Uint8Array} */ (file));
    const response = await this._exchange("PUT", `${channelPath(channel)}/attachments`, {
      bytes,
      contentType: type,
      params: { name: fileName },
      retry: true,
    });
    /** @type {Attachment} */
    const listing = await readJson(response, this.baseUrl);
    // The server's hash of what it keeps must be ours of what we sent.
    await checkAttachment(bytes, listing);
    return listing;
  }

  /**
   * A file of `channel`, handed over only once its SHA-256 (and, from a listing, its size)
   * is found to be the one asked for.
   * @param {string} channel
   * @param {Attachment | string} file the listing a notice carries, or just its SHA-256
   * @returns {Promise<Uint8Array>}
   * @throws {AttachmentMismatch} the server sent other bytes: changed, cut short, too many
   * @throws {ProblemError} 404: no such file, or not one this party may see; 500
   *   `attachment-corrupt`: the server found its own copy altered
   */
  async downloadAttachment(channel, file) {
    const wanted = sha256Hex(typeof file === "string" ? file : file.sha256);
    const size = typeof file === "string" ? null : file.size;
    const response = await this._exchange("GET", `${channelPath(channel)}/attachments/${wanted}`, {
      accept: "*/*",
      retry: true,
    });
    const bytes = await readBytes(response, size, this.baseUrl);
    try {
      await checkAttachment(bytes, { sha256: wanted, size });
    } catch (error) {
      if (!(error instanceof AttachmentMismatch)) throw error;
      throw new AttachmentMismatch(`refused the download of ${wanted}: ${error.message}`, error);
    }
    return bytes;
  }

  // -- webhooks and e-mail ------------------------------------------------------------------

  /**
   * The webhook subscriptions of the operator's party on `channel` (admins only), without
   * their secrets: the server shows a secret once, when it is made.
   * @param {string} channel
   * @returns {Promise<Webhook[]>}
   * @throws {ProblemError} 403: not an admin
   */
  async webhooks(channel) {
    return this._request("GET", webhooksPath(channel), { retry: true });
  }

  /**
   * One webhook subscription of the operator's party (admins only).
   * @param {string} channel
   * @param {string} webhook its id
   * @returns {Promise<Webhook>}
   * @throws {ProblemError} 403: not an admin; 404: no such subscription of this party
   */
  async webhook(channel, webhook) {
    return this._request("GET", webhooksPath(channel, webhook), { retry: true });
  }

  /**
   * Subscribe a URL to the channel's events (admins only): each event of the given types
   * (all when none are given) is posted to it, signed as Standard Webhooks specifies. The
   * answer carries the signing secret, and no later answer does: keep it now. Not tried
   * again by itself: a lost answer may have made a subscription (list them to see).
   * @param {string} channel
   * @param {{url: string, types?: string[]}} subscription `url`: http or https, a public
   *   address unless the server allows others; `types`: such as `["notice.sent"]`
   * @returns {Promise<NewWebhook>} the subscription and its `secret` (`whsec_…`)
   * @throws {ProblemError} 403: not an admin; 422 `webhook-address-refused`: the URL is
   *   not one the server may call (a private address, a user name in it, not http)
   */
  async createWebhook(channel, { url, types = [] }) {
    return this._request("POST", webhooksPath(channel), { json: { url, types } });
  }

  /**
   * Change a subscription (admins only): its URL, its types, or whether it is called.
   * Enabling one the server disabled starts its count of deliveries given up afresh.
   * Tried again after a network failure: the same change twice is the same change.
   * @param {string} channel
   * @param {string} webhook its id
   * @param {{url?: string, types?: string[], enabled?: boolean}} changes only what changes
   * @returns {Promise<Webhook>}
   * @throws {ProblemError} 403; 404; 422 `webhook-address-refused`
   */
  async updateWebhook(channel, webhook, changes) {
    /** @type {Record<string, unknown>} */
    const json = {};
    for (const key of /** @type {const} */ (["url", "types", "enabled"])) {
      if (changes[key] !== undefined) json[key] = changes[key];
    }
    return this._request("PATCH", webhooksPath(channel, webhook), { json, retry: true });
  }

  /**
   * Give a subscription a new signing secret (admins only). For `overlapSeconds` (a day by
   * default) calls carry a signature with the old secret too, so the receiver can switch
   * when it likes. The new secret is in this answer only: keep it now. Not tried again by
   * itself: a second rotation would retire the secret this one made.
   * @param {string} channel
   * @param {string} webhook its id
   * @param {{overlapSeconds?: number}} [options]
   * @returns {Promise<RotatedSecret>}
   * @throws {ProblemError} 403; 404; 422: the overlap is out of bounds
   */
  async rotateWebhookSecret(channel, webhook, { overlapSeconds = 86_400 } = {}) {
    if (!(Number.isInteger(overlapSeconds) && overlapSeconds >= 0)) {
      throw new TypeError("overlapSeconds is a whole number of seconds, 0 or more");
    }
    return this._request("POST", `${webhooksPath(channel, webhook)}/rotate`, {
      json: { overlap_seconds: overlapSeconds },
    });
  }

  /**
   * Remove a subscription (admins only): the server calls it no more. Not tried again by
   * itself: a second removal is refused with 404.
   * @param {string} channel
   * @param {string} webhook its id
   * @returns {Promise<void>}
   * @throws {ProblemError} 403; 404: no such subscription (or removed already)
   */
  async deleteWebhook(channel, webhook) {
    const response = await this._exchange("DELETE", webhooksPath(channel, webhook));
    await response.body?.cancel();
  }

  /**
   * The calls made, or to be made, to one subscription, newest first, each with its
   * attempts (admins only).
   * @param {string} channel
   * @param {string} webhook its id
   * @param {{limit?: number, before?: string}} [options] `limit`: at most this many (50
   *   unless said, 200 at most); `before`: the `next_before` of the page before
   * @returns {Promise<DeliveryPage>}
   * @throws {ProblemError} 403; 404
   */
  async webhookDeliveries(channel, webhook, { limit, before } = {}) {
    return this._request("GET", `${webhooksPath(channel, webhook)}/deliveries`, {
      params: { limit, before },
      retry: true,
    });
  }

  /**
   * The deliveries of the operator's party on `channel`, newest first: its webhook calls,
   * or its operators' mail with `kind: "mail"` (admins only).
   * @param {string} channel
   * @param {{kind?: "webhook" | "mail", limit?: number, before?: string}} [options] as for
   *   `webhookDeliveries`; `kind`: only calls, or only mail
   * @returns {Promise<DeliveryPage>}
   * @throws {ProblemError} 403
   */
  async deliveries(channel, { kind, limit, before } = {}) {
    return this._request("GET", `${channelPath(channel)}/deliveries`, {
      params: { kind, limit, before },
      retry: true,
    });
  }

  /**
   * Where the signed-in operator's mail goes from now on: escalations and missed checks
   * sent to it, and notices its party has not seen when the policy asks for that.
   * @param {string} address such as `ana.lopez@water.example`
   * @returns {Promise<OperatorEmail>}
   * @throws {ProblemError} 422: not an e-mail address (the address in force stays)
   */
  async setEmail(address) {
    return this.setOperatorEmail((await this.me()).operator.id, address);
  }

  /**
   * Forget the signed-in operator's address: no mail goes to it until one is set again.
   * @returns {Promise<void>}
   */
  async clearEmail() {
    await this.setOperatorEmail((await this.me()).operator.id, null);
  }

  /**
   * Set, or with `null` clear, an operator's e-mail address: one's own, or as an admin
   * that of an operator of one's party. Tried again after a network failure: setting
   * the same address twice is setting it once.
   * @param {string} operator the operator's id
   * @param {string | null} address
   * @returns {Promise<OperatorEmail>}
   * @throws {ProblemError} 403: another operator's, and not an admin; 404: no such
   *   operator of this party; 422: not an e-mail address
   */
  async setOperatorEmail(operator, address) {
    const path = `/operators/${encodeURIComponent(operator)}/email`;
    if (address === null) {
      const response = await this._exchange("DELETE", path, { retry: true });
      await response.body?.cancel();
      return { operator, email: null };
    }
    return this._request("PUT", path, { json: { email: address }, retry: true });
  }

  // -- the verifiable log ------------------------------------------------------------------

  /**
   * The verifier key the server signs checkpoints with (compare it out of band).
   * @returns {Promise<string>}
   */
  async logKey() {
    const found = await this._request("GET", "/log/key", { retry: true });
    if (typeof found?.verifier_key !== "string") {
      throw new HotlineError("the server's answer is not a log key");
    }
    return found.verifier_key;
  }

  /**
   * The channel's latest signed checkpoint, not yet verified (`ChannelAuditor` verifies).
   * @param {string} channel
   * @returns {Promise<CheckpointOut>}
   */
  async checkpoint(channel) {
    return this._request("GET", `${channelPath(channel)}/checkpoint`, { retry: true });
  }

  /**
   * The server's proof that event `seq` is in the tree of the first `size` events.
   * @param {string} channel
   * @param {number} seq
   * @param {number} size
   * @returns {Promise<Uint8Array[]>}
   */
  async inclusionProof(channel, seq, size) {
    const found = await this._request("GET", `${channelPath(channel)}/proofs/inclusion`, {
      params: { seq, size },
      retry: true,
    });
    return decodeHashes(found);
  }

  /**
   * The server's proof that the tree of `size` events extends that of `oldSize`.
   * @param {string} channel
   * @param {number} oldSize
   * @param {number} size
   * @returns {Promise<Uint8Array[]>}
   */
  async consistencyProof(channel, oldSize, size) {
    const found = await this._request("GET", `${channelPath(channel)}/proofs/consistency`, {
      params: { old_size: oldSize, size },
      retry: true,
    });
    return decodeHashes(found);
  }

  /**
   * The range of the first `size` events, to start checking a log from its middle: built from
   * event `size` and its inclusion proof, it is only a claim until the first signed root is
   * rebuilt from it.
   * @param {string} channel
   * @param {number} size
   * @returns {Promise<CompactRange>}
   * @throws {LogTampered} event `size` is missing, or the proof is malformed
   */
  async compactRange(channel, size) {
    if (size === 0) return new CompactRange();
    const { events } = await this.events(channel, { after: size - 1, limit: 1 });
    if (!Array.isArray(events) || events[0]?.seq !== size) {
      throw new LogTampered(`${channel}: event ${size} is missing`, { channel, seq: size });
    }
    const proof = await this.inclusionProof(channel, size, size);
    try {
      return await CompactRange.fromInclusionProof(size, proof, await eventHash(events[0]));
    } catch (error) {
      throw new LogTampered(`${channel}: a malformed proof (${error})`, { channel });
    }
  }

  // -- live --------------------------------------------------------------------------------

  /**
   * Events of `channel` as they happen, over a socket that heals itself, each checked against
   * the server's signed checkpoints before `onEvent` sees it (see `live.js`).
   * @param {string} channel
   * @param {SubscribeOptions} [options]
   * @returns {Subscription}
   */
  subscribe(channel, options = {}) {
    return new Subscription(this, channel, options);
  }

  // -- the wire ----------------------------------------------------------------------------

  /**
   * @param {string} method
   * @param {string} path below `/api/v1`
   * @param {{json?: unknown, params?: Record<string, string | number | undefined>,
   *   retry?: boolean}} [options]
   * @returns {Promise<any>}
   */
  async _request(method, path, { json, params, retry = false } = {}) {
    return readJson(await this._exchange(method, path, { json, params, retry }), this.baseUrl);
  }

  /**
   * One request, tried again as `retry` allows: the answer (2xx, its body not read yet), or
   * the refusal thrown.
   * @param {string} method
   * @param {string} path below `/api/v1`
   * @param {{json?: unknown, bytes?: Uint8Array, contentType?: string, accept?: string,
   *   params?: Record<string, string | number | undefined>, retry?: boolean}} [options]
   *   `bytes`: a raw body, sent as `contentType`
   * @returns {Promise<Response>}
   */
  async _exchange(method, path, { json, bytes, contentType, accept, params, retry = false } = {}) {
    const url = new URL(`${this.baseUrl}/api/v1${path}`);
    for (const [name, value] of Object.entries(params ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    /** @type {Record<string, string>} */
    const headers = {
      Authorization: `Bearer ${this.token}`,
      Accept: accept ?? "application/json",
    };
    /** @type {BodyInit | undefined} */
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (bytes !== undefined) {
      headers["Content-Type"] = contentType ?? "application/octet-stream";
      body = new Uint8Array(bytes);
    }
    const attempts = 1 + (retry ? this.retries : 0);
    for (let attempt = 0; ; attempt += 1) {
      const last = attempt === attempts - 1;
      /** @type {Response} */
      let response;
      try {
        response = await this._fetch(url, {
          method,
          headers,
          body,
          signal: AbortSignal.timeout(this.timeout),
        });
      } catch (error) {
        if (last) {
          throw new Unreachable(`cannot reach ${this.baseUrl}: ${reasonOf(error)}`, {
            cause: error,
          });
        }
        await sleep(this.backoff.delay(attempt));
        continue;
      }
      if (response.ok) return response;
      if (last || !RETRY_STATUSES.has(response.status)) throw await refusal(response);
      await response.body?.cancel();
      await sleep(this.backoff.delay(attempt));
    }
  }
}

/** @param {string} channel */
function channelPath(channel) {
  return `/channels/${encodeURIComponent(channel)}`;
}

/**
 * @param {string} channel
 * @param {string} id
 * @param {string} [action]
 */
function noticePath(channel, id, action) {
  const path = `${channelPath(channel)}/notices/${noticeId(id)}`;
  return action === undefined ? path : `${path}/${action}`;
}

/**
 * @param {string} channel
 * @param {string} [webhook] a subscription's id, for its own path
 */
function webhooksPath(channel, webhook) {
  const path = `${channelPath(channel)}/webhooks`;
  return webhook === undefined ? path : `${path}/${uuid(webhook, "a webhook id")}`;
}

/**
 * @param {string} channel
 * @param {string} proposal
 * @param {"accept" | "withdraw"} action
 */
function proposalPath(channel, proposal, action) {
  return `${channelPath(channel)}/policy/proposals/${uuid(proposal, "a proposal id")}/${action}`;
}

/**
 * An id in its canonical spelling.
 * @param {unknown} id
 * @param {string} what "a proposal id"
 * @returns {string}
 * @throws {TypeError} `id` is not a UUID
 */
function uuid(id, what) {
  try {
    return noticeId(id);
  } catch {
    throw new TypeError(`${JSON.stringify(id)} is not ${what} (a UUID)`);
  }
}

/**
 * @param {string | Date | undefined} value
 * @param {string} name
 * @returns {string | undefined}
 */
function timeParam(value, name) {
  if (value === undefined) return undefined;
  const time = wireTime(value);
  if (time === undefined) throw new TypeError(`${name} is not an RFC 3339 time with a zone`);
  return time;
}

/** @param {unknown} error */
function reasonOf(error) {
  if (error instanceof Error) {
    const cause = /** @type {any} */ (error).cause;
    return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}

/**
 * @param {Response} response
 * @param {string} baseUrl
 */
async function readJson(response, baseUrl) {
  /** @type {string} */
  let text;
  try {
    text = await response.text();
  } catch (error) {
    // The body broke off: as good as no answer (httpx raises a transport error too).
    throw new Unreachable(`${baseUrl} broke off its answer: ${reasonOf(error)}`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new HotlineError(`${baseUrl} answered ${response.status} with a body that is not JSON`);
  }
}

/**
 * A body's bytes; past `limit` (a listed size) only one more byte is read, enough to know
 * there are too many.
 * @param {Response} response
 * @param {number | null} limit
 * @param {string} baseUrl
 * @returns {Promise<Uint8Array>}
 */
async function readBytes(response, limit, baseUrl) {
  try {
    if (limit === null || response.body === null) {
      return new Uint8Array(await response.arrayBuffer());
    }
    const reader = response.body.getReader();
    /** @type {Uint8Array[]} */
    const chunks = [];
    let length = 0;
    while (length <= limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.length;
    }
    await reader.cancel();
    return concat(...chunks).slice(0, limit + 1);
  } catch (error) {
    throw new Unreachable(`${baseUrl} broke off its answer: ${reasonOf(error)}`, { cause: error });
  }
}

/**
 * The `ProblemError` for a refusal; a body that is not a problem becomes one from the status.
 * @param {Response} response
 * @returns {Promise<ProblemError>}
 */
async function refusal(response) {
  /** @type {unknown} */
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: the status line says what there is to say
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    body = { detail: response.statusText || "the server refused" };
  }
  return new ProblemError(/** @type {Record<string, any>} */ (body), response.status);
}

/**
 * Proof hashes as the API serves them (base64) to bytes.
 * @param {any} found a proof as the API serves it
 * @returns {Uint8Array[]}
 */
function decodeHashes(found) {
  const hashes = found?.hashes;
  if (!Array.isArray(hashes) || !hashes.every((h) => typeof h === "string")) {
    throw new HotlineError("the server's answer is not a proof");
  }
  try {
    return hashes.map((h) => fromBase64(h));
  } catch (error) {
    throw new HotlineError(`the server's proof is not base64: ${reasonOf(error)}`);
  }
}
