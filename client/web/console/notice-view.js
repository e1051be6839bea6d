/**
 * One notice: what it says, where it stands, the files it carries, its history in the log,
 * and what may be done with it now (acknowledge, object with a reason, cancel, or write an
 * update).
 *
 * The details are redrawn with every event; the files only when another notice is shown
 * (a notice's files never change, and a download under way keeps its button); the actions
 * only when what may be done changes, so that a reason being typed is not wiped by an
 * unrelated event. An action's
 * answer is not taken as the new state: the notice changes when its event arrives in the
 * verified log, like every other change.
 * @module
 */

import { fileList } from "./attachments.js";
import { otherNotice } from "./conflicts.js";
import { otherParty, partyName } from "./context.js";
import { whom } from "./describe.js";
import { h, keepFocus, replace } from "./dom.js";
import { MAX_REASON, textProblem } from "./draft.js";
import { dateTime, deadlineText, windowText } from "./format.js";
import { priorityBadge, statusBadge } from "./inbox.js";
import { eventLine } from "./log-view.js";
import { href } from "./router.js";

/** @typedef {import("./notices.js").Notice} Notice */
/** @typedef {"acknowledge" | "object" | "cancel" | "update"} Action */

const AWAITING = new Set(["sent", "delivered", "overdue"]);

/** The notice detail view. */
export class NoticeView {
  /**
   * @param {HTMLElement} root
   * @param {import("./context.js").Context} context
   */
  constructor(root, context) {
    this.root = root;
    this.context = context;
    /** @type {string | null} */
    this.id = null;
    this.details = h("div", { class: "details" });
    this.files = h("div", { class: "notice-files" });
    this.history = h("div", { class: "notice-history" });
    this.actions = h("div", { class: "notice-actions" });
    this.problem = h("div", { id: "notice-problem", class: "problem", role: "alert" });
    this.actionsKey = "";
    this.filesKey = "";
    replace(root, this.details, this.files, this.history, this.actions, this.problem);
  }

  /**
   * Show one notice.
   * @param {string | null} id
   */
  show(id) {
    if (id !== this.id) {
      this.id = id;
      this.actionsKey = "";
      replace(this.problem);
    }
    this.render();
  }

