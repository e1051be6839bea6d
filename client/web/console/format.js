/**
 * Words and times as people read them: statuses, priorities, durations, dates.
 *
 * Times on the wire are RFC 3339 in UTC; the console shows them in the browser's own time
 * zone, with the full UTC time in a `<time datetime>` element for anyone who needs it.
 * @module
 */

/** @type {Record<string, string>} */
const STATUS_WORDS = {
  sent: "sent",
  delivered: "delivered",
  acknowledged: "acknowledged",
  objected: "objected",
  cancelled: "cancelled",
  overdue: "OVERDUE",
};

/**
 * A status as the console spells it (overdue shouts, the rest do not).
 * @param {string} status
 * @returns {string}
 */
export function statusWord(status) {
  return STATUS_WORDS[status] ?? status;
}

/**
 * A duration in words, to the two largest units: "2 days 3 hours", "5 minutes", "40 seconds";
 * under a second, in milliseconds: "12 ms".
 * @param {number} milliseconds a length of time; its sign is ignored
 * @returns {string}
 */
export function duration(milliseconds) {
  const span = Math.abs(milliseconds);
  // A check answered by a program takes milliseconds: "0 seconds" would hide that it was.
  if (span > 0 && span < 999.5) return `${Math.round(span)} ms`;
  let seconds = Math.floor(Math.round(span) / 1000);
  if (seconds < 60) return plural(seconds, "second");
  /** @type {string[]} */
  const parts = [];
  for (const [unit, size] of /** @type {const} */ ([
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ])) {
    const count = Math.floor(seconds / size);
    seconds -= count * size;
    if (count && parts.length < 2) parts.push(plural(count, unit));
    else if (parts.length) break; // "2 days 5 minutes" would skip the hours: stop instead
  }
  return parts.join(" ");
}

/**
 * @param {number} count
 * @param {string} unit
 */
function plural(count, unit) {
  return `${count} ${unit}${count === 1 ? "" : "s"}`;
}

/**
 * Where a notice stands against its acknowledgement deadline, or null when that is moot.
 * @param {{status: string, ackDueAt: string | null}} notice
 * @param {number} now milliseconds since the epoch
 * @returns {{text: string, late: boolean} | null}
 */
export function deadlineText(notice, now) {
  if (!notice.ackDueAt || !["sent", "delivered", "overdue"].includes(notice.status)) return null;
  const left = Date.parse(notice.ackDueAt) - now;
  if (left >= 0) return { text: `answer due in ${duration(left)}`, late: false };
  return { text: `${duration(left)} past the deadline`, late: true };
}

const DATE_TIME = new Intl.DateTimeFormat(undefined, {
  dateStyle: "medium",
  timeStyle: "short",
});
const SHORT_DAY = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric" });
const DATE = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

/**
 * A wire time for people: "21 Nov 2026, 09:30" in the browser's time zone.
 * @param {string} time RFC 3339
 * @returns {string}
 */
export function dateTime(time) {
  const parsed = Date.parse(time);
  return Number.isNaN(parsed) ? time : DATE_TIME.format(parsed);
}

/**
 * A date for people: "7 Dec 2026".
 * @param {number} time milliseconds since the epoch
 * @returns {string}
 */
export function date(time) {
  return DATE.format(time);
}

/**
 * A day label for a time axis: "Mon 7".
 * @param {number} time milliseconds since the epoch
 * @returns {string}
 */
export function shortDay(time) {
  return SHORT_DAY.format(time);
}

/**
 * A window of time in words: "7 Dec 2026, 07:00 – 11 Dec 2026, 17:00".
 * @param {{starts_at: string, ends_at: string}} window
 * @returns {string}
 */
export function windowText(window) {
  return `${dateTime(window.starts_at)} – ${dateTime(window.ends_at)}`;
}

/**
 * A `datetime-local` input's value (local wall time) as a wire time (UTC), or null if empty.
 * @param {string} value "2026-12-07T07:00"
 * @returns {string | null}
 * @throws {RangeError} the value is not a time
 */
export function fromLocalInput(value) {
  if (!value) return null;
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime())) throw new RangeError(`${value} is not a time`);
  return parsed.toISOString();
}

/**
 * A wire time as a `datetime-local` input's value, in local wall time to the minute.
 * @param {number} time milliseconds since the epoch
 * @returns {string}
 */
export function toLocalInput(time) {
  const local = new Date(time - new Date(time).getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}

/**
 * The first characters of a long text, for one line of a list.
 * @param {string} text
 * @param {number} [length]
 * @returns {string}
 */
export function shorten(text, length = 80) {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}

/**
 * A number of bytes for people: "812 bytes", "14.2 KiB", "3.0 MiB" (as `hotline` prints it).
 * @param {number} size
 * @returns {string}
 */
export function byteSize(size) {
  if (size < 1024) return `${size} byte${size === 1 ? "" : "s"}`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KiB`;
  return `${(size / (1024 * 1024)).toFixed(1)} MiB`;
}
