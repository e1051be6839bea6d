/**
 * What an event of the clock, of the policy or of the server says, in a few words for a log
 * line: "reminder 2 of 3 to City Roads", "escalated to dev", "answered by carla in 4
 * seconds", "Riverside Water's webhook 3f2a9c1e was disabled after 10 deliveries given
 * up". The notice events need none, their type and their notice's subject say it, but for
 * the files a notice carries: "with 2 files: plan.pdf, map.geojson".
 * @module
 */

import { partyName } from "./context.js";
import { dateTime, duration, shorten } from "./format.js";

/**
 * @typedef {import("./notices.js").LogEntry} LogEntry
 * @typedef {import("./notices.js").NoticeBook} NoticeBook
 * @typedef {import("./context.js").Channel} Channel
 */

/**
 * The few words that say what `entry`'s event did, or "" when its type says it all.
 * @param {LogEntry} entry
 * @param {Channel} channel
 * @param {NoticeBook} [book] to name notices and proposals
 * @returns {string}
 */
export function eventDetail(entry, channel, book) {
  if (entry.effect !== "applied") return "";
  const { event } = entry;
  const data = /** @type {Record<string, any>} */ (event.data);
  const party = (/** @type {unknown} */ id) => partyName(channel, String(id));
  switch (event.type) {
    case "notice.sent":
      return files(data.attachments);
    case "notice.reminded":
      return `reminder ${data.reminder} of ${data.of} to ${party(data.party)}`;
    case "notice.escalated":
      return `escalated to ${whom(data.to, party(data.party))}`;
    case "check.requested":
      return `${party(data.party)} asked to answer by ${dateTime(data.answer_by)}`;
    case "check.answered":
      return `${party(data.party)} answered in ${duration(data.answered_in_ms)}`;
    case "check.missed":
      return `${party(data.party)} did not answer: escalated to ${whom(data.to, party(data.party))}`;
    case "conflict.detected":
      return (
        `they overlap in ${data.area}, ` +
        `${dateTime(data.overlap?.starts_at)} – ${dateTime(data.overlap?.ends_at)}`
      );
    case "conflict.resolved":
      return data.reason === "cancelled"
        ? `resolved: ${subject(book, data.by)} was cancelled`
        : `resolved: ${subject(book, data.by)} updates its plan`;
    case "channel.policy_proposed":
      return `${party(event.actor?.party)} proposes a policy, open until ${dateTime(data.lapses_at)}`;
    case "channel.policy_changed":
      return (
        `${party(event.actor?.party)} accepted ${party(data.proposed_by?.party)}'s policy: ` +
        "in force"
      );
    case "channel.policy_withdrawn":
      return `${party(event.actor?.party)} withdrew its proposal`;
    case "webhook.disabled":
      return (
        `${party(data.party)}'s webhook ${String(data.webhook).slice(0, 8)} was disabled ` +
        `after ${data.failures} ${data.failures === 1 ? "delivery" : "deliveries"} given up` +
        (data.reason ? `: ${shorten(String(data.reason), 120)}` : "")
      );
    default:
      return "";
  }
}

/**
 * The files a notice lists, by name: "with 1 file: plan.pdf"; "" for none.
 * @param {unknown} listed
 * @returns {string}
 */
export function files(listed) {
  if (!Array.isArray(listed) || !listed.length) return "";
  const names = listed.map((file) => String(file?.name));
  return `with ${listed.length} file${listed.length === 1 ? "" : "s"}: ${names.join(", ")}`;
}

/**
 * The operators an escalation went to; nobody named means the party's admins.
 * @param {unknown} to
 * @param {string} party the party's name
 * @returns {string}
 */
export function whom(to, party) {
  return Array.isArray(to) && to.length ? to.join(", ") : `${party}'s admins`;
}

/**
 * A notice named by its subject in quotes, or by its id where the book does not have it.
 * @param {NoticeBook | undefined} book
 * @param {string} id
 * @returns {string}
 */
export function subject(book, id) {
  const notice = book?.notices.get(id);
  return notice ? `“${shorten(notice.subject, 50)}”` : `notice ${String(id).slice(0, 8)}`;
}
