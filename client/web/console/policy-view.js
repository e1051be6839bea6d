/**
 * The channel's policy: the one in force (deadlines, reminders and escalation by priority,
 * liveness checks), the proposal waiting for the other party with what it would change, and
 * the history of proposals. An admin may accept the other party's proposal, or withdraw its
 * own party's, and may propose the one switch the console offers: whether a notice nobody of
 * the receiving party has seen is mailed to its operators (`mail_when_offline`); the rest
 * of a policy is proposed with `hotline policy propose`.
 *
 * What is shown is what the log says (`policy.js`); the buttons call the server, and the
 * view changes when the event comes back in the verified log.
 * @module
 */

import { partyName } from "./context.js";
import { h, keepFocus, replace } from "./dom.js";
import { dateTime, duration } from "./format.js";
import { PRIORITIES } from "./notices.js";
import { policyInForce } from "./policy.js";

/**
 * @typedef {import("./policy.js").Proposal} Proposal
 * @typedef {import("../sdk/client.js").Policy} Policy
 * @typedef {"accept" | "withdraw"} Action
 */

/** The policy view. */
export class PolicyView {
  /**
   * @param {HTMLElement} root
   * @param {import("./context.js").Context} context
   */
  constructor(root, context) {
    this.context = context;
    this.inForce = h("div", { id: "policy-in-force" });
    this.pending = h("div", { id: "policy-pending" });
    this.actions = h("div", { id: "policy-actions", class: "actions" });
    this.problem = h("div", { id: "policy-problem", class: "problem", role: "alert" });
    this.history = h("div", { id: "policy-history" });
    this.actionsKey = "";
    this.mail = new MailSwitch(context);
    replace(
      root,
      h("h2", { id: "policy-title", tabindex: -1 }, "Channel policy"),
      h(
        "p",
        { class: "hint" },
        "The two parties' agreement: an admin of one party proposes a change, and it takes " +
          "effect only when an admin of the other party accepts it. Both steps are in the log.",
      ),
      this.inForce,
      h("h3", { id: "policy-pending-title" }, "Proposal waiting for an answer"),
      this.pending,
      this.actions,
      this.problem,
      this.mail.element,
      h("h3", {}, "Proposals in the log"),
      this.history,
    );
  }

  render() {
    const { book, channel } = this.context;
    const now = this.context.now();
    const policy = policyInForce(this.context);
    const changed = book.policy.changed;
    keepFocus(this.inForce, () =>
      replace(
        this.inForce,
        h(
          "p",
          { id: "policy-since" },
          changed
            ? [
                `In force since event #${changed.seq}, `,
                time(changed.at),
                `: proposed by ${partyName(channel, changed.proposal.party)} ` +
                  `(${changed.proposal.operator}), accepted by ${changed.proposal.closed?.operator ?? "?"}.`,
              ]
            : "In force since the channel was made: no change has been agreed in its log.",
        ),
        describePolicy(policy, channel, "policy-table"),
      ),
    );
    const pending = book.policy.pending(now);
    replace(
      this.pending,
      pending
        ? [
            h(
              "p",
              {},
              `Proposed by ${partyName(channel, pending.party)} (${pending.operator}), `,
              time(pending.at),
              "; it lapses unanswered at ",
              time(pending.lapsesAt),
              ".",
            ),
            h("p", {}, h("strong", {}, "What it changes:")),
            changes(policy, pending.policy, channel),
          ]
        : h("p", {}, "No proposal is waiting."),
    );
    this.#renderActions(pending);
    this.mail.render(policy);
    replace(
      this.history,
      book.policy.proposals.size
        ? h(
            "ul",
            { class: "proposals" },
            book.policy.history().map((p) =>
              h(
                "li",
                {},
                `#${p.seq} by ${partyName(channel, p.party)} (${p.operator}), `,
                time(p.at),
                `: ${outcome(p, now)}`,
              ),
            ),
          )
        : h("p", { class: "quiet" }, "None yet."),
    );
  }

