/**
 * Notices and decisions as the client writes them, checked before they leave: the rules of
 * `client/protocol/schemas.py` and `client/protocol/limits.py`, refused the way the server
 * would refuse them (a `ProblemError` 422 `invalid-request` with one entry per field), as
 * `client/drafts.py` does for the Python client.
 * @module
 */

import { MAX_ATTACHMENTS, acceptedMediaType } from "./attachments.js";
import { ProblemError } from "./errors.js";

export const MAX_SUBJECT = 200;
export const MAX_BODY = 10_000;
export const MAX_AREA = 200;
export const MAX_REASON = 2_000;

/** The priorities a notice may have (`client/protocol/vocabulary.py`). */
export const PRIORITIES = Object.freeze(["routine", "important", "urgent"]);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})$/;
// C0 and C1 controls and DEL, but for tab, line feed and carriage return in free text:
// they can hide text from a reader or move a terminal's cursor (limits.py says the same).
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/;
const LINE_BREAK = /[\r\n\u2028\u2029]/;
const DRAFT_FIELDS = new Set([
  "id",
  "subject",
  "body",
  "priority",
  "activity",
  "area",
  "bbox",
  "ack_required",
  "refers_to",
  "client_time",
  "attachments",
  "signature",
]);
const SIGNATURE = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * A notice as the sending client writes it (`NoticeDraft` on the wire).
 * @typedef {object} NoticeDraft
 * @property {string} [id] a UUID chosen by the client; made with `crypto.randomUUID()` if absent
 * @property {string} subject one line, 1 to 200 characters
 * @property {string} [body] free text, at most 10,000 characters
 * @property {"routine" | "important" | "urgent"} [priority]
 * @property {{starts_at: string | Date, ends_at: string | Date} | null} [activity]
 * @property {string | null} [area] where: one line, 1 to 200 characters
 * @property {BoundingBox | null} [bbox] where, more precisely: only with an `area`, which
 *   names the place; two notices whose boxes do not meet do not conflict
 * @property {boolean} [ack_required] whether the other party must acknowledge or object
 * @property {string | null} [refers_to] an earlier notice of the channel that this one updates
 * @property {string | Date | null} [client_time] the client's clock; now, if absent
 * @property {import("./attachments.js").Attachment[]} [attachments] files uploaded first
 *   (`uploadAttachment`), as the upload listed them; at most 10
 * @property {string | null} [signature] the operator's signature, if it signs
 */

/**
 * A box of longitudes and latitudes, `[west, south, east, north]`: the `bbox` of RFC 7946
 * (GeoJSON) §5. Longitudes within -180 and 180, latitudes within -90 and 90, south not above
 * north; a west greater than its east is a box that crosses the antimeridian.
 * @typedef {[west: number, south: number, east: number, north: number]} BoundingBox
 */

/** Collects what is wrong with a request, field by field. */
class Findings {
  constructor() {
    /** @type {Array<{field: string, message: string}>} */
    this.errors = [];
  }

  /**
   * @param {string} field
   * @param {string} message
   */
  add(field, message) {
    this.errors.push({ field, message });
  }

  /**
   * A problem for what was found, or nothing.
   * @returns {ProblemError | null}
   */
  problem() {
    if (this.errors.length === 0) return null;
    const detail = this.errors.map((e) => `${e.field}: ${e.message}`).join("; ");
    return new ProblemError({ status: 422, code: "invalid-request", detail, errors: this.errors });
  }
}

/** The length Python counts: code points, not UTF-16 units. */
const length = (/** @type {string} */ text) => [...text].length;

/**
 * @param {Findings} found
 * @param {string} field
 * @param {unknown} value
 * @param {{min: number, max: number, line: boolean}} rule
 */
function checkText(found, field, value, { min, max, line }) {
  if (typeof value !== "string") {
    found.add(field, "must be a string");
  } else if (length(value) < min || length(value) > max) {
    found.add(field, min > 0 ? `must be ${min} to ${max} characters` : `at most ${max} characters`);
  } else if (min > 0 && !/\S/.test(value)) {
    found.add(field, "must not be blank");
  } else if (CONTROL.test(value)) {
    found.add(field, "control characters are not allowed");
  } else if (line && LINE_BREAK.test(value)) {
    found.add(field, "must be a single line");
  }
}

