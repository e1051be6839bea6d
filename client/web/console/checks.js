/**
 * Liveness checks, as the log tells them: the server asks a party whether it is listening
 * (`check.requested`), and an operator of that party answers within the policy's window
 * (`check.answered`), or the check is logged missed (`check.missed`) and escalates.
 *
 * Pure: folded from verified events, as `notices.js` folds notices.
 * @module
 */

import { UnreadableEvent, actorOf, integer, text, texts, time } from "./event-fields.js";

/** @typedef {import("./event-fields.js").HotlineEvent} HotlineEvent */

/**
 * @typedef {object} Check
 * @property {string} id
 * @property {string} party the party asked
 * @property {string} dueAt when the policy scheduled it
 * @property {string} requestedAt when the server asked (the event's time)
 * @property {string} answerBy the end of the answer window
 * @property {number} seq the event that asked
 * @property {{at: string, operator: string, inMs: number, seq: number} | null} answered
 * @property {{at: string, to: string[], seq: number} | null} missed when the window closed
 *   unanswered, and the operators it escalated to
 */

/** The checks of one channel, from its log. */
export class CheckBook {
  constructor() {
    /** @type {Map<string, Check>} by check id, in log order */
    this.byId = new Map();
  }

  /**
   * Take a `check.*` event.
   * @param {HotlineEvent} event
   * @returns {boolean} whether it is a type this console knows
   * @throws {UnreadableEvent}
   */
  apply(event) {
    const known = ["check.requested", "check.answered", "check.missed"];
    if (!known.includes(event.type)) return false;
    const data = event.data;
    const id = text(data, "check");
    if (event.type === "check.requested") {
      if (this.byId.has(id)) throw new UnreadableEvent(`check ${id} was requested before`);
      this.byId.set(id, {
        id,
        party: text(data, "party"),
        dueAt: time(data, "due_at"),
        requestedAt: event.at,
        answerBy: time(data, "answer_by"),
        seq: event.seq,
        answered: null,
        missed: null,
      });
      return true;
    }
    const check = this.byId.get(id);
    if (!check) throw new UnreadableEvent(`it names check ${id}, which was never requested`);
    if (check.answered || check.missed) throw new UnreadableEvent(`check ${id} was closed before`);
    if (event.type === "check.answered") {
      const actor = actorOf(event);
      if (actor.party !== check.party) {
        throw new UnreadableEvent(`check ${id} asks ${check.party}, not ${actor.party}`);
      }
      const inMs = integer(data, "answered_in_ms");
      this.byId.set(id, {
        ...check,
        answered: { at: event.at, operator: actor.operator, inMs, seq: event.seq },
      });
    } else {
      const to = texts(data, "to");
      this.byId.set(id, { ...check, missed: { at: event.at, to, seq: event.seq } });
    }
    return true;
  }

  /**
   * The checks still waiting for an answer, oldest first; of one party, if named.
   * @param {string} [party]
   * @returns {Check[]}
   */
  pending(party) {
    return [...this.byId.values()].filter(
      (c) => !c.answered && !c.missed && (party === undefined || c.party === party),
    );
  }

  /**
   * The last `count` checks closed (answered or missed), newest first.
   * @param {number} count
   * @returns {Check[]}
   */
  recent(count) {
    return [...this.byId.values()]
      .filter((c) => c.answered || c.missed)
      .reverse()
      .slice(0, count);
  }
}
