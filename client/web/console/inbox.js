/**
 * The inbox: every notice of the channel, newest first, both ways, with where each
 * stands; searchable and filterable.
 * @module
 */

import { partyName, partySide } from "./context.js";
import { h, keepFocus, replace } from "./dom.js";
import { filterForm, matches, noFilters } from "./filters.js";
import { dateTime, deadlineText, shorten, statusWord } from "./format.js";
import { href } from "./router.js";

const PAGE = 100; // rows drawn at first, and added by "show more": a long history stays quick

/** The inbox view. */
export class InboxView {
  /**
   * @param {HTMLElement} root the view's section
   * @param {import("./context.js").Context} context
   */
  constructor(root, context) {
    this.context = context;
    this.filters = noFilters();
    this.count = h("p", { id: "inbox-count", class: "count", role: "status" });
    this.list = h("ul", { id: "inbox-list", class: "notices", "aria-labelledby": "inbox-title" });
    this.limit = PAGE;
    this.more = h("button", { type: "button", class: "quiet", id: "inbox-more" });
    this.more.addEventListener("click", () => {
      this.limit += PAGE;
      this.render();
    });
    const form = filterForm(this.filters, (filters) => {
      this.filters = filters;
      this.limit = PAGE;
      this.render();
    });
    replace(
      root,
      h("h2", { id: "inbox-title" }, "Notices"),
      form,
      this.count,
      this.list,
      this.more,
    );
  }

  render() {
    const { book, me, channel } = this.context;
    const all = book.list();
    const shown = all.filter((notice) => matches(notice, this.filters, me.party.id));
    const now = this.context.now();
    replace(
      this.count,
      all.length === shown.length
        ? `${all.length} notice${all.length === 1 ? "" : "s"}`
        : `${shown.length} of ${all.length} notices match`,
    );
    keepFocus(this.list, () =>
      replace(
        this.list,
        shown.length
          ? shown
              .slice(0, this.limit)
              .map((notice) =>
                row(notice, channel, me.party.id, now, openConflicts(book, notice.id)),
              )
          : h("li", { class: "empty" }, all.length ? "No notice matches." : "No notices yet."),
      ),
    );
    const hidden = shown.length - this.limit;
    this.more.hidden = hidden <= 0;
    replace(this.more, `Show ${Math.min(hidden, PAGE)} more (of ${hidden} older)`);
  }
}

/**
 * One line of the inbox.
 * @param {import("./notices.js").Notice} notice
 * @param {import("./context.js").Channel} channel
 * @param {string} party the viewer's party
 * @param {number} now
 * @param {number} [conflicts] how many open conflicts the server logged for it
 * @returns {HTMLLIElement}
 */
export function row(notice, channel, party, now, conflicts = 0) {
  const ours = notice.sender.party === party;
  const deadline = deadlineText(notice, now);
  return h(
    "li",
    { class: `notice side-${partySide(channel, notice.sender.party)}`, "data-notice": notice.id },
    h(
      "p",
      { class: "line" },
      h("a", { class: "subject", href: href("notice", notice.id) }, notice.subject),
      " ",
      statusBadge(notice.status),
      notice.priority !== "routine" && priorityBadge(notice.priority),
      conflicts > 0 &&
        h(
          "span",
          { class: "badge conflict" },
          conflicts === 1 ? "conflict" : `${conflicts} conflicts`,
        ),
    ),
    h(
      "p",
      { class: "meta" },
      h(
        "span",
        { class: "direction" },
        ours ? "Sent by us" : `From ${partyName(channel, notice.sender.party)}`,
      ),
      ` · ${notice.sender.operator} · `,
      h("time", { datetime: notice.sentAt }, dateTime(notice.sentAt)),
      notice.area && ` · ${shorten(notice.area, 40)}`,
    ),
    deadline &&
      h(
        "p",
        { class: deadline.late ? "deadline late" : "deadline" },
        deadline.text,
        chase(notice),
      ),
  );
}

/**
 * What the server did about a notice left unanswered: " · reminded 2 of 3", " · escalated".
 * @param {import("./notices.js").Notice} notice
 * @returns {string}
 */
function chase(notice) {
  const reminder = notice.reminders.at(-1);
  return (
    (reminder ? ` · reminded ${reminder.n} of ${reminder.of}` : "") +
    (notice.escalation ? " · ESCALATED" : "")
  );
}

/**
 * @param {import("./notices.js").NoticeBook} book
 * @param {string} notice
 */
function openConflicts(book, notice) {
  return book.conflicts.of(notice).filter((c) => c.resolved === null).length;
}

/**
 * @param {string} status
 * @returns {HTMLSpanElement}
 */
export function statusBadge(status) {
  return h("span", { class: `badge status status-${status}` }, statusWord(status));
}

/**
 * @param {string} priority
 * @returns {HTMLSpanElement}
 */
export function priorityBadge(priority) {
  return h("span", { class: `badge priority priority-${priority}` }, priority);
}
