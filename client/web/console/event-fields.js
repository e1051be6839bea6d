/**
 * Reading the fields of a verified event's `data`: each reader returns the value, or throws
 * `UnreadableEvent` saying what is wrong, so that an event is taken whole or not at all.
 * Shared by the books that fold the log (notices, conflicts, checks, policy).
 * @module
 */

/**
 * @typedef {{party: string, operator: string}} Actor
 * @typedef {{channel: string, seq: number, type: string, at: string,
 *   actor: Actor | null, data: Record<string, unknown>}} HotlineEvent
 */

/** An event that does not say what its type requires. */
export class UnreadableEvent extends Error {}

/**
 * @param {unknown} value
 * @returns {value is Record<string, unknown>}
 */
export function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * @param {unknown} value
 * @returns {value is string}
 */
export function isTime(value) {
  return typeof value === "string" && !Number.isNaN(Date.parse(value));
}

/**
 * @param {Record<string, unknown>} data
 * @param {string} field
 * @returns {string}
 */
export function text(data, field) {
  const value = data[field];
  if (typeof value !== "string") throw new UnreadableEvent(`${field} is missing or not text`);
  return value;
}

/**
 * @param {Record<string, unknown>} data
 * @param {string} field
 * @returns {string | null}
 */
export function maybeText(data, field) {
  return data[field] === null || data[field] === undefined ? null : text(data, field);
}

/**
 * @param {Record<string, unknown>} data
 * @param {string} field
 * @returns {string}
 */
export function time(data, field) {
  const value = text(data, field);
  if (!isTime(value)) throw new UnreadableEvent(`${field} is not a time`);
  return value;
}

/**
 * @param {Record<string, unknown>} data
 * @param {string} field
 * @returns {string | null}
 */
export function maybeTime(data, field) {
  return data[field] === null || data[field] === undefined ? null : time(data, field);
}

/**
 * @param {Record<string, unknown>} data
 * @param {string} field
 * @param {number} [least] the smallest value allowed
 * @returns {number}
 */
export function integer(data, field, least = 0) {
  const value = data[field];
  if (!Number.isInteger(value) || /** @type {number} */ (value) < least) {
    throw new UnreadableEvent(`${field} is not a whole number of at least ${least}`);
  }
  return /** @type {number} */ (value);
}

/**
 * A list of texts, such as the operators an escalation went to; missing is empty.
 * @param {Record<string, unknown>} data
 * @param {string} field
 * @returns {string[]}
 */
export function texts(data, field) {
  const value = data[field] ?? [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
    throw new UnreadableEvent(`${field} is not a list of texts`);
  }
  return value;
}

/**
 * The operator an event names as its actor; an event of this type must have one.
 * @param {HotlineEvent} event
 * @returns {Actor}
 */
export function actorOf(event) {
  if (!event.actor) throw new UnreadableEvent(`${event.type} by nobody`);
  return event.actor;
}
