/**
 * What to tell a person about an event that just arrived: one sentence, or nothing.
 * @module
 */

import { partyName } from "./context.js";
import { subject as named, whom } from "./describe.js";
import { dateTime, shorten } from "./format.js";

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
  if (entry.effect !== "applied") return null;
  const aside = clockOrPolicy(entry, book, channel, party);
  if (aside !== undefined) return aside;
  const notice = entry.notice ? book.notices.get(entry.notice) : undefined;
  if (!notice) return null;
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
    case "notice.reminded": {
      const count = `${event.data.reminder} of ${event.data.of}`;
      return event.data.party === party
        ? `Reminder ${count}: ${subject} still awaits your answer.`
        : `${partyName(channel, String(event.data.party))} was reminded (${count}) of ${subject}.`;
    }
    case "notice.escalated":
      return `${subject} was ESCALATED to ${whom(event.data.to, partyName(channel, String(event.data.party)))}.`;
    default:
      return null;
  }
}

/**
 * The sentence for an event of the clock, the policy or the server that is about no single
 * notice; `undefined` for the other events.
 * @param {import("./notices.js").LogEntry} entry
 * @param {import("./notices.js").NoticeBook} book
 * @param {import("./context.js").Channel} channel
 * @param {string} party the viewer's party
 * @returns {string | null | undefined}
 */
function clockOrPolicy(entry, book, channel, party) {
  const { event } = entry;
  const data = /** @type {Record<string, any>} */ (event.data);
  const asked = partyName(channel, String(data.party));
  const pair = () => `${named(book, data.notices[0])} and ${named(book, data.notices[1])}`;
  const proposer = partyName(channel, event.actor?.party ?? "");
  switch (event.type) {
    case "check.requested":
      return data.party === party
        ? `Liveness check: answer by ${dateTime(data.answer_by)} to show ${asked} is listening.`
        : null; // the other party's check is its own business until it is missed
    case "check.answered":
      return data.party === party ? `Check answered by ${event.actor?.operator}.` : null;
    case "check.missed":
      return `${asked} MISSED a liveness check; escalated to ${whom(data.to, asked)}.`;
    case "conflict.detected":
      return `CONFLICT: ${pair()} overlap in ${data.area}.`;
    case "conflict.resolved":
      return `Conflict resolved: ${pair()} no longer overlap.`;
    case "channel.policy_proposed":
      return `${proposer} proposes a new channel policy, open until ${dateTime(data.lapses_at)}.`;
    case "channel.policy_changed":
      return `The proposed policy was accepted by ${proposer}: it is in force now.`;
    case "channel.policy_withdrawn":
      return `${proposer} withdrew its policy proposal.`;
    case "webhook.disabled":
      // The other party's subscriptions are its own business; its log line still shows it.
      return data.party === party
        ? `${asked}'s webhook ${String(data.webhook).slice(0, 8)} was DISABLED by the server ` +
            `after ${data.failures} ${data.failures === 1 ? "delivery" : "deliveries"} given up; ` +
            "an admin can enable it again."
        : null;
    default:
      return undefined;
  }
}

/**
 * "urgent " or "important ", said before "notice"; nothing for a routine one.
 * @param {string} priority
 */
function pressing(priority) {
  return priority === "routine" ? "" : `${priority} `;
}
