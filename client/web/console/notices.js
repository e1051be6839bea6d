/**
 * A channel's notices, rebuilt from its verified events alone.
 *
 * The console never takes a notice's state from a REST answer: what it shows is what the
 * signed log says, folded event by event, as `docs/explanation/life-of-a-notice.md`
 * describes. Each event is checked whole before anything changes, so an event the console
 * cannot read leaves every notice as it was (and is shown in the log, named). Event types
 * this console does not know are kept in the log and change nothing, as the event
 * reference asks of clients.
 *
 * The clock's and the policy's events are folded here too, into the books beside the
 * notices: conflicting plans (`conflicts.js`), liveness checks (`checks.js`) and the policy
 * the two parties agreed (`policy.js`); a reminder or an escalation joins its notice.
 *
 * Pure: no DOM, no network, no clock; `tests/browser` drives it through the page, and
 * `tests/js/console-books.test.js` feeds it logs in Node.
 * @module
 */

import { CheckBook } from "./checks.js";
import { ConflictBook } from "./conflicts.js";
import {
  UnreadableEvent,
  actorOf,
  integer,
  isObject,
  isTime,
  maybeText,
  maybeTime,
  text,
  texts,
  time,
} from "./event-fields.js";
import { PolicyBook } from "./policy.js";

export { UnreadableEvent };

/**
 * @typedef {import("./event-fields.js").Actor} Actor
 * @typedef {import("./event-fields.js").HotlineEvent} HotlineEvent
 * @typedef {{starts_at: string, ends_at: string}} ActivityWindow
 * @typedef {{at: string, operator: string}} Receipt
 * @typedef {{decision: "acknowledged" | "objected", reason: string | null, at: string,
 *   operator: string}} DecisionRecord
 * @typedef {{at: string, operator: string, reason: string | null}} Cancellation
 * @typedef {"sent" | "delivered" | "acknowledged" | "objected" | "cancelled" | "overdue"} Status
 * @typedef {"routine" | "important" | "urgent"} Priority
 * @typedef {{n: number, of: number, at: string, seq: number}} Reminder
 * @typedef {{at: string, to: string[], seq: number}} Escalation
 * @typedef {import("../sdk/attachments.js").Attachment} Attachment
 */

/**
 * One notice as the log tells it.
 * @typedef {object} Notice
 * @property {string} id
 * @property {number} seq the sequence number of its `notice.sent`
 * @property {Actor} sender
 * @property {string} subject
 * @property {string} body
 * @property {Priority} priority
 * @property {ActivityWindow | null} activity
 * @property {string | null} area
 * @property {[number, number, number, number] | null} bbox where, as west, south, east and
 *   north (RFC 7946), if the sender gave a box
 * @property {boolean} ackRequired
 * @property {Attachment[]} attachments the files it carries, as its `notice.sent` lists them
 *   (hash, size, media type, name): a download is checked against this listing
 * @property {string | null} refersTo
 * @property {string} sentAt
 * @property {string | null} ackDueAt
 * @property {Status} status
 * @property {Receipt | null} receipt
 * @property {DecisionRecord | null} decision
 * @property {Cancellation | null} cancellation
 * @property {string | null} overdueAt
 * @property {Reminder[]} reminders the server's reminders to the receiving party, in order
 * @property {Escalation | null} escalation when, and to whom, the server escalated it
 * @property {number[]} history the sequence numbers of its events, in log order (a
 *   conflict's events are in the history of both its notices)
 */

/**
 * What one event did to the console's state.
 * @typedef {object} LogEntry
 * @property {HotlineEvent} event
 * @property {"applied" | "unknown" | "unreadable"} effect applied; of a type this console
 *   does not know (kept, ignored); or malformed for its type (kept, ignored, `problem` says why)
 * @property {string | null} notice the notice it is about, if any (of a conflict: the later)
 * @property {string[]} notices every notice it is about (a conflict's two)
 * @property {string | null} problem why it was not applied
 */

export const PRIORITIES = /** @type {const} */ (["routine", "important", "urgent"]);
export const STATUSES = /** @type {const} */ ([
  "sent",
  "delivered",
  "overdue",
  "acknowledged",
  "objected",
  "cancelled",
]);
const AWAITING = new Set(["sent", "delivered", "overdue"]);

