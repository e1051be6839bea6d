/**
 * The channel's log as this console received it: every event, in order, each marked as
 * verified (the SDK hands an event over only once a signed checkpoint covering it has
 * been checked), with what the console made of it.
 *
 * Events are never changed once logged, so new ones are appended rather than the list
 * redrawn: a log of thousands of events costs nothing per new event.
 * @module
 */

import { partyName } from "./context.js";
import { eventDetail } from "./describe.js";
import { h, replace } from "./dom.js";
import { dateTime, shorten } from "./format.js";
import { href } from "./router.js";

/** @typedef {import("./notices.js").LogEntry} LogEntry */

/** The log view. */
export class LogView {
  /**
   * @param {HTMLElement} root
   * @param {import("./context.js").Context} context
   */
  constructor(root, context) {
    this.context = context;
    this.summary = h("p", { id: "log-summary" });
    this.list = h("ol", { id: "log-list", class: "log", "aria-labelledby": "log-title" });
    this.shown = 0;
    replace(
      root,
      h("h2", { id: "log-title" }, "Channel log"),
      h(
        "p",
        { class: "hint" },
        "Each event below was checked by this browser against a checkpoint signed with the " +
          "server's log key before it was shown, and each checkpoint against the one before it. " +
          "A rewritten or forked history stops the console.",
      ),
      this.summary,
      this.list,
    );
  }

  render() {
    const { book, channel } = this.context;
    const entries = book.entries;
    if (this.shown > entries.length) {
      replace(this.list);
      this.shown = 0;
    }
    for (; this.shown < entries.length; this.shown += 1) {
      this.list.appendChild(eventLine(entries[this.shown], channel, book));
    }
    const unread = entries.filter((e) => e.effect === "unreadable").length;
    replace(
      this.summary,
      entries.length
        ? `${entries.length} event${entries.length === 1 ? "" : "s"}, all verified.`
        : "No events yet.",
      unread ? ` ${unread} could not be read and changed nothing.` : "",
    );
  }
}

/**
 * One event of the log, with its verified mark and what the console made of it.
 * @param {LogEntry | null} entry
 * @param {import("./context.js").Channel} channel
 * @param {import("./notices.js").NoticeBook} [book] to name the notices an event is about
 * @param {string} [current] a notice not to link to: the one on screen
 * @returns {HTMLLIElement}
 */
export function eventLine(entry, channel, book, current) {
  if (!entry) return h("li", { class: "event" }, "(not received)");
  const { event, effect } = entry;
  const actor = event.actor
    ? `${event.actor.operator} (${partyName(channel, event.actor.party)})`
    : "the server";
  const notices = entry.notices.flatMap((id) => (id === current ? [] : (book?.notices.get(id) ?? [])));
  const detail = eventDetail(entry, channel, book);
  return h(
    "li",
    { class: `event effect-${effect}`, "data-seq": event.seq, "data-type": event.type },
    h("span", { class: "seq" }, `#${event.seq}`),
    " ",
    h(
      "span",
      { class: "what" },
      h("span", { class: "type" }, event.type),
      notices.map((notice) => [
        " · ",
        h("a", { href: href("notice", notice.id) }, shorten(notice.subject, 60)),
      ]),
      detail && h("span", { class: "detail" }, ` · ${detail}`),
    ),
    " ",
    h("span", { class: "verified", title: "in the log the server signed" }, "✓ verified"),
    " ",
    h(
      "span",
      { class: "when" },
      event.at && h("time", { datetime: event.at }, dateTime(event.at)),
      ` · ${actor}`,
    ),
    effect === "unknown" &&
      h("span", { class: "note" }, " · a type this console does not know: shown, ignored"),
    effect === "unreadable" &&
      h(
        "span",
        { class: "note problem" },
        ` · could not be read (${entry.problem}): changed nothing`,
      ),
  );
}
