/**
 * The conflicting plans the server found: two notices whose activity windows overlap in one
 * area (`conflict.detected`), until an update or a cancellation removes the overlap
 * (`conflict.resolved`).
 *
 * The console also finds overlaps itself (`overlaps.js`), to draw the timeline; but the
 * server's events are the authority: they are in the signed log both parties hold, and the
 * server compares bounding boxes too, so two boxes that do not meet are no conflict.
 *
 * Pure: folded from verified events, as `notices.js` folds notices.
 * @module
 */

import { UnreadableEvent, isObject, isTime, text } from "./event-fields.js";

/**
 * @typedef {import("./event-fields.js").HotlineEvent} HotlineEvent
 * @typedef {import("./notices.js").Notice} Notice
 */

/**
 * @typedef {object} Conflict
 * @property {string} id
 * @property {[string, string]} notices the earlier notice, then the one whose sending found it
 * @property {string} area the area as the server compares it (case and spaces folded)
 * @property {{starts_at: string, ends_at: string}} overlap when both plans take place
 * @property {number} seq the event that detected it
 * @property {string} at
 * @property {{seq: number, at: string, by: string, reason: string} | null} resolved by which
 *   notice (a cancellation or an update), and how
 */

/** The conflicts of one channel, from its log. */
export class ConflictBook {
  constructor() {
    /** @type {Map<string, Conflict>} by conflict id, in log order */
    this.byId = new Map();
  }

  /**
   * Take a `conflict.*` event.
   * @param {HotlineEvent} event
   * @param {(id: string) => Notice} noticeOf the notice of an id; throws if the log never sent it
   * @returns {Notice[] | null} the two notices it is about, or null for a type this console
   *   does not know
   * @throws {UnreadableEvent}
   */
  apply(event, noticeOf) {
    const data = event.data;
    if (event.type === "conflict.detected") {
      const id = text(data, "conflict");
      if (this.byId.get(id)?.resolved === null) {
        throw new UnreadableEvent(`conflict ${id} was detected before and is still open`);
      }
      const pair = noticePair(data.notices);
      const notices = pair.map(noticeOf);
      const overlap = data.overlap;
      if (!isObject(overlap) || !isTime(overlap.starts_at) || !isTime(overlap.ends_at)) {
        throw new UnreadableEvent("its overlap is not two times");
      }
      this.byId.delete(id); // detected again: it moves to the end, in log order
      this.byId.set(id, {
        id,
        notices: pair,
        area: text(data, "area"),
        overlap: { starts_at: overlap.starts_at, ends_at: overlap.ends_at },
        seq: event.seq,
        at: event.at,
        resolved: null,
      });
      return notices;
    }
    if (event.type === "conflict.resolved") {
      const id = text(data, "conflict");
      const conflict = this.byId.get(id);
      if (!conflict) throw new UnreadableEvent(`it resolves conflict ${id}, which was never detected`);
      if (conflict.resolved) throw new UnreadableEvent(`conflict ${id} was resolved before`);
      const by = text(data, "by");
      const reason = text(data, "reason");
      const notices = conflict.notices.map(noticeOf);
      this.byId.set(id, { ...conflict, resolved: { seq: event.seq, at: event.at, by, reason } });
      return notices;
    }
    return null;
  }

  /**
   * The conflicts a notice is part of, oldest first.
   * @param {string} notice
   * @returns {Conflict[]}
   */
  of(notice) {
    return [...this.byId.values()].filter((c) => c.notices.includes(notice));
  }

  /**
   * The conflicts not resolved yet, oldest first.
   * @returns {Conflict[]}
   */
  open() {
    return [...this.byId.values()].filter((c) => c.resolved === null);
  }
}

/**
 * The other notice of a conflict, seen from one of its two.
 * @param {Conflict} conflict
 * @param {string} notice
 * @returns {string}
 */
export function otherNotice(conflict, notice) {
  return conflict.notices[0] === notice ? conflict.notices[1] : conflict.notices[0];
}

/**
 * @param {unknown} value
 * @returns {[string, string]}
 */
function noticePair(value) {
  if (
    !Array.isArray(value) ||
    value.length !== 2 ||
    !value.every((id) => typeof id === "string") ||
    value[0] === value[1]
  ) {
    throw new UnreadableEvent("notices is not two different notice ids");
  }
  return [value[0], value[1]];
}
