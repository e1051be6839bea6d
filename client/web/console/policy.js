/**
 * The channel's policy as its log tells it: an admin of one party proposes a policy
 * (`channel.policy_proposed`), and it is in force once an admin of the other party accepts
 * it (`channel.policy_changed`), unless it is withdrawn (`channel.policy_withdrawn`),
 * replaced by a newer proposal, or lapses (at its `lapses_at`, which logs nothing: the
 * proposal's own event says when).
 *
 * Pure: folded from verified events, as `notices.js` folds notices.
 * @module
 */

import { UnreadableEvent, actorOf, isObject, maybeText, text, time } from "./event-fields.js";

/**
 * @typedef {import("./event-fields.js").HotlineEvent} HotlineEvent
 * @typedef {import("../sdk/client.js").Policy} Policy
 */

/**
 * @typedef {object} Proposal
 * @property {string} id
 * @property {Policy} policy
 * @property {string} party the proposing party
 * @property {string} operator the proposing admin
 * @property {string} at when it was proposed
 * @property {number} seq
 * @property {string} lapsesAt
 * @property {{how: "accepted" | "withdrawn" | "replaced", at: string, seq: number,
 *   operator: string | null} | null} closed how it ended, if it did by an event
 */

/** The policy proposals of one channel and the policy they put in force. */
export class PolicyBook {
  constructor() {
    /** @type {Map<string, Proposal>} by proposal id, in log order */
    this.proposals = new Map();
    /**
     * The last policy accepted in the log, or null while the channel's first policy stands.
     * @type {{policy: Policy, seq: number, at: string, proposal: Proposal} | null}
     */
    this.changed = null;
  }

  /**
   * Take a `channel.policy_*` event.
   * @param {HotlineEvent} event
   * @returns {boolean} whether it is a type this console knows
   * @throws {UnreadableEvent}
   */
  apply(event) {
    const data = event.data;
    const known = [
      "channel.policy_proposed",
      "channel.policy_changed",
      "channel.policy_withdrawn",
    ];
    if (!known.includes(event.type)) return false;
    const actor = actorOf(event);
    const id = text(data, "proposal");
    if (event.type === "channel.policy_proposed") {
      if (this.proposals.has(id)) throw new UnreadableEvent(`proposal ${id} was made before`);
      const policy = policyOf(data.policy);
      const lapsesAt = time(data, "lapses_at");
      // A new proposal replaces the one waiting, whoever made it, and names it.
      const replaced = this.proposals.get(maybeText(data, "supersedes") ?? "");
      if (replaced && replaced.closed === null) {
        this.#close(replaced, { how: "replaced", at: event.at, seq: event.seq, operator: null });
      }
      this.proposals.set(id, {
        id,
        policy,
        party: actor.party,
        operator: actor.operator,
        at: event.at,
        seq: event.seq,
        lapsesAt,
        closed: null,
      });
      return true;
    }
    const proposal = this.proposals.get(id);
    if (!proposal) throw new UnreadableEvent(`it names proposal ${id}, which was never made`);
    if (proposal.closed) throw new UnreadableEvent(`proposal ${id} was ${proposal.closed.how} before`);
    const how = event.type === "channel.policy_changed" ? "accepted" : "withdrawn";
    const policy = how === "accepted" ? policyOf(data.policy) : null;
    const closed = this.#close(proposal, { how, at: event.at, seq: event.seq, operator: actor.operator });
    if (policy) this.changed = { policy, seq: event.seq, at: event.at, proposal: closed };
    return true;
  }

  /**
   * @param {Proposal} proposal
   * @param {NonNullable<Proposal["closed"]>} closed
   * @returns {Proposal} the proposal, closed
   */
  #close(proposal, closed) {
    const ended = { ...proposal, closed };
    this.proposals.set(proposal.id, ended);
    return ended;
  }

  /**
   * The proposal waiting for an answer now, if any: not closed by an event, not lapsed.
   * @param {number} now milliseconds since the epoch
   * @returns {Proposal | null}
   */
  pending(now) {
    // Newest first: a later proposal replaces any before it on the server.
    for (const proposal of this.history()) {
      if (proposal.closed === null && Date.parse(proposal.lapsesAt) > now) return proposal;
    }
    return null;
  }

  /**
   * Every proposal, newest first.
   * @returns {Proposal[]}
   */
  history() {
    return [...this.proposals.values()].reverse();
  }
}

/**
 * The policy in force: the last one the log says was accepted, else the one the channel had
 * when the console opened it.
 * @param {import("./context.js").Context} context
 * @returns {Policy}
 */
export function policyInForce(context) {
  return context.book.policy.changed?.policy ?? context.channel.policy;
}

/**
 * A policy as an event carries it: an object with at least the deadlines.
 * @param {unknown} value
 * @returns {Policy}
 */
function policyOf(value) {
  if (!isObject(value) || !isObject(value.ack_deadline_seconds)) {
    throw new UnreadableEvent("its policy is not a policy");
  }
  return /** @type {Policy} */ (/** @type {unknown} */ (value));
}