/**
 * A time as the protocol spells it, or `undefined` if `value` is not an RFC 3339 time with a zone.
 * @param {unknown} value a `Date`, or a string such as `2026-12-07T07:00:00+01:00`
 * @returns {string | undefined} such as `2026-12-07T06:00:00.000Z`
 */
export function wireTime(value) {
  const moment =
    value instanceof Date
      ? value
      : typeof value === "string" && TIME.test(value)
        ? new Date(value)
        : null;
  return moment === null || Number.isNaN(moment.getTime()) ? undefined : moment.toISOString();
}

/**
 * A notice id in its canonical spelling.
 * @param {unknown} id
 * @returns {string}
 * @throws {TypeError} `id` is not a UUID
 */
export function noticeId(id) {
  if (typeof id !== "string" || !UUID.test(id)) {
    throw new TypeError(`${JSON.stringify(id)} is not a notice id (a UUID)`);
  }
  return id.toLowerCase();
}

/**
 * The draft to send: checked, with an id and the client's time filled in when absent.
 * @param {NoticeDraft} draft
 * @returns {Record<string, unknown>} the JSON body of `POST …/notices`
 * @throws {ProblemError} 422 `invalid-request`: the draft breaks the schema
 */
export function buildDraft(draft) {
  const found = new Findings();
  if (draft === null || typeof draft !== "object") {
    found.add("draft", "must be an object");
    throw found.problem();
  }
  for (const key of Object.keys(draft)) {
    if (!DRAFT_FIELDS.has(key)) found.add(key, "extra fields are not permitted");
  }
  /** @type {Record<string, unknown>} */
  const out = {};
  const id = draft.id ?? globalThis.crypto.randomUUID();
  if (typeof id === "string" && UUID.test(id)) out.id = id.toLowerCase();
  else found.add("id", "must be a UUID");
  checkText(found, "subject", draft.subject, { min: 1, max: MAX_SUBJECT, line: true });
  out.subject = draft.subject;
  if (draft.body !== undefined) {
    checkText(found, "body", draft.body, { min: 0, max: MAX_BODY, line: false });
    out.body = draft.body;
  }
  if (draft.priority !== undefined) {
    if (!PRIORITIES.includes(draft.priority)) {
      found.add("priority", `must be one of ${PRIORITIES.join(", ")}`);
    }
    out.priority = draft.priority;
  }
  if (draft.activity != null) out.activity = activityWindow(found, draft.activity);
  if (draft.area != null) {
    checkText(found, "area", draft.area, { min: 1, max: MAX_AREA, line: true });
    out.area = draft.area;
  }
  if (draft.bbox != null) {
    out.bbox = boundingBox(found, draft.bbox);
    if (draft.area == null) found.add("bbox", "a bbox needs an area: the label names the place");
  }
  if (draft.ack_required !== undefined) {
    if (typeof draft.ack_required !== "boolean") found.add("ack_required", "must be true or false");
    out.ack_required = draft.ack_required;
  }
  if (draft.refers_to != null) {
    if (typeof draft.refers_to === "string" && UUID.test(draft.refers_to)) {
      out.refers_to = draft.refers_to.toLowerCase();
    } else {
      found.add("refers_to", "must be a UUID");
    }
  }
  // A claim kept beside the server's time, never in its place (as client/drafts.py sends it).
  out.client_time = wireTime(draft.client_time ?? new Date());
  if (out.client_time === undefined) found.add("client_time", "must be an RFC 3339 time with a zone");
  // Only when there are some: a notice without files is sent, and signed, as before them.
  if (draft.attachments != null && !(Array.isArray(draft.attachments) && !draft.attachments.length)) {
    out.attachments = attachmentList(found, draft.attachments);
  }
  if (draft.signature != null) {
    if (typeof draft.signature !== "string" || !SIGNATURE.test(draft.signature)) {
      found.add("signature", "must be base64");
    }
    out.signature = draft.signature;
  }
  const problem = found.problem();
  if (problem) throw problem;
  return out;
}

/**
 * @param {Findings} found
 * @param {unknown} window
 * @returns {Record<string, unknown>}
 */
