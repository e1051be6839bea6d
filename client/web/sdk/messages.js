/**
 * What the server may say on the socket, checked as `client/protocol/messages.py` checks it:
 * a message is taken whole, or not at all. A message that does not match its shape, or of
 * a type this client does not know (a newer server may say more), is passed over, as the
 * Python client passes it over; nothing of it is applied.
 * @module
 */

import { wireTime } from "./drafts.js";

/**
 * One entry of a channel's log, exactly as the server serves it (decoded JSON).
 * @typedef {object} HotlineEvent
 * @property {string} channel
 * @property {number} seq position in the channel's log, from 1, no gaps
 * @property {string} type such as `notice.sent`
 * @property {string} at the server's clock, RFC 3339 UTC
 * @property {{party: string, operator: string} | null} actor
 * @property {Record<string, any>} data
 */

/**
 * @typedef {{id: string, name: string}} NamedRef
 * @typedef {{type: "welcome", operator: NamedRef, role: string, party: NamedRef}} WelcomeMessage
 * @typedef {{type: "subscribed", channel: string, head: number, checkpoint: string | null}} SubscribedMessage
 * @typedef {{type: "event", event: HotlineEvent, checkpoint: string | null}} EventMessage
 * @typedef {{type: "result", ref: string, notice: Record<string, any> | null,
 *   check: Record<string, any> | null, created: boolean}} ResultMessage the answer to a
 *   command: a notice's (`receipt`, `send`, `decide`, `cancel`), or a check's (`answer_check`)
 * @typedef {{type: "error", ref: string | null, status: number, code: string, detail: string,
 *   errors?: Array<Record<string, any>>, decision?: Record<string, any>}} ErrorMessage
 * @typedef {{type: "presence", channel: string, online: Record<string, string[]>}} PresenceMessage
 * @typedef {WelcomeMessage | SubscribedMessage | EventMessage | ResultMessage | ErrorMessage
 *   | PresenceMessage} ServerMessage
 */

/**
 * Every type of log entry this SDK knows (`EventType` in client/protocol/vocabulary.py). An
 * event of another type is still delivered, verified, in order: a newer server may log more.
 */
export const EVENT_TYPES = Object.freeze([
  "notice.sent",
  "notice.received",
  "notice.acknowledged",
  "notice.objected",
  "notice.cancelled",
  "notice.overdue",
  "operator.key_registered",
  "notice.reminded",
  "notice.escalated",
  "check.requested",
  "check.answered",
  "check.missed",
  "conflict.detected",
  "conflict.resolved",
  "channel.policy_proposed",
  "channel.policy_changed",
  "channel.policy_withdrawn",
  "webhook.disabled",
]);

const ROLES = new Set(["operator", "observer", "admin"]);
const STATUSES = new Set(["sent", "delivered", "acknowledged", "objected", "cancelled", "overdue"]);

/** Thrown inside this module for a message that does not match; caught by `parseServerMessage`. */
class Mismatch extends Error {}

/**
 * @param {boolean} holds
 * @param {string} what
 * @returns {asserts holds}
 */
function expect(holds, what) {
  if (!holds) throw new Mismatch(what);
}

/** @param {unknown} value @returns {value is Record<string, any>} */
const isObject = (value) => typeof value === "object" && value !== null && !Array.isArray(value);
/** @param {unknown} value @returns {value is string} */
const isString = (value) => typeof value === "string";
/** @param {unknown} value @returns {value is number} */
const isInt = (value) => Number.isInteger(value);
/** @param {unknown} value */
const isTime = (value) => isString(value) && wireTime(value) !== undefined;

/** @param {unknown} ref @param {string} where */
function namedRef(ref, where) {
  expect(isObject(ref) && isString(ref.id) && isString(ref.name), `${where}: an id and a name`);
}

/** @param {unknown} actor @param {string} where */
function actor(actor, where) {
  expect(
    isObject(actor) && isString(actor.party) && isString(actor.operator),
    `${where}: a party and an operator`,
  );
}

/**
 * Check one event's shape (`Event` in schemas.py).
 * @param {unknown} event
 * @returns {asserts event is HotlineEvent}
 */
