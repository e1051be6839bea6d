// The console's books, folded from a log in Node (they touch no DOM): a notice's reminders and
// escalation, conflicts, liveness checks and policy proposals, and what an event that does not
// read whole leaves behind (nothing).

import assert from "node:assert/strict";
import { test } from "node:test";

import { NoticeBook } from "../../client/web/console/notices.js";

const CHANNEL = "water-roads";
const A = "84a10a7f-1ef3-4cab-9006-ddf3c09c457f";
const B = "0b6f4f0e-3c1a-4d8e-9a57-3f0d2c4b9e10";
const CHECK = "7d1f3a52-9f0e-4c55-8f7e-2b8c1d0e6a44";
const FIRST = "c3a3a0d6-5d1e-4b7e-8a9a-6c1f2e3d4b5a";
const SECOND = "e1d2c3b4-a596-4877-8899-aabbccddeeff";
const POLICY = { ack_deadline_seconds: { routine: 1, important: 1, urgent: 1 }, checks: null };
const WANDA = { party: "water", operator: "wanda" };
const RAJ = { party: "roads", operator: "raj" };

/** A book fed `events` in order, numbered from 1. */
class Log {
  constructor() {
    this.book = new NoticeBook(CHANNEL);
  }

  /**
   * @param {string} type
   * @param {Record<string, unknown>} data
   * @param {{party: string, operator: string} | null} [actor]
   * @param {string} [at]
   */
  add(type, data, actor = null, at = "2026-11-21T09:00:00.000Z") {
    return this.book.apply({ channel: CHANNEL, seq: this.book.lastSeq + 1, type, at, actor, data });
  }

  /**
   * @param {string} id
   * @param {string} party
   * @param {string} area
   * @param {[string, string]} window
   */
  sent(id, party, area, window) {
    const actor = { party, operator: party === "water" ? "ana" : "dev" };
    return this.add(
      "notice.sent",
      {
        notice: id,
        subject: `Works, ${area}`,
        body: "",
        priority: "urgent",
        activity: { starts_at: window[0], ends_at: window[1] },
        area,
        bbox: [-0.13, 51.5, -0.12, 51.51],
        ack_required: true,
        refers_to: null,
        ack_due_at: "2026-11-21T10:00:00.000Z",
      },
      actor,
    );
  }
}

const WINDOW = /** @type {[string, string]} */ (["2026-12-07T07:00:00.000Z", "2026-12-09T17:00:00.000Z"]);
const OVERLAP = { starts_at: "2026-12-08T07:00:00.000Z", ends_at: "2026-12-09T17:00:00.000Z" };

test("reminders and an escalation join their notice and its history, status unchanged", () => {
  const log = new Log();
  log.sent(A, "water", "Mill Lane", WINDOW);
  log.add("notice.overdue", { notice: A, due_at: "2026-11-21T10:00:00.000Z" });
  const due = "2026-11-21T10:15:00.000Z";

  log.add("notice.reminded", { notice: A, due_at: due, party: "roads", reminder: 1, of: 2 });
  log.add("notice.reminded", { notice: A, due_at: due, party: "roads", reminder: 2, of: 2 });
  const entry = log.add("notice.escalated", { notice: A, due_at: due, party: "roads", to: ["dev"] });

  const notice = log.book.notices.get(A);
  assert.equal(entry.effect, "applied");
  assert.equal(notice?.status, "overdue");
  assert.deepEqual(notice?.reminders.map((r) => `${r.n}/${r.of}`), ["1/2", "2/2"]);
  assert.deepEqual(notice?.escalation?.to, ["dev"]);
  assert.deepEqual(notice?.history, [1, 2, 3, 4, 5]);
  assert.deepEqual(notice?.bbox, [-0.13, 51.5, -0.12, 51.51]);
});

test("a reminder numbered past its count is unreadable and changes nothing", () => {
  const log = new Log();
  log.sent(A, "water", "Mill Lane", WINDOW);

  const entry = log.add("notice.reminded", { notice: A, due_at: "2026-11-21T10:00:00.000Z", party: "roads", reminder: 3, of: 2 });

  assert.equal(entry.effect, "unreadable");
  assert.match(String(entry.problem), /reminder 3 of only 2/);
  assert.deepEqual(log.book.notices.get(A)?.reminders, []);
});