function activityWindow(found, window) {
  if (typeof window !== "object" || window === null) {
    found.add("activity", "must be an object with starts_at and ends_at");
    return {};
  }
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const key of Object.keys(window)) {
    if (key !== "starts_at" && key !== "ends_at") {
      found.add(`activity.${key}`, "extra fields are not permitted");
    }
  }
  const times = /** @type {Record<string, unknown>} */ (window);
  for (const key of ["starts_at", "ends_at"]) {
    const time = wireTime(times[key]);
    if (time === undefined) found.add(`activity.${key}`, "must be an RFC 3339 time with a zone");
    out[key] = time;
  }
  return out;
}

/**
 * A bounding box checked as `BoundingBox` in server/domain/model.py checks it.
 * @param {Findings} found
 * @param {unknown} box
 * @returns {unknown} the box to send: a copy, so that a later change to the caller's array
 *   cannot change what was checked
 */
function boundingBox(found, box) {
  if (!Array.isArray(box) || box.length !== 4 || !box.every((v) => typeof v === "number")) {
    found.add("bbox", "must be four numbers: west, south, east, north");
    return box;
  }
  const [west, south, east, north] = box;
  if (!box.every(Number.isFinite)) {
    found.add("bbox", "bbox values must be finite numbers");
  } else if (!(Math.abs(west) <= 180 && Math.abs(east) <= 180)) {
    found.add("bbox", "bbox longitudes must be within -180 and 180");
  } else if (!(-90 <= south && south <= north && north <= 90)) {
    found.add("bbox", "bbox latitudes must be within -90 and 90, south first");
  }
  return [west, south, east, north];
}

/**
 * A notice's list of files, each checked as `Attachment` in client/protocol/schemas.py
 * checks it.
 * @param {Findings} found
 * @param {unknown} files
 * @returns {unknown} a copy of the listings, to send
 */
function attachmentList(found, files) {
  if (!Array.isArray(files)) {
    found.add("attachments", "must be a list of files");
    return files;
  }
  if (files.length > MAX_ATTACHMENTS) {
    found.add("attachments", `at most ${MAX_ATTACHMENTS} files`);
  }
  return files.map((file, index) => {
    const where = `attachments.${index}`;
    if (typeof file !== "object" || file === null) {
      found.add(where, "must be a file's listing, as the upload answered it");
      return file;
    }
    const { sha256, size, media_type, name, ...extra } = file;
    for (const key of Object.keys(extra)) found.add(`${where}.${key}`, "extra fields are not permitted");
    if (typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256)) {
      found.add(`${where}.sha256`, "must be 64 lower-case hex digits");
    }
    if (!Number.isInteger(size) || size < 1) found.add(`${where}.size`, "must be a whole number of bytes, at least 1");
    if (typeof media_type !== "string" || !acceptedMediaType(media_type)) {
      found.add(`${where}.media_type`, "must be a type a notice may carry");
    }
    checkText(found, `${where}.name`, name, { min: 1, max: 255, line: true });
    if (typeof name === "string" && /[/\\]/.test(name)) found.add(`${where}.name`, "no / or \\");
    return { sha256, size, media_type, name };
  });
}

/**
 * An acknowledgement or an objection, as `POST …/decision` takes it.
 * @param {"acknowledged" | "objected"} decision
 * @param {string | null | undefined} reason why; the server requires one for an objection
 * @returns {Record<string, unknown>}
 * @throws {ProblemError} 422 `invalid-request`: the reason is too long or holds control characters
 */
export function buildDecision(decision, reason) {
  const found = new Findings();
  /** @type {Record<string, unknown>} */
  const out = { decision, client_time: new Date().toISOString() };
  if (reason != null) {
    checkText(found, "reason", reason, { min: 0, max: MAX_REASON, line: false });
    out.reason = reason;
  }
  const problem = found.problem();
  if (problem) throw problem;
  return out;
}

/**
 * A cancellation, as `POST …/cancellation` takes it.
 * @param {string | null | undefined} reason why the notice is withdrawn, if said
 * @returns {Record<string, unknown>}
 * @throws {ProblemError} 422 `invalid-request`: the reason is too long or holds control characters
 */
export function buildCancellation(reason) {
  const found = new Findings();
  if (reason == null) return {};
  checkText(found, "reason", reason, { min: 0, max: MAX_REASON, line: false });
  const problem = found.problem();
  if (problem) throw problem;
  return { reason };
}