  /**
   * The buttons an admin may use on the waiting proposal; redrawn only when they change.
   * @param {Proposal | null} pending
   */
  #renderActions(pending) {
    const { me, channel } = this.context;
    /** @type {Action[]} */
    const allowed = [];
    if (pending && me.role === "admin" && !this.context.stopped()) {
      allowed.push(pending.party === me.party.id ? "withdraw" : "accept");
    }
    const key = `${pending?.id ?? ""}|${allowed.join(",")}`;
    if (key === this.actionsKey) return;
    this.actionsKey = key;
    const hadFocus = this.actions.contains(document.activeElement);
    /** @type {Node[]} */
    const parts = [];
    if (pending && allowed.includes("accept")) {
      parts.push(
        this.#button("policy-accept", "Accept the proposal", "Accepting…", "primary", () =>
          this.context.client.acceptPolicy(channel.id, pending.id),
        ),
      );
    } else if (pending && allowed.includes("withdraw")) {
      parts.push(
        this.#button("policy-withdraw", "Withdraw the proposal", "Withdrawing…", "danger", () =>
          this.context.client.withdrawPolicy(channel.id, pending.id),
        ),
      );
    } else if (pending) {
      parts.push(
        h(
          "p",
          { class: "quiet" },
          me.party.id === pending.party
            ? `An admin of the other party can accept it; an admin of ${me.party.name} can withdraw it.`
            : `An admin of ${me.party.name} can accept it.`,
        ),
      );
    }
    replace(this.actions, ...parts);
    if (hadFocus) this.pending.parentElement?.querySelector("h2")?.focus();
  }

  /**
   * @param {string} id
   * @param {string} label
   * @param {string} busy
   * @param {string} kind a button class
   * @param {() => Promise<unknown>} action
   * @returns {HTMLButtonElement}
   */
  #button(id, label, busy, kind, action) {
    const button = h("button", { type: "button", id, class: kind }, label);
    button.addEventListener("click", async () => {
      if (this.context.stopped()) return;
      button.disabled = true;
      replace(button, busy);
      replace(this.problem);
      try {
        await action(); // the change is shown, and announced, when its event arrives
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        replace(this.problem, `${label} failed: ${message}`);
      } finally {
        if (button.isConnected) {
          button.disabled = false;
          replace(button, label);
        }
      }
    });
    return button;
  }
}

/**
 * An admin's form to propose the policy in force with mail for unseen notices switched on
 * or off. The box starts as the policy in force says, and is set again only when that
 * changes, not while the admin is choosing; the proposal shows up, like any other, when its
 * event arrives in the verified log.
 */
