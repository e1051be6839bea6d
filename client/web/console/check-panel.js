/**
 * The liveness checks panel, beside every view: the checks the server asked of the
 * signed-in operator's party and not yet answered, each with its answer-by time and an
 * "Answer" button; the other party's open checks; and the last few answered or missed.
 *
 * A check is answered over REST, and the panel changes only when `check.answered` arrives
 * in the verified log, as every other change does.
 * @module
 */

import { otherParty, partyName } from "./context.js";
import { whom } from "./describe.js";
import { h, keepFocus, replace } from "./dom.js";
import { dateTime, duration } from "./format.js";
import { policyInForce } from "./policy.js";

/** @typedef {import("./checks.js").Check} Check */

const RECENT = 3;

/** The checks panel. */
export class CheckPanel {
  /**
   * @param {HTMLElement} root an `aside`
   * @param {import("./context.js").Context} context
   */
  constructor(root, context) {
    this.root = root;
    this.context = context;
    this.heading = h("h2", { id: "checks-title", tabindex: -1 }, "Liveness checks");
    this.list = h("ul", { id: "checks-list", class: "checks", "aria-labelledby": "checks-title" });
    this.problem = h("div", { id: "checks-problem", class: "problem", role: "alert" });
    replace(root, this.heading, this.list, this.problem);
    /** @type {Set<string>} checks whose answer is on its way */
    this.answering = new Set();
  }

  render() {
    const { book, me, channel } = this.context;
    const checks = book.checks;
    const scheduled = policyChecks(this.context);
    this.root.hidden = checks.byId.size === 0 && !scheduled;
    const now = this.context.now();
    const ours = checks.pending(me.party.id);
    const theirs = checks.pending(otherParty(channel, me.party.id).id);
    const recent = checks.recent(RECENT);
    const hadFocus = this.list.contains(document.activeElement);
    keepFocus(this.list, () =>
      replace(
        this.list,
        ours.map((check) => this.#ours(check, now)),
        theirs.map((check) =>
          h(
            "li",
            { id: `check-${check.id}`, class: "check waiting" },
            `Waiting for ${partyName(channel, check.party)} to answer a check, by `,
            time(check.answerBy),
            ".",
          ),
        ),
        recent.map((check) => closed(check, channel)),
        ours.length + theirs.length + recent.length === 0 &&
          h(
            "li",
            { class: "empty" },
            scheduled ? `No check yet: the policy asks ${scheduled}.` : "No checks.",
          ),
      ),
    );
    // The button just used is gone (the check was answered): keep the reader in the panel.
    if (hadFocus && !this.list.contains(document.activeElement)) this.heading.focus();
  }

  /**
   * A check of the operator's own party, open: what is asked, by when, and the button.
   * @param {Check} check
   * @param {number} now
   * @returns {HTMLLIElement}
   */
  #ours(check, now) {
    const { me } = this.context;
    const left = Date.parse(check.answerBy) - now;
    const line = `check-${check.id}-text`;
    const open = left >= 0 && !this.context.stopped();
    const button =
      open &&
      h(
        "button",
        {
          type: "button",
          class: "primary",
          id: `answer-${check.id}`,
          "aria-describedby": line,
          disabled: this.answering.has(check.id),
        },
        this.answering.has(check.id) ? "Answering…" : "Answer",
      );
    if (button) button.addEventListener("click", () => void this.#answer(check));
    return h(
      "li",
      { id: `check-${check.id}`, class: "check ours" },
      h(
        "p",
        { id: line },
        h("strong", {}, "Check: "),
        `the server asks ${me.party.name} to confirm it is listening. Answer by `,
        time(check.answerBy),
        left >= 0
          ? ` (in ${duration(left)}).`
          : " (the window has closed: the server will log it missed).",
      ),
      button,
    );
  }

  /**
   * Answer one check; say what went wrong if the server refused.
   * @param {Check} check
   */
  async #answer(check) {
    if (this.context.stopped() || this.answering.has(check.id)) return;
    this.answering.add(check.id);
    replace(this.problem);
    this.render();
    try {
      await this.context.client.answerCheck(this.context.channel.id, check.id);
      // Answered: the button stays "Answering…" until check.answered comes down the
      // socket and the check leaves the pending list, rather than offering it again.
    } catch (error) {
      this.answering.delete(check.id);
      const message = error instanceof Error ? error.message : String(error);
      replace(this.problem, `Answering the check failed: ${message}`);
    } finally {
      this.render();
    }
  }
}

/**
 * A check answered or missed.
 * @param {Check} check
 * @param {import("./context.js").Channel} channel
 * @returns {HTMLLIElement}
 */
function closed(check, channel) {
  const party = partyName(channel, check.party);
  if (check.answered) {
    return h(
      "li",
      { id: `check-${check.id}`, class: "check answered" },
      `✓ ${party}: answered by ${check.answered.operator} in ${duration(check.answered.inMs)}, `,
      time(check.answered.at),
    );
  }
  const missed = /** @type {NonNullable<Check["missed"]>} */ (check.missed);
  return h(
    "li",
    { id: `check-${check.id}`, class: "check missed" },
    h("strong", {}, `✗ ${party} MISSED a check`),
    ` due by `,
    time(check.answerBy),
    `; escalated to ${whom(missed.to, party)}.`,
  );
}

/**
 * How often the policy in force asks for checks, in words, or null when it asks for none.
 * @param {import("./context.js").Context} context
 * @returns {string | null}
 */
export function policyChecks(context) {
  const checks = policyInForce(context).checks;
  if (!checks) return null;
  return (
    `a check every ${duration(checks.every_seconds * 1000)}, ` +
    `answered within ${duration(checks.answer_within_seconds * 1000)}`
  );
}

/**
 * @param {string} at
 * @returns {HTMLTimeElement}
 */
function time(at) {
  return h("time", { datetime: at }, dateTime(at));
}