  render() {
    const notice = this.id ? this.context.book.notices.get(this.id) : undefined;
    if (!notice) {
      replace(
        this.details,
        h("h2", { id: "notice-title" }, "Notice not in the log"),
        h("p", {}, `No notice ${this.id ?? ""} in this channel's verified log (yet).`),
        h("p", {}, h("a", { href: href("inbox") }, "Back to the notices")),
      );
      for (const part of [this.files, this.history, this.actions]) replace(part);
      this.actionsKey = "";
      this.filesKey = "";
      return;
    }
    keepFocus(this.details, () => replace(this.details, ...this.#details(notice)));
    if (this.filesKey !== notice.id) {
      this.filesKey = notice.id;
      replace(this.files, ...fileList(notice.attachments, this.context, this.problem));
    }
    const { book, channel } = this.context;
    keepFocus(this.history, () =>
      replace(
        this.history,
        h("h3", {}, "History in the log"),
        h(
          "ol",
          { class: "log compact" },
          notice.history.map((seq) =>
            eventLine(book.entries[seq - 1] ?? null, channel, book, notice.id),
          ),
        ),
      ),
    );
    const allowed = this.#allowed(notice);
    const key = `${notice.id}|${allowed.join(",")}`;
    if (key !== this.actionsKey) {
      this.actionsKey = key;
      const hadFocus = this.actions.contains(document.activeElement);
      replace(this.actions, ...this.#actions(notice, allowed));
      // The button just used is gone (the notice was answered): keep the reader here.
      if (hadFocus) this.details.querySelector("h2")?.focus();
    }
  }

  /**
   * @param {Notice} notice
   * @returns {Node[]}
   */
  #details(notice) {
    const { channel, book } = this.context;
    const deadline = deadlineText(notice, this.context.now());
    const earlier = notice.refersTo ? book.notices.get(notice.refersTo) : undefined;
    const later = book.referring(notice.id);
    /** @type {[string, import("./dom.js").Children][]} */
    const facts = [
      ["From", `${partyName(channel, notice.sender.party)} (${notice.sender.operator})`],
      ["Sent", time(notice.sentAt)],
      [
        "Answer",
        notice.ackRequired
          ? [
              "Acknowledgement required",
              notice.ackDueAt && [", due ", time(notice.ackDueAt)],
              deadline &&
                h(
                  "span",
                  { class: deadline.late ? "deadline late" : "deadline" },
                  ` (${deadline.text})`,
                ),
            ]
          : "No answer required",
      ],
      ["Activity", notice.activity ? windowText(notice.activity) : "None given"],
      [
        "Area",
        [
          notice.area ?? "None given",
          notice.bbox && ` (box: west ${notice.bbox[0]}, south ${notice.bbox[1]}, ` +
            `east ${notice.bbox[2]}, north ${notice.bbox[3]})`,
        ],
      ],
    ];
    if (notice.refersTo) {
      facts.push([
        "Refers to",
        earlier ? h("a", { href: href("notice", earlier.id) }, earlier.subject) : notice.refersTo,
      ]);
    }
    const receiver = otherParty(channel, notice.sender.party);
    facts.push([
      "Receipt",
      notice.receipt
        ? [
            `${receiver.name} has it since `,
            time(notice.receipt.at),
            ` (${notice.receipt.operator})`,
          ]
        : `Not yet received by ${receiver.name}`,
    ]);
    if (notice.overdueAt)
      facts.push(["Overdue", ["Deadline missed, noted at ", time(notice.overdueAt)]]);
    const reminder = notice.reminders.at(-1);
    if (reminder) {
      facts.push([
        "Reminders",
        [`${reminder.n} of ${reminder.of} sent to ${receiver.name}, the last at `, time(reminder.at)],
      ]);
    }
    if (notice.escalation) {
      facts.push([
        "Escalated",
        [`to ${whom(notice.escalation.to, receiver.name)} at `, time(notice.escalation.at)],
      ]);
    }
    const conflicts = book.conflicts.of(notice.id);
    if (conflicts.length) facts.push(["Conflicts", this.#conflicts(notice, conflicts)]);
    if (notice.decision) {
      const d = notice.decision;
      facts.push([
        d.decision === "objected" ? "Objection" : "Acknowledged",
        [`by ${d.operator} at `, time(d.at), d.reason ? `: “${d.reason}”` : ""],
      ]);
    }
    if (notice.cancellation) {
      const c = notice.cancellation;
      facts.push([
        "Cancelled",
        [`by ${c.operator} at `, time(c.at), c.reason ? `: “${c.reason}”` : ""],
      ]);
    }
    return [
      h("p", { class: "back" }, h("a", { href: href("inbox") }, "← All notices")),
      h("h2", { id: "notice-title", tabindex: -1 }, notice.subject),
      h(
        "p",
        { class: "badges" },
        "Status: ",
        h("span", { id: "notice-status" }, statusBadge(notice.status)),
        " Priority: ",
        priorityBadge(notice.priority),
      ),
      h(
        "dl",
        { class: "facts" },
        facts.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
      ),
      notice.body
        ? h("div", { class: "body", "aria-label": "Body" }, notice.body)
        : h("p", { class: "quiet" }, "(no body)"),
      later.length > 0 && [
        h("h3", {}, "Updates and replies"),
        h(
          "ul",
          {},
          later.map((n) =>
            h(
              "li",
              {},
              h("a", { href: href("notice", n.id) }, n.subject),
              ` (${partyName(channel, n.sender.party)})`,
            ),
          ),
        ),
      ],
    ]
      .flat()
      .filter((node) => node instanceof Node);
  }

  /**
   * The conflicts the server logged for a notice, each naming the other notice.
   * @param {Notice} notice
   * @param {import("./conflicts.js").Conflict[]} conflicts
   * @returns {HTMLUListElement}
   */
  #conflicts(notice, conflicts) {
    const { book } = this.context;
    return h(
      "ul",
      { id: "notice-conflicts", class: "conflicts" },
      conflicts.map((conflict) => {
        const other = book.notices.get(otherNotice(conflict, notice.id));
        const resolved = conflict.resolved;
        const by = resolved && book.notices.get(resolved.by);
        return h(
          "li",
          { class: resolved ? "conflict resolved" : "conflict open" },
          h("strong", {}, resolved ? "Resolved: " : "⚠ Conflict: "),
          "overlaps ",
          other ? h("a", { href: href("notice", other.id) }, other.subject) : "another notice",
          other && ` (${partyName(this.context.channel, other.sender.party)})`,
          ` in ${conflict.area}, both `,
          windowText(conflict.overlap),
          resolved
            ? [
                ` · ${by ? `“${by.subject}”` : "a later notice"} `,
                resolved.reason === "cancelled" ? "was cancelled, " : "updated the plan, ",
                time(resolved.at),
              ]
            : " · logged by the server, not resolved",
        );
      }),
    );
  }

  /**
   * What the signed-in operator may do with the notice now.
   * @param {Notice} notice
   * @returns {Action[]}
   */
  #allowed(notice) {
    const { me } = this.context;
    if (this.context.stopped() || me.role !== "operator") return [];
    /** @type {Action[]} */
    const allowed = [];
    const ours = notice.sender.party === me.party.id;
    if (AWAITING.has(notice.status)) {
      if (ours) allowed.push("cancel");
      else allowed.push("acknowledge", "object");
    }
    allowed.push("update");
    return allowed;
  }

  /**
   * @param {Notice} notice
   * @param {Action[]} allowed
   * @returns {Node[]}
   */
  #actions(notice, allowed) {
    if (!allowed.length) return [];
    /** @type {Node[]} */
    const parts = [h("h3", { id: "actions-title" }, "Actions")];
    if (allowed.includes("acknowledge")) {
      const button = h(
        "button",
        { type: "button", class: "primary", id: "acknowledge" },
        "Acknowledge",
      );
      button.addEventListener("click", () =>
        this.#run(button, "Acknowledging…", () =>
          this.context.client.acknowledge(this.context.channel.id, notice.id),
        ),
      );
      parts.push(h("div", { class: "actions" }, button));
    }
    if (allowed.includes("object")) parts.push(this.#reasonForm(notice, "object"));
    if (allowed.includes("cancel")) parts.push(this.#reasonForm(notice, "cancel"));
    if (allowed.includes("update")) {
      parts.push(
        h(
          "p",
          {},
          h("a", { href: href("compose", notice.id), class: "button" }, "Write an update or reply"),
        ),
      );
    }
    return parts;
  }

  /**
   * An objection (reason required) or a cancellation (reason optional).
   * @param {Notice} notice
   * @param {"object" | "cancel"} kind
   * @returns {HTMLFormElement}
   */
  #reasonForm(notice, kind) {
    const objecting = kind === "object";
    const reason = h("textarea", {
      id: `${kind}-reason`,
      name: "reason",
      rows: 2,
      required: objecting,
      "aria-describedby": `${kind}-reason-error`,
    });
    const error = h("p", { id: `${kind}-reason-error`, class: "field-error" });
    const button = h(
      "button",
      { type: "submit", class: objecting ? "warning" : "danger" },
      objecting ? "Object" : "Cancel notice",
    );
    const form = h(
      "form",
      {
        class: "reason-form",
        novalidate: true,
        "aria-label": objecting ? "Object to the notice" : "Cancel the notice",
      },
      h(
        "div",
        { class: "field" },
        h(
          "label",
          { for: reason.id },
          objecting ? "Reason for objecting (required)" : "Reason for cancelling (optional)",
        ),
        reason,
        error,
      ),
      h("div", { class: "actions" }, button),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = reason.value.trim();
      const problem =
        objecting && !text ? "An objection needs a reason." : textProblem(reason.value, MAX_REASON);
      replace(error, problem ?? "");
      reason.toggleAttribute("aria-invalid", Boolean(problem));
      if (problem) {
        reason.focus();
        return;
      }
      const { client, channel } = this.context;
      void this.#run(button, objecting ? "Objecting…" : "Cancelling…", () =>
        objecting
          ? client.object(channel.id, notice.id, text)
          : client.cancel(channel.id, notice.id, text || undefined),
      );
    });
    return form;
  }

  /**
   * Run one action, its button busy meanwhile; say what went wrong if it did.
   * @param {HTMLButtonElement} button
   * @param {string} busy
   * @param {() => Promise<unknown>} action
   */
  async #run(button, busy, action) {
    if (this.context.stopped()) return;
    const label = button.textContent ?? "";
    button.disabled = true;
    replace(button, busy);
    replace(this.problem);
    try {
      // Success needs no words here: the notice changes, and is announced, when its
      // event arrives in the verified log.
      await action();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      replace(this.problem, `${label} failed: ${message}`);
    } finally {
      if (button.isConnected) {
        button.disabled = false;
        replace(button, label);
      }
    }
  }
}

/**
 * @param {string} at
 * @returns {HTMLTimeElement}
 */
function time(at) {
  return h("time", { datetime: at }, dateTime(at));
}