class MailSwitch {
  /** @param {import("./context.js").Context} context */
  constructor(context) {
    this.context = context;
    this.box = h("input", {
      id: "policy-mail",
      name: "mail_when_offline",
      type: "checkbox",
      "aria-describedby": "policy-mail-hint",
    });
    this.submit = h("button", { type: "submit", id: "policy-propose" }, "Propose");
    this.status = h("p", { id: "policy-propose-status", class: "problem", role: "alert" });
    this.form = h(
      "form",
      { id: "policy-mail-form", novalidate: true, "aria-labelledby": "policy-mail-title" },
      h(
        "div",
        { class: "field check" },
        this.box,
        h(
          "label",
          { for: "policy-mail" },
          "Mail a notice to the receiving party's operators when none of them has seen it",
        ),
      ),
      h(
        "p",
        { id: "policy-mail-hint", class: "hint" },
        "Sent a while after the notice (the server says how long) to each of the party's " +
          "operators with an e-mail address, if it was not received and none of them is " +
          "connected. Like any change, it is in force once the other party's admin accepts " +
          "it; it replaces a proposal still waiting.",
      ),
      h("div", { class: "actions" }, this.submit),
      this.status,
    );
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.#propose();
    });
    /** The form, for admins; empty for anybody else. */
    this.element = h("div", { id: "policy-mail-switch" });
    if (context.me.role === "admin") {
      replace(this.element, h("h3", { id: "policy-mail-title" }, "Propose a change"), this.form);
    }
    /** @type {boolean | null} the value in force when the box was last set */
    this.shown = null;
    this.busy = false;
  }

  /** @param {Policy} policy the policy in force */
  render(policy) {
    const inForce = Boolean(policy.mail_when_offline);
    if (inForce !== this.shown) {
      this.shown = inForce;
      this.box.checked = inForce;
    }
    this.submit.disabled = this.busy || this.context.stopped();
  }

  async #propose() {
    const { client, channel } = this.context;
    if (this.busy || this.context.stopped()) return;
    const policy = policyInForce(this.context);
    const wanted = this.box.checked;
    if (wanted === Boolean(policy.mail_when_offline)) {
      replace(this.status, "Nothing to propose: the policy in force says so already.");
      return;
    }
    this.busy = true;
    this.submit.disabled = true;
    replace(this.submit, "Proposing…");
    replace(this.status);
    try {
      await client.proposePolicy(channel.id, { ...policy, mail_when_offline: wanted });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      replace(this.status, `Proposing failed: ${message}`);
    } finally {
      this.busy = false;
      this.submit.disabled = this.context.stopped();
      replace(this.submit, "Propose");
    }
  }
}

/**
 * A policy in words: a table by priority, then what holds for the whole channel.
 * @param {Policy} policy
 * @param {import("./context.js").Channel} channel
 * @param {string} id
 * @returns {HTMLElement}
 */
export function describePolicy(policy, channel, id) {
  const chase = policy.chase ?? {};
  const table = h(
    "table",
    { id },
    h(
      "caption",
      { id: `${id}-caption` },
      "Deadlines, and how an unanswered notice is chased, by priority",
    ),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Priority", "Answer within", "Advance notice", "Reminders", "Escalates"].map((c) =>
          h("th", { scope: "col" }, c),
        ),
      ),
    ),
    h(
      "tbody",
      {},
      PRIORITIES.map((priority) => {
        const c = chase[priority];
        return h(
          "tr",
          {},
          h("th", { scope: "row" }, priority),
          h("td", {}, seconds(policy.ack_deadline_seconds[priority])),
          h("td", {}, seconds(policy.min_advance_notice_seconds[priority])),
          h("td", {}, c ? reminders(c) : "—"),
          h("td", {}, c ? escalates(c) : "—"),
        );
      }),
    ),
  );
  return h(
    "div",
    { class: "policy" },
    // On a narrow screen the table scrolls in a box of its own rather than the page: a region
    // the keyboard can reach, so that what is beyond its edge is there without a pointer.
    h(
      "div",
      { class: "table-scroll", role: "region", "aria-labelledby": `${id}-caption`, tabindex: 0 },
      table,
    ),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Liveness checks"),
      h(
        "dd",
        {},
        policy.checks
          ? `every ${seconds(policy.checks.every_seconds)}, answered within ` +
              seconds(policy.checks.answer_within_seconds)
          : "none",
      ),
      h("dt", {}, "Escalation goes to"),
      h(
        "dd",
        {},
        channel.parties
          .map((p) => {
            const named = policy.escalate_to?.[p.id] ?? [];
            return `${p.name}: ${named.length ? named.join(", ") : "its admins"}`;
          })
          .join("; "),
      ),
      h("dt", {}, "Signatures"),
      h("dd", {}, policy.require_signatures ? "required on notices and decisions" : "optional"),
      h("dt", {}, "Mail when unseen"),
      h(
        "dd",
        { id: `${id}-mail` },
        policy.mail_when_offline
          ? "yes: a notice the receiving party has not seen a while after it was sent is " +
              "mailed to its operators"
          : "no",
      ),
    ),
  );
}