test("a conflict is in the history of both its notices, until it is resolved", () => {
  const log = new Log();
  log.sent(A, "water", "Mill Lane", WINDOW);
  log.sent(B, "roads", "mill lane", WINDOW);
  const detected = log.add("conflict.detected", { conflict: CHECK, notices: [A, B], area: "mill lane", overlap: OVERLAP });

  assert.deepEqual(detected.notices, [A, B]);
  assert.equal(log.book.conflicts.open().length, 1);
  assert.deepEqual(log.book.notices.get(A)?.history, [1, 3]);
  assert.deepEqual(log.book.notices.get(B)?.history, [2, 3]);

  log.add("notice.cancelled", { notice: A, reason: null }, { party: "water", operator: "ana" });
  log.add("conflict.resolved", { conflict: CHECK, notices: [A, B], by: A, reason: "cancelled" });

  assert.deepEqual(log.book.conflicts.open(), []);
  assert.deepEqual(log.book.conflicts.of(B)[0].resolved?.by, A);
  assert.deepEqual(log.book.notices.get(B)?.history, [2, 3, 5]);
  const again = log.add("conflict.resolved", { conflict: CHECK, notices: [A, B], by: A, reason: "cancelled" });
  assert.equal(again.effect, "unreadable");
});

test("a conflict naming a notice the log never sent is unreadable, and no notice changes", () => {
  const log = new Log();
  log.sent(A, "water", "Mill Lane", WINDOW);

  const entry = log.add("conflict.detected", { conflict: CHECK, notices: [A, B], area: "mill lane", overlap: OVERLAP });

  assert.equal(entry.effect, "unreadable");
  assert.equal(log.book.conflicts.byId.size, 0);
  assert.deepEqual(log.book.notices.get(A)?.history, [1]);
});

test("a check is pending until answered by its own party, or missed", () => {
  const log = new Log();
  const requested = { due_at: "2026-11-21T09:00:00.000Z", answer_by: "2026-11-21T09:05:00.000Z" };
  log.add("check.requested", { check: CHECK, party: "roads", ...requested });
  log.add("check.requested", { check: FIRST, party: "water", ...requested });

  const wrong = log.add("check.answered", { check: CHECK, party: "roads", answered_in_ms: 5 }, { party: "water", operator: "ana" });
  assert.equal(wrong.effect, "unreadable");
  assert.deepEqual(log.book.checks.pending("roads").map((c) => c.id), [CHECK]);

  log.add("check.answered", { check: CHECK, party: "roads", requested_at: requested.due_at, answered_in_ms: 1200 }, { party: "roads", operator: "carla" });
  log.add("check.missed", { check: FIRST, party: "water", due_at: requested.answer_by, to: [] });

  assert.deepEqual(log.book.checks.pending(), []);
  assert.deepEqual(log.book.checks.recent(3).map((c) => [c.id, c.answered?.operator ?? null, c.missed?.to ?? null]), [
    [FIRST, null, []],
    [CHECK, "carla", null],
  ]);
  assert.equal(log.add("check.pinged", { check: CHECK }).effect, "unknown");
});

test("a proposal waits until accepted, replaced, withdrawn or lapsed; the accepted policy is in force", () => {
  const log = new Log();
  const lapses = "2026-11-28T09:00:00.000Z";
  const now = Date.parse("2026-11-21T12:00:00.000Z");
  log.add("channel.policy_proposed", { proposal: FIRST, policy: POLICY, lapses_at: lapses }, WANDA);
  assert.equal(log.book.policy.pending(now)?.id, FIRST);
  assert.equal(log.book.policy.pending(Date.parse(lapses)), null, "lapsed: logs nothing, waits no more");

  log.add("channel.policy_proposed", { proposal: SECOND, policy: { ...POLICY, checks: { every_seconds: 3600, answer_within_seconds: 300 } }, lapses_at: lapses, supersedes: FIRST }, WANDA);
  const accepted = log.add("channel.policy_changed", { proposal: SECOND, policy: { ...POLICY, checks: { every_seconds: 3600, answer_within_seconds: 300 } }, proposed_by: WANDA }, RAJ);

  assert.equal(accepted.effect, "applied");
  assert.equal(log.book.policy.pending(now), null);
  assert.equal(log.book.policy.changed?.seq, 3);
  assert.deepEqual(log.book.policy.changed?.policy.checks, { every_seconds: 3600, answer_within_seconds: 300 });
  assert.deepEqual(log.book.policy.history().map((p) => p.closed?.how), ["accepted", "replaced"]);
  const late = log.add("channel.policy_withdrawn", { proposal: SECOND }, WANDA);
  assert.equal(late.effect, "unreadable");
});
