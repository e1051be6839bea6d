/**
 * What to tell a person about an event that just arrived: one sentence, or nothing.
 * @module
 */

import { partyName } from "./context.js";
import { shorten } from "./format.js";

/**
 * The sentence that announces a log entry, from the viewer's side of the channel.
 * @param {import("./notices.js").LogEntry} entry
 * @param {import("./notices.js").NoticeBook} book
 * @param {import("./context.js").Channel} channel
 * @param {string} party the viewer's party
 * @returns {string | null}
 */
export function announcement(entry, book, channel, party) {
  const { event } = entry;
  if (entry.effect === "unreadable") {
    const what = `Event ${event.seq} (${event.type})`;
    return `${what} could not be read: ${entry.problem}. It changed nothing.`;
  }
  const notice = entry.notice ? book.notices.get(entry.notice) : undefined;
  if (entry.effect !== "applied" || !notice) return null;
  const subject = `“${shorten(notice.subject, 80)}”`;
  const who = event.actor?.operator ?? "the server";
  const sender = partyName(channel, notice.sender.party);
  switch (event.type) {
    case "notice.sent":
      return notice.sender.party === party
        ? `Sent: ${subject}.`
        : `New ${pressing(notice.priority)}notice from ${sender}: ${subject}.`;
    case "notice.received":
      // A receipt is news to the sender; to the receiver it is its own console's doing.
      return notice.sender.party === party
        ? `${subject} was delivered to ${partyName(channel, event.actor?.party ?? "")}.`
        : null;
    case "notice.acknowledged":
      return `${subject} was acknowledged by ${who}.`;
    case "notice.objected":
      return `${subject}: ${who} objected: ${notice.decision?.reason ?? ""}`;
    case "notice.cancelled":
      return `${subject} was cancelled by ${who}.`;
    case "notice.overdue":
      return `${subject} is OVERDUE: its deadline passed without an answer.`;
    default:
      return null;
  }
}

/**
 * "urgent " or "important ", said before "notice"; nothing for a routine one.
 * @param {string} priority
 */
function pressing(priority) {
  return priority === "routine" ? "" : `${priority} `;
}
