/**
 * A notice draft from the compose form's values, checked against the protocol's limits
 * (`client/protocol/limits.py`) before anything is sent.
 *
 * Checking here is a courtesy, not a defence: the server checks again and has the last
 * word. But a body pasted 10,001 characters long should be told so at once, whole, rather
 * than cut short by a `maxlength` the writer never sees.
 * @module
 */

import { fromLocalInput } from "./format.js";

export const MAX_SUBJECT = 200;
export const MAX_BODY = 10_000;
export const MAX_AREA = 200;
export const MAX_REASON = 2_000;

// As the server's check_text and check_line: controls hide text or break a terminal.
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/;
const LINE_BREAK = /[\r\n\u2028\u2029]/;

/**
 * @typedef {object} FormValues
 * @property {string} subject
 * @property {string} body
 * @property {string} priority
 * @property {string} startsAt a `datetime-local` value, or ""
 * @property {string} endsAt a `datetime-local` value, or ""
 * @property {string} area
 * @property {string} bbox four numbers, "west, south, east, north", or ""
 * @property {boolean} ackRequired
 * @property {string} refersTo a notice id, or ""
 */

/**
 * A notice as the wire's NoticeDraft has it (`id` is added when sending).
 * @typedef {object} Draft
 * @property {string} subject
 * @property {string} body
 * @property {string} priority
 * @property {{starts_at: string, ends_at: string} | null} activity
 * @property {string | null} area
 * @property {[number, number, number, number] | null} bbox
 * @property {boolean} ack_required
 * @property {string | null} refers_to
 */

/**
 * The draft the values make, or what is wrong with them, by field.
 * @param {FormValues} values
 * @returns {{draft: Draft | null, errors: Record<string, string>}}
 */
export function readDraft(values) {
  /** @type {Record<string, string>} */
  const errors = {};
  const subject = values.subject.trim();
  if (!subject) errors.subject = "A notice needs a subject.";
  else errors.subject = lineProblem(subject, MAX_SUBJECT) ?? "";
  errors.body = textProblem(values.body, MAX_BODY) ?? "";
  const area = values.area.trim();
  errors.area = area ? (lineProblem(area, MAX_AREA) ?? "") : "";
  let activity = null;
  try {
    activity = window(values.startsAt, values.endsAt);
  } catch (error) {
    errors.activity = error instanceof RangeError ? error.message : String(error);
  }
  let bbox = null;
  try {
    bbox = box(values.bbox);
    if (bbox && !area) errors.bbox = "A box needs an area: the area names the place.";
  } catch (error) {
    errors.bbox = error instanceof RangeError ? error.message : String(error);
  }
  for (const field of Object.keys(errors)) if (!errors[field]) delete errors[field];
  if (Object.keys(errors).length) return { draft: null, errors };
  return {
    draft: {
      subject,
      body: values.body,
      priority: values.priority,
      activity,
      area: area || null,
      bbox,
      ack_required: values.ackRequired,
      refers_to: values.refersTo || null,
    },
    errors,
  };
}

/**
 * @param {string} startsAt
 * @param {string} endsAt
 * @returns {{starts_at: string, ends_at: string} | null}
 * @throws {RangeError} one end without the other, or an end before the start
 */
function window(startsAt, endsAt) {
  if (!startsAt && !endsAt) return null;
  if (!startsAt || !endsAt) throw new RangeError("Give both the start and the end, or neither.");
  const starts_at = fromLocalInput(startsAt);
  const ends_at = fromLocalInput(endsAt);
  if (!starts_at || !ends_at || Date.parse(ends_at) <= Date.parse(starts_at)) {
    throw new RangeError("The activity must end after it starts.");
  }
  return { starts_at, ends_at };
}

/**
 * A bounding box typed as four numbers (RFC 7946 §5), checked as the server checks it.
 * @param {string} text "west, south, east, north", commas or spaces between
 * @returns {[number, number, number, number] | null} null when left empty
 * @throws {RangeError} not four numbers, or outside the world
 */
function box(text) {
  const parts = text.trim().split(/[\s,]+/).filter(Boolean);
  if (!parts.length) return null;
  const numbers = parts.map(Number);
  if (numbers.length !== 4 || !numbers.every(Number.isFinite)) {
    throw new RangeError("Four numbers: west, south, east, north (degrees).");
  }
  const [west, south, east, north] = numbers;
  if (Math.abs(west) > 180 || Math.abs(east) > 180) {
    throw new RangeError("Longitudes (west, east) are within -180 and 180.");
  }
  if (!(-90 <= south && south <= north && north <= 90)) {
    throw new RangeError("Latitudes are within -90 and 90, the south one first.");
  }
  return [west, south, east, north];
}

/**
 * What is wrong with a free text, if anything.
 * @param {string} value
 * @param {number} limit in characters (code points, as the server counts them)
 * @returns {string | null}
 */
export function textProblem(value, limit) {
  const length = [...value].length;
  if (length > limit) {
    return `${length.toLocaleString("en")} characters: at most ${limit.toLocaleString("en")}.`;
  }
  if (CONTROL.test(value)) return "Control characters are not allowed.";
  return null;
}

/**
 * What is wrong with a one-line text, if anything.
 * @param {string} value
 * @param {number} limit
 * @returns {string | null}
 */
function lineProblem(value, limit) {
  return textProblem(value, limit) ?? (LINE_BREAK.test(value) ? "Must be a single line." : null);
}

/**
 * The compose field a server's field error is about ("body.activity.starts_at" → activity).
 * @param {string} path
 * @returns {string}
 */
export function fieldOf(path) {
  const parts = path.split(".");
  const known = [
    "subject",
    "body",
    "priority",
    "activity",
    "area",
    "bbox",
    "refers_to",
    "ack_required",
    "attachments",
  ];
  // The request body is itself called "body" in a validation error's path: skip it.
  return (
    parts.slice(1).find((part) => known.includes(part)) ??
    parts.find((p) => known.includes(p)) ??
    ""
  );
}