/**
 * The differences between two policies, one line each, in the words of `describePolicy`.
 * @param {Policy} before
 * @param {Policy} after
 * @param {import("./context.js").Channel} channel
 * @returns {HTMLElement}
 */
function changes(before, after, channel) {
  /** @type {string[]} */
  const lines = [];
  /**
   * @param {string} what
   * @param {string} from
   * @param {string} to
   */
  const differ = (what, from, to) => {
    if (from !== to) lines.push(`${what}: ${from} → ${to}`);
  };
  for (const priority of PRIORITIES) {
    differ(
      `${priority}: answer within`,
      seconds(before.ack_deadline_seconds[priority]),
      seconds(after.ack_deadline_seconds[priority]),
    );
    differ(
      `${priority}: advance notice`,
      seconds(before.min_advance_notice_seconds[priority]),
      seconds(after.min_advance_notice_seconds[priority]),
    );
    const [b, a] = [before.chase?.[priority], after.chase?.[priority]];
    differ(`${priority}: reminders`, b ? reminders(b) : "—", a ? reminders(a) : "—");
    differ(`${priority}: escalates`, b ? escalates(b) : "—", a ? escalates(a) : "—");
  }
  const checks = (/** @type {Policy} */ p) =>
    p.checks
      ? `every ${seconds(p.checks.every_seconds)}, within ${seconds(p.checks.answer_within_seconds)}`
      : "none";
  differ("liveness checks", checks(before), checks(after));
  for (const party of channel.parties) {
    const to = (/** @type {Policy} */ p) => (p.escalate_to?.[party.id] ?? []).join(", ") || "its admins";
    differ(`escalation for ${party.name}`, to(before), to(after));
  }
  differ(
    "signatures",
    before.require_signatures ? "required" : "optional",
    after.require_signatures ? "required" : "optional",
  );
  const mail = (/** @type {Policy} */ p) => (p.mail_when_offline ? "yes" : "no");
  differ("mail when unseen", mail(before), mail(after));
  return lines.length
    ? h("ul", { id: "policy-changes" }, lines.map((line) => h("li", {}, line)))
    : h("p", { id: "policy-changes" }, "Nothing: it is the policy in force.");
}

/**
 * How a proposal ended, or that it is still open.
 * @param {Proposal} proposal
 * @param {number} now
 * @returns {string}
 */
function outcome(proposal, now) {
  const closed = proposal.closed;
  if (closed?.how === "accepted") return `accepted by ${closed.operator} (event #${closed.seq})`;
  if (closed?.how === "withdrawn") return `withdrawn by ${closed.operator} (event #${closed.seq})`;
  if (closed?.how === "replaced") return `replaced by a newer proposal (event #${closed.seq})`;
  if (Date.parse(proposal.lapsesAt) <= now) return `lapsed unanswered at ${dateTime(proposal.lapsesAt)}`;
  return "waiting for an answer";
}

/**
 * @param {import("../sdk/client.js").Chase} chase
 * @returns {string}
 */
function reminders(chase) {
  if (chase.reminders === 0) return "none";
  return (
    `${chase.reminders}, the first ${seconds(chase.remind_after_seconds)} after the deadline, ` +
    `then every ${seconds(chase.remind_every_seconds)}`
  );
}

/**
 * @param {import("../sdk/client.js").Chase} chase
 * @returns {string}
 */
function escalates(chase) {
  const after = chase.escalate_after_seconds;
  return after === null ? "never" : `${seconds(after)} after the deadline`;
}

/**
 * A number of seconds in words; "—" when not set.
 * @param {number | null | undefined} value
 * @returns {string}
 */
function seconds(value) {
  if (value === null || value === undefined) return "—";
  return value === 0 ? "none" : duration(value * 1000);
}

/**
 * @param {string} at
 * @returns {HTMLTimeElement}
 */
function time(at) {
  return h("time", { datetime: at }, dateTime(at));
}