function checkEvent(event) {
  expect(isObject(event), "event: an object");
  expect(isString(event.channel), "event.channel: a string");
  expect(isInt(event.seq), "event.seq: an integer");
  expect(isString(event.type), "event.type: a string");
  expect(isTime(event.at), "event.at: an RFC 3339 time with a zone");
  expect("actor" in event, "event.actor: required");
  if (event.actor !== null) actor(event.actor, "event.actor");
  expect(isObject(event.data), "event.data: an object");
}

/** @param {unknown} notice */
function checkNotice(notice) {
  expect(isObject(notice), "notice: an object");
  expect(isString(notice.id) && isString(notice.channel), "notice: an id and a channel");
  actor(notice.sender, "notice.sender");
  expect(isString(notice.status) && STATUSES.has(notice.status), "notice.status: a status");
  expect(isInt(notice.seq), "notice.seq: an integer");
}

/** @param {unknown} check */
function checkCheck(check) {
  expect(isObject(check), "check: an object");
  expect(isString(check.id) && isString(check.party), "check: an id and a party");
}

/** @param {unknown} value */
const optionalString = (value) => value === undefined || value === null || isString(value);

/**
 * Parse one server message, whole.
 * @param {string} text the text of one frame
 * @returns {{message: ServerMessage, raw: Record<string, any>} | {ignored: string}} the message
 *   (with the decoded JSON it came as), or why it is passed over
 */
export function parseServerMessage(text) {
  /** @type {unknown} */
  let raw;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { ignored: `not JSON (${/** @type {Error} */ (error).message})` };
  }
  try {
    expect(isObject(raw), "a JSON object");
    return { message: check(raw), raw };
  } catch (error) {
    if (error instanceof Mismatch) return { ignored: error.message };
    throw error;
  }
}

/**
 * @param {Record<string, any>} raw
 * @returns {ServerMessage}
 */
function check(raw) {
  switch (raw.type) {
    case "welcome":
      namedRef(raw.operator, "welcome.operator");
      namedRef(raw.party, "welcome.party");
      expect(ROLES.has(raw.role), "welcome.role: a role");
      return { type: "welcome", operator: raw.operator, role: raw.role, party: raw.party };
    case "subscribed":
      expect(isString(raw.channel), "subscribed.channel: a string");
      expect(isInt(raw.head), "subscribed.head: an integer");
      expect(optionalString(raw.checkpoint), "subscribed.checkpoint: a string or null");
      return {
        type: "subscribed",
        channel: raw.channel,
        head: raw.head,
        checkpoint: raw.checkpoint ?? null,
      };
    case "event":
      checkEvent(raw.event);
      expect(optionalString(raw.checkpoint), "event.checkpoint: a string or null");
      return { type: "event", event: raw.event, checkpoint: raw.checkpoint ?? null };
    case "result":
      expect(isString(raw.ref), "result.ref: a string");
      expect(raw.notice != null || raw.check != null, "result: a notice or a check");
      if (raw.notice != null) checkNotice(raw.notice);
      if (raw.check != null) checkCheck(raw.check);
      expect(typeof raw.created === "boolean", "result.created: true or false");
      return {
        type: "result",
        ref: raw.ref,
        notice: raw.notice ?? null,
        check: raw.check ?? null,
        created: raw.created,
      };
    case "error":
      expect(optionalString(raw.ref), "error.ref: a string or null");
      expect(isInt(raw.status), "error.status: an integer");
      expect(isString(raw.code) && isString(raw.detail), "error: a code and a detail");
      expect(raw.errors == null || Array.isArray(raw.errors), "error.errors: a list");
      expect(raw.decision == null || isObject(raw.decision), "error.decision: an object");
      // Kept whole: extension members (such as `decision`) belong to the problem.
      return { ...raw, type: "error", ref: raw.ref ?? null, status: raw.status, code: raw.code, detail: raw.detail };
    case "presence":
      expect(isString(raw.channel), "presence.channel: a string");
      expect(
        isObject(raw.online) &&
          Object.values(raw.online).every((ids) => Array.isArray(ids) && ids.every(isString)),
        "presence.online: lists of operator ids by party",
      );
      return { type: "presence", channel: raw.channel, online: raw.online };
    default:
      throw new Mismatch(`a message of unknown type ${JSON.stringify(raw.type)}`);
  }
}
