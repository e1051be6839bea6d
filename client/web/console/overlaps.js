/**
 * Planned activity, grouped by area, with the windows that overlap in one area found:
 * the two crews at the same hole that the whole channel exists to prevent.
 *
 * Pure: notices in, lanes out. A cancelled notice plans nothing; a notice and its party's
 * update that refers to it are one plan told twice, so they never count as a clash.
 * @module
 */

/** @typedef {import("./notices.js").Notice} Notice */

/**
 * @typedef {object} Bar
 * @property {Notice} notice
 * @property {number} start milliseconds since the epoch
 * @property {number} end
 * @property {Notice[]} overlaps the notices of the same area whose windows overlap this one
 */

/**
 * @typedef {object} Lane
 * @property {string} area as the first notice spelled it; "" for notices without one
 * @property {Bar[]} bars by start time
 * @property {number} clashes how many bars overlap another
 */

/**
 * The lanes of a timeline, areas in alphabetical order, the lane without an area last.
 * @param {Iterable<Notice>} notices
 * @returns {Lane[]}
 */
export function lanes(notices) {
  /** @type {Map<string, Lane>} */
  const byArea = new Map();
  for (const notice of notices) {
    if (!notice.activity || notice.status === "cancelled") continue;
    const key = areaKey(notice.area);
    let lane = byArea.get(key);
    if (!lane) {
      lane = { area: key ? (notice.area ?? "").trim() : "", bars: [], clashes: 0 };
      byArea.set(key, lane);
    }
    lane.bars.push({
      notice,
      start: Date.parse(notice.activity.starts_at),
      end: Date.parse(notice.activity.ends_at),
      overlaps: [],
    });
  }
  for (const lane of byArea.values()) {
    lane.bars.sort((a, b) => a.start - b.start || a.notice.seq - b.notice.seq);
    if (lane.area) findOverlaps(lane);
  }
  return [...byArea.entries()]
    .sort(([a], [b]) => (a === "" ? 1 : b === "" ? -1 : a.localeCompare(b)))
    .map(([, lane]) => lane);
}

/**
 * The same place however it is typed: "Mill Lane" and " mill  lane".
 * @param {string | null} area
 * @returns {string}
 */
export function areaKey(area) {
  return (area ?? "").trim().replace(/\s+/g, " ").toLocaleLowerCase();
}

/**
 * Mark every pair of bars whose windows share some time (touching ends do not).
 * @param {Lane} lane its bars sorted by start
 */
function findOverlaps(lane) {
  const bars = lane.bars;
  for (let i = 0; i < bars.length; i += 1) {
    for (let j = i + 1; j < bars.length && bars[j].start < bars[i].end; j += 1) {
      if (related(bars[i].notice, bars[j].notice)) continue;
      bars[i].overlaps.push(bars[j].notice);
      bars[j].overlaps.push(bars[i].notice);
    }
  }
  lane.clashes = bars.filter((bar) => bar.overlaps.length).length;
}

/**
 * @param {Notice} a
 * @param {Notice} b
 */
function related(a, b) {
  // As the server compares plans: only a party's update of its own notice is the same plan
  // told twice; the other party's reply with works of its own is a plan of its own.
  return (a.refersTo === b.id || b.refersTo === a.id) && a.sender.party === b.sender.party;
}

/**
 * The span a timeline shows: from the earliest start to the latest end, widened to whole
 * days, and to include now when now is close.
 * @param {Lane[]} found
 * @param {number} now
 * @returns {{from: number, to: number} | null} null when there is nothing to show
 */
export function span(found, now) {
  const bars = found.flatMap((lane) => lane.bars);
  if (!bars.length) return null;
  const day = 86_400_000;
  let from = Math.min(...bars.map((b) => b.start));
  let to = Math.max(...bars.map((b) => b.end));
  if (now < from && from - now < 7 * day) from = now;
  if (now > to && now - to < 7 * day) to = now;
  const midnight = (/** @type {number} */ t) => {
    const d = new Date(t);
    d.setHours(0, 0, 0, 0);
    return d.getTime();
  };
  from = midnight(from);
  to = midnight(to - 1) + day;
  return { from, to };
}
