/**
 * The shared timeline: both parties' planned activity windows on one time axis, a lane
 * per area, windows that overlap in one area highlighted and named.
 *
 * Two kinds of overlap are shown. The server's conflicts (`conflict.detected`, not yet
 * resolved) are the authority: they are in the signed log, and the server compares bounding
 * boxes as well as area names. The overlaps this page finds itself by area name alone are
 * shown too, marked as such, so that a clash the server did not log is still seen.
 *
 * Plain HTML and CSS: each window is a list item whose bar is placed with two CSS custom
 * properties (set through the CSSOM, which the strict style policy allows), so the
 * timeline reads as a list to a screen reader and scales to any width without a library.
 * @module
 */

import { otherNotice } from "./conflicts.js";
import { partyName, partySide } from "./context.js";
import { h, keepFocus, replace } from "./dom.js";
import { date, dateTime, shortDay, statusWord } from "./format.js";
import { lanes, span } from "./overlaps.js";
import { href } from "./router.js";

const DAY = 86_400_000;

/** The timeline view. */
export class TimelineView {
  /**
   * @param {HTMLElement} root
   * @param {import("./context.js").Context} context
   */
  constructor(root, context) {
    this.context = context;
    this.summary = h("p", { id: "timeline-summary", role: "status" });
    this.chart = h("div", { id: "timeline-chart", class: "timeline" });
    this.legend = h("ul", { class: "legend", "aria-label": "Legend" });
    replace(
      root,
      h("h2", { id: "timeline-title" }, "Shared timeline"),
      this.legend,
      this.summary,
      this.chart,
    );
  }

  render() {
    const { channel, book } = this.context;
    const now = this.context.now();
    replace(
      this.legend,
      channel.parties.map((party) =>
        h(
          "li",
          {},
          h("span", {
            class: `swatch side-${partySide(channel, party.id)}`,
            "aria-hidden": "true",
          }),
          party.name,
        ),
      ),
      h(
        "li",
        {},
        h("span", { class: "swatch clash", "aria-hidden": "true" }),
        "Overlaps another window in the same area",
      ),
      h("li", {}, h("strong", { class: "conflict-note" }, "⚠ Conflict"), " logged by the server"),
    );
    const found = lanes(book.notices.values());
    const range = span(found, now);
    if (!range) {
      replace(this.summary, "No planned activity: no notice gives an activity window.");
      replace(this.chart);
      return;
    }
    const clashes = found.reduce((sum, lane) => sum + lane.clashes, 0);
    const windows = found.reduce((sum, lane) => sum + lane.bars.length, 0);
    const logged = book.conflicts.open().length;
    replace(
      this.summary,
      `${count(windows, "planned window")} in ${count(found.length, "area")}, `,
      `${date(range.from)} to ${date(range.to - 1)}. `,
      logged ? h("strong", {}, `${count(logged, "conflict")} logged by the server. `) : "",
      clashes ? h("strong", {}, `${clashes} overlap another in the same area.`) : "No overlaps.",
    );
    keepFocus(this.chart, () => this.#draw(found, range, now));
  }

  /**
   * @param {import("./overlaps.js").Lane[]} found
   * @param {{from: number, to: number}} range
   * @param {number} now
   */
  #draw(found, range, now) {
    const { channel, book } = this.context;
    /** @param {number} t */
    const at = (t) => ((t - range.from) / (range.to - range.from)) * 100;
    // A faint line at each midnight, drawn by the chart's background.
    this.chart.style.setProperty("--days", String(Math.round((range.to - range.from) / DAY)));
    replace(
      this.chart,
      axis(range, at, now),
      found.map((lane) =>
        h(
          "div",
          { class: lane.clashes ? "lane has-clash" : "lane" },
          h(
            "h3",
            {},
            lane.area || "No area given",
            lane.clashes
              ? h("span", { class: "clash-count" }, ` · ${lane.clashes} overlapping`)
              : "",
          ),
          h(
            "ol",
            { class: "bars" },
            lane.bars.map((bar) => {
              const n = bar.notice;
              const conflicts = book.conflicts
                .of(n.id)
                .filter((c) => c.resolved === null)
                .flatMap((c) => book.notices.get(otherNotice(c, n.id)) ?? []);
              // Overlaps by area name that the server did not log as a conflict.
              const unlogged = bar.overlaps.filter((o) => !conflicts.includes(o));
              const item = h(
                "li",
                {
                  class:
                    `bar side-${partySide(channel, n.sender.party)}` +
                    (bar.overlaps.length ? " clash" : "") +
                    (conflicts.length ? " conflict" : ""),
                  "data-notice": n.id,
                },
                h("span", { class: "strip", "aria-hidden": "true" }),
                h(
                  "span",
                  { class: "label" },
                  h("a", { href: href("notice", n.id) }, n.subject),
                  ` · ${partyName(channel, n.sender.party)} · ${statusWord(n.status)} · `,
                  h(
                    "time",
                    { datetime: n.activity?.starts_at },
                    dateTime(n.activity?.starts_at ?? ""),
                  ),
                  " – ",
                  h("time", { datetime: n.activity?.ends_at }, dateTime(n.activity?.ends_at ?? "")),
                  conflicts.length > 0 &&
                    h(
                      "strong",
                      { class: "conflict-note" },
                      ` · ⚠ conflict logged with ${conflicts.map((o) => named(o, channel)).join(", ")}`,
                    ),
                  unlogged.length > 0 &&
                    h(
                      "strong",
                      { class: "overlap-note" },
                      ` · overlaps ${unlogged.map((o) => named(o, channel)).join(", ")}`,
                      // Told apart from a logged conflict: the server, which also compares
                      // bounding boxes, found none.
                      " (no conflict logged)",
                    ),
                ),
              );
              // Geometry through the CSSOM: the page's style policy forbids style attributes.
              item.style.setProperty("--start", at(bar.start).toFixed(3));
              item.style.setProperty(
                "--span",
                Math.max(at(bar.end) - at(bar.start), 0.5).toFixed(3),
              );
              return item;
            }),
          ),
        ),
      ),
    );
  }
}

/**
 * The day marks along the top, and a line for now when it falls inside.
 * @param {{from: number, to: number}} range
 * @param {(t: number) => number} at a time's place along the axis, in percent
 * @param {number} now
 * @returns {HTMLElement}
 */
function axis(range, at, now) {
  const days = Math.round((range.to - range.from) / DAY);
  const step = Math.max(1, Math.ceil(days / 10)); // at most about ten labels, at any width
  /** @type {HTMLElement[]} */
  const ticks = [];
  for (let i = 0; i <= days && ticks.length < 40; i += step) {
    const day = new Date(range.from);
    day.setDate(day.getDate() + i);
    const tick = h("span", { class: "tick" }, i < days ? shortDay(day.getTime()) : "");
    tick.style.setProperty("--at", at(day.getTime()).toFixed(3));
    ticks.push(tick);
  }
  if (now >= range.from && now <= range.to) {
    const mark = h("span", { class: "now" }, "now");
    mark.style.setProperty("--at", at(now).toFixed(3));
    ticks.push(mark);
  }
  return h("div", { class: "axis", "aria-hidden": "true" }, ticks);
}

/**
 * "3 areas", "1 area".
 * @param {number} n
 * @param {string} noun
 */
function count(n, noun) {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/**
 * A notice as an overlap names it: its subject in quotes, and its party.
 * @param {import("./notices.js").Notice} notice
 * @param {import("./context.js").Channel} channel
 */
function named(notice, channel) {
  return `“${notice.subject}” (${partyName(channel, notice.sender.party)})`;
}
