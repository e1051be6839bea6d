/**
 * The bytes an operator signs: the browser's counterpart of `client/protocol/signatures.py`,
 * byte for byte (`tests/vectors/signatures.json` holds both to the same output).
 *
 * An operator signs, for a notice it sends or a decision it gives, the canonical JSON
 * (RFC 8785, `canonical.js`) of the channel, the event's type, its party and operator, and
 * the fields of the event's `data` that the type signs. A field added to the protocol later
 * (a notice's `bbox`, its `attachments`) is signed only when present, not `null` and not an
 * empty list, so that every signature made before it existed still verifies.
 *
 * This module makes the bytes; it holds no key. A page that signs brings its own key, and
 * an auditor checks a signature against the bytes of the event as the log serves it.
 * @module
 */

import { canonicalJson } from "./canonical.js";

/**
 * By event type, the fields of the event's `data` that its operator signs; a missing one
 * counts as `null`.
 * @type {Readonly<Record<string, readonly string[]>>}
 */
export const SIGNED_FIELDS = Object.freeze({
  "notice.sent": Object.freeze([
    "notice",
    "subject",
    "body",
    "priority",
    "activity",
    "area",
    "ack_required",
    "refers_to",
    "client_time",
  ]),
  "notice.acknowledged": Object.freeze(["notice", "reason", "client_time"]),
  "notice.objected": Object.freeze(["notice", "reason", "client_time"]),
});

/**
 * By event type, the fields signed only when the event's `data` has them (and they are
 * neither `null` nor an empty list): added to the protocol later, so that the signatures
 * made before them still verify.
 * @type {Readonly<Record<string, readonly string[]>>}
 */
export const OPTIONAL_SIGNED_FIELDS = Object.freeze({
  "notice.sent": Object.freeze(["bbox", "attachments"]),
});

/** What a notice draft is sent with when it does not say (`NoticeDraft`'s defaults). */
const DRAFT_DEFAULTS = Object.freeze({
  body: "",
  priority: "routine",
  activity: null,
  area: null,
  ack_required: true,
  refers_to: null,
  client_time: null,
});

/**
 * The bytes an operator signs for an event of `type`.
 * @param {object} what
 * @param {string} what.channel the channel's id
 * @param {string} what.type `notice.sent`, `notice.acknowledged` or `notice.objected`
 * @param {string} what.party the party the operator speaks for (the event's `actor.party`)
 * @param {string} what.operator the signing operator's id (the name of its key)
 * @param {Record<string, unknown>} what.data the event's `data` as on the wire: only the
 *   signed fields are read
 * @returns {Uint8Array}
 * @throws {TypeError} `type` is not one that operators sign
 */
export function signedContent({ channel, type, party, operator, data }) {
  const names = Object.hasOwn(SIGNED_FIELDS, type) ? SIGNED_FIELDS[type] : null;
  if (names === null) throw new TypeError(`${type} events are not signed`);
  /** @type {Record<string, unknown>} */
  const content = {};
  for (const name of names) content[name] = Object.hasOwn(data, name) ? data[name] : null;
  for (const name of OPTIONAL_SIGNED_FIELDS[type] ?? []) {
    const value = Object.hasOwn(data, name) ? data[name] : null;
    if (value != null && !(Array.isArray(value) && value.length === 0)) content[name] = value;
  }
  return canonicalJson({ channel, type, party, operator, ...content });
}

/**
 * The bytes its operator signed for `event`, a log entry exactly as served.
 * @param {import("./messages.js").HotlineEvent} event
 * @returns {Uint8Array}
 * @throws {TypeError} the event is not of a signed type, or names no party and operator
 */
export function eventContent(event) {
  const actor = event.actor;
  if (actor === null || typeof actor.party !== "string" || typeof actor.operator !== "string") {
    throw new TypeError("an event without a party and an operator is not signed");
  }
  return signedContent({
    channel: event.channel,
    type: event.type,
    party: actor.party,
    operator: actor.operator,
    data: event.data,
  });
}

/**
 * The bytes to sign to send a notice: of the draft as `buildDraft` makes it (the body of
 * `POST …/notices`), with the defaults the server fills in for what it leaves out.
 * @param {Record<string, unknown>} draft what `buildDraft` returned
 * @param {{channel: string, party: string, operator: string}} signer the channel, and the
 *   party and operator the notice is sent for
 * @returns {Uint8Array}
 */
export function noticeContent(draft, { channel, party, operator }) {
  const { id, signature: _, ...rest } = draft;
  return signedContent({
    channel,
    type: "notice.sent",
    party,
    operator,
    data: { ...DRAFT_DEFAULTS, ...rest, notice: id },
  });
}