/** The notices of one channel, and its log as this console received it. */
export class NoticeBook {
  /** @param {string} channel */
  constructor(channel) {
    this.channel = channel;
    /** @type {Map<string, Notice>} by notice id */
    this.notices = new Map();
    /** @type {LogEntry[]} in log order */
    this.entries = [];
    /** @type {Map<string, string>} by operator id, the verifier key it registered */
    this.keys = new Map();
    /** The conflicting plans the server found. */
    this.conflicts = new ConflictBook();
    /** The liveness checks the server asked. */
    this.checks = new CheckBook();
    /** The policy proposals, and the policy in force as the log tells it. */
    this.policy = new PolicyBook();
  }

  /** The sequence number of the last event taken (0 before any). */
  get lastSeq() {
    return this.entries.length ? this.entries[this.entries.length - 1].event.seq : 0;
  }

  /**
   * Take the next verified event: change the notice it is about, or nothing.
   * @param {unknown} raw an event as the subscription handed it over
   * @returns {LogEntry} what it did; `effect` is "unreadable" when it changed nothing
   */
  apply(raw) {
    const seq = this.lastSeq + 1;
    /** @type {LogEntry} */
    const entry = {
      event: placeholder(raw, this.channel, seq),
      effect: "applied",
      notice: null,
      notices: [],
      problem: null,
    };
    try {
      const event = readEnvelope(raw, this.channel, seq);
      entry.event = event;
      const change = this.#fold(event);
      if (change === "unknown") {
        entry.effect = "unknown";
      } else {
        // Only now, with the whole event read, does any notice change.
        for (const notice of change) {
          this.notices.set(notice.id, { ...notice, history: [...notice.history, event.seq] });
        }
        entry.notices = change.map((notice) => notice.id);
        entry.notice = entry.notices.at(-1) ?? null;
      }
    } catch (error) {
      if (!(error instanceof UnreadableEvent)) throw error;
      entry.effect = "unreadable";
      entry.problem = error.message;
      const named = entry.event.data.notice;
      entry.notice = typeof named === "string" && this.notices.has(named) ? named : null;
      entry.notices = entry.notice ? [entry.notice] : [];
    }
    this.entries.push(entry);
    return entry;
  }

  /**
   * The notices after `event`, new objects (the old ones untouched; their history is
   * added by the caller), none when the event changes no notice; "unknown" for a type this
   * console does not know. The side books change here, and only once the event has been
   * read whole: each checks all it needs before it changes anything.
   * @param {HotlineEvent} event
   * @returns {Notice[] | "unknown"}
   * @throws {UnreadableEvent}
   */
  #fold(event) {
    const data = event.data;
    if (event.type === "notice.sent") return [sentNotice(event, this.notices)];
    if (event.type === "operator.key_registered") {
      this.keys.set(text(data, "operator"), text(data, "verifier_key"));
      return [];
    }
    if (event.type.startsWith("conflict.")) {
      return this.conflicts.apply(event, (id) => this.#notice(id)) ?? "unknown";
    }
    if (event.type.startsWith("check.")) return this.checks.apply(event) ? [] : "unknown";
    if (event.type.startsWith("channel.policy_")) return this.policy.apply(event) ? [] : "unknown";
    if (event.type === "webhook.disabled") {
      // A party's subscription stopped by the server: no notice changes; the log line says it.
      text(data, "webhook");
      text(data, "party");
      integer(data, "failures");
      return [];
    }
    const handlers = {
      "notice.received": received,
      "notice.acknowledged": decided,
      "notice.objected": decided,
      "notice.cancelled": cancelled,
      "notice.overdue": overdue,
      "notice.reminded": reminded,
      "notice.escalated": escalated,
    };
    const handler = handlers[/** @type {keyof typeof handlers} */ (event.type)];
    if (!handler) return "unknown";
    return [handler(this.#notice(text(data, "notice")), event)];
  }

  /**
   * @param {string} id
   * @returns {Notice}
   * @throws {UnreadableEvent} the log never sent it
   */
  #notice(id) {
    const notice = this.notices.get(id);
    if (!notice) throw new UnreadableEvent(`it names notice ${id}, which the log never sent`);
    return notice;
  }

  /**
   * The notices, newest first.
   * @returns {Notice[]}
   */
  list() {
    return [...this.notices.values()].sort((a, b) => b.seq - a.seq);
  }

  /**
   * The notices that refer to `id` (its updates and replies), oldest first.
   * @param {string} id
   * @returns {Notice[]}
   */
  referring(id) {
    return [...this.notices.values()]
      .filter((n) => n.refersTo === id)
      .sort((a, b) => a.seq - b.seq);
  }
}

/**
 * The envelope every event has, checked: it must be the next one of this channel.
 * @param {unknown} raw
 * @param {string} channel
 * @param {number} expected the sequence number it must have
 * @returns {HotlineEvent}
 * @throws {UnreadableEvent} not an event of this channel, or not the next one
 */
export function readEnvelope(raw, channel, expected) {
  if (!isObject(raw)) throw new UnreadableEvent("it is not a JSON object");
  const { seq, type, at, actor, data } = raw;
  if (raw.channel !== channel) throw new UnreadableEvent("it is an event of another channel");
  if (seq !== expected) throw new UnreadableEvent(`expected event ${expected}, got ${String(seq)}`);
  if (typeof type !== "string" || !isTime(at) || !isObject(data)) {
    throw new UnreadableEvent(`event ${seq} lacks a type, a time or data`);
  }
  if (actor !== null && !(isObject(actor) && typeof actor.party === "string")) {
    throw new UnreadableEvent(`event ${seq} has a malformed actor`);
  }
  return /** @type {HotlineEvent} */ (raw);
}

/**
 * What the log view shows of an event it cannot read: as much of it as is text.
 * @param {unknown} raw
 * @param {string} channel
 * @param {number} seq the place it takes in the log
 * @returns {HotlineEvent}
 */
function placeholder(raw, channel, seq) {
  const found = isObject(raw) ? raw : {};
  return {
    channel,
    seq,
    type: typeof found.type === "string" ? found.type : "(unreadable)",
    at: isTime(found.at) ? found.at : "",
    actor: null,
    data: isObject(found.data) ? found.data : {},
  };
}

/**
 * @param {HotlineEvent} event
 * @param {Map<string, Notice>} known
 * @returns {Notice}
 */
function sentNotice(event, known) {
  const data = event.data;
  const id = text(data, "notice");
  if (known.has(id)) throw new UnreadableEvent(`notice ${id} was sent before`);
  if (!event.actor) throw new UnreadableEvent("a notice sent by nobody");
  const priority = text(data, "priority");
  if (!(/** @type {readonly string[]} */ (PRIORITIES).includes(priority))) {
    throw new UnreadableEvent(`priority ${priority} is none of ${PRIORITIES.join(", ")}`);
  }
  const subject = text(data, "subject");
  if (!subject.trim()) throw new UnreadableEvent("its subject is empty");
  if (typeof data.ack_required !== "boolean") {
    throw new UnreadableEvent("ack_required is not true or false");
  }
  return {
    id,
    seq: event.seq,
    sender: { party: event.actor.party, operator: event.actor.operator },
    subject,
    body: text(data, "body"),
    priority: /** @type {Priority} */ (priority),
    activity: activity(data.activity),
    area: maybeText(data, "area"),
    bbox: bbox(data.bbox),
    ackRequired: data.ack_required,
    attachments: attachments(data.attachments),
    refersTo: maybeText(data, "refers_to"),
    sentAt: event.at,
    ackDueAt: maybeTime(data, "ack_due_at"),
    status: "sent",
    receipt: null,
    decision: null,
    cancellation: null,
    overdueAt: null,
    reminders: [],
    escalation: null,
    history: [],
  };
}

/**
 * A late receipt (of a notice overdue or cancelled) is recorded but moves nothing.
 * @param {Notice} notice
 * @param {HotlineEvent} event
 * @returns {Notice}
 */
function received(notice, event) {
  if (notice.receipt) throw new UnreadableEvent(`notice ${notice.id} was received before`);
  const receipt = { at: event.at, operator: operatorOf(event) };
  return { ...notice, receipt, status: notice.status === "sent" ? "delivered" : notice.status };
}

/**
 * @param {Notice} notice
 * @param {HotlineEvent} event
 * @returns {Notice}
 */
function decided(notice, event) {
  if (!AWAITING.has(notice.status)) {
    throw new UnreadableEvent(`notice ${notice.id} was already ${notice.status}`);
  }
  const decision = event.type === "notice.objected" ? "objected" : "acknowledged";
  const reason = maybeText(event.data, "reason");
  if (decision === "objected" && !reason?.trim()) {
    throw new UnreadableEvent("an objection without a reason");
  }
  return {
    ...notice,
    status: decision,
    decision: { decision, reason, at: event.at, operator: operatorOf(event) },
  };
}

/**
 * @param {Notice} notice
 * @param {HotlineEvent} event
 * @returns {Notice}
 */
function cancelled(notice, event) {
  if (!AWAITING.has(notice.status)) {
    throw new UnreadableEvent(`notice ${notice.id} was already ${notice.status}`);
  }
  const cancellation = {
    at: event.at,
    operator: operatorOf(event),
    reason: maybeText(event.data, "reason"),
  };
  return { ...notice, status: "cancelled", cancellation };
}

/**
 * @param {Notice} notice
 * @param {HotlineEvent} event
 * @returns {Notice}
 */
function overdue(notice, event) {
  if (notice.status !== "sent" && notice.status !== "delivered") {
    throw new UnreadableEvent(`notice ${notice.id} was already ${notice.status}`);
  }
  const due = maybeTime(event.data, "due_at") ?? notice.ackDueAt;
  return { ...notice, status: "overdue", overdueAt: event.at, ackDueAt: due };
}

/**
 * A reminder changes nothing but the notice's record of them: it is still owed an answer.
 * @param {Notice} notice
 * @param {HotlineEvent} event
 * @returns {Notice}
 */
function reminded(notice, event) {
  const of = integer(event.data, "of", 1);
  const n = integer(event.data, "reminder", 1);
  if (n > of) throw new UnreadableEvent(`reminder ${n} of only ${of}`);
  time(event.data, "due_at");
  return { ...notice, reminders: [...notice.reminders, { n, of, at: event.at, seq: event.seq }] };
}

/**
 * @param {Notice} notice
 * @param {HotlineEvent} event
 * @returns {Notice}
 */
function escalated(notice, event) {
  const to = texts(event.data, "to");
  time(event.data, "due_at");
  return { ...notice, escalation: { at: event.at, to, seq: event.seq } };
}

/** @param {HotlineEvent} event */
function operatorOf(event) {
  return actorOf(event).operator;
}

/**
 * @param {unknown} value
 * @returns {[number, number, number, number] | null}
 */
function bbox(value) {
  if (value === null || value === undefined) return null;
  if (!Array.isArray(value) || value.length !== 4 || !value.every(Number.isFinite)) {
    throw new UnreadableEvent("its bbox is not four numbers");
  }
  const [west, south, east, north] = value;
  return [west, south, east, north];
}

/**
 * A notice's files as its `notice.sent` lists them; none when it lists none.
 * @param {unknown} value
 * @returns {Attachment[]}
 */
function attachments(value) {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) throw new UnreadableEvent("its attachments are not a list");
  return value.map((file) => {
    if (!isObject(file)) throw new UnreadableEvent("an attachment is not an object");
    const sha256 = text(file, "sha256");
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new UnreadableEvent("an attachment's sha256 is not one");
    const size = integer(file, "size", 1);
    return { sha256, size, media_type: text(file, "media_type"), name: text(file, "name") };
  });
}

/**
 * @param {unknown} value
 * @returns {ActivityWindow | null}
 */
function activity(value) {
  if (value === null || value === undefined) return null;
  if (!isObject(value) || !isTime(value.starts_at) || !isTime(value.ends_at)) {
    throw new UnreadableEvent("its activity window is not two times");
  }
  if (Date.parse(value.ends_at) <= Date.parse(value.starts_at)) {
    throw new UnreadableEvent("its activity window ends before it starts");
  }
  return { starts_at: value.starts_at, ends_at: value.ends_at };
}
