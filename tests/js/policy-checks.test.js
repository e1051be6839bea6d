// The client's policy, check, availability and conflict calls against a fake fetch: the
// request each one makes (method, path, query, body), what is tried again and what is not,
// and how a refusal comes back.

import assert from "node:assert/strict";
import { test } from "node:test";

import { HotlineClient, ProblemError, Unreachable } from "../../client/web/sdk/hotline.js";

const CHANNEL = "water-roads";
const PROPOSAL = "0b6f4f0e-3c1a-4d8e-9a57-3f0d2c4b9e10";
const CHECK = "7d1f3a52-9f0e-4c55-8f7e-2b8c1d0e6a44";
const API = `https://hotline.example/api/v1/channels/${CHANNEL}`;

const POLICY = {
  ack_deadline_seconds: { routine: 259200, important: 86400, urgent: 3600 },
  min_advance_notice_seconds: { routine: 604800, important: 86400, urgent: 0 },
  require_signatures: false,
  chase: {
    routine: { remind_after_seconds: 86400, remind_every_seconds: 86400, reminders: 2, escalate_after_seconds: 259200 },
    important: { remind_after_seconds: 7200, remind_every_seconds: 7200, reminders: 3, escalate_after_seconds: 28800 },
    urgent: { remind_after_seconds: 900, remind_every_seconds: 900, reminders: 4, escalate_after_seconds: 3600 },
  },
  escalate_to: { roads: ["dev"] },
  checks: { every_seconds: 3600, answer_within_seconds: 300 },
};

/**
 * @typedef {{method: string, url: URL, body: any, auth: string | null}} Asked
 */

/**
 * A client whose fetch answers from `answers` in turn (a Response, or an Error to throw), and
 * records what it was asked.
 * @param {Array<Response | Error | (() => Response)>} answers
 */
function fake(answers) {
  /** @type {Asked[]} */
  const asked = [];
  const client = new HotlineClient({
    baseUrl: "https://hotline.example",
    token: "hl_admin",
    retries: 2,
    backoff: /** @type {any} */ ({ delay: () => 0 }),
    fetch: async (input, init) => {
      const headers = /** @type {Record<string, string>} */ (init?.headers ?? {});
      asked.push({
        method: init?.method ?? "GET",
        url: new URL(String(input)),
        body: init?.body === undefined ? undefined : JSON.parse(String(init.body)),
        auth: headers.Authorization ?? null,
      });
      const next = answers.shift();
      if (next === undefined) throw new Error("asked more than the test expected");
      if (next instanceof Error) throw next;
      return typeof next === "function" ? next() : next;
    },
  });
  return { client, asked };
}

/** @param {number} status @param {string} code */
const problem = (status, code) =>
  Response.json({ status, code, title: code, detail: `refused: ${code}` }, {
    status,
    headers: { "Content-Type": "application/problem+json" },
  });

const STATE = { in_force: POLICY, since_seq: null, pending: null };

test("policy reads the policy in force and the pending proposal, with the bearer token", async () => {
  const { client, asked } = fake([Response.json(STATE)]);

  const state = await client.policy(CHANNEL);

  assert.deepEqual(state, STATE);
  assert.equal(asked[0].method, "GET");
  assert.equal(asked[0].url.href, `${API}/policy`);
  assert.equal(asked[0].auth, "Bearer hl_admin");
});

test("proposePolicy posts the whole policy with its id and lapse, and may be tried again", async () => {
  const proposal = { id: PROPOSAL, policy: POLICY, party: "water", operator: "wendy", proposed_at: "2026-11-21T09:00:00.000Z", lapses_at: "2026-11-22T09:00:00.000Z" };
  const { client, asked } = fake([new TypeError("fetch failed"), Response.json(proposal, { status: 201 })]);

  const made = await client.proposePolicy(CHANNEL, POLICY, { id: PROPOSAL.toUpperCase(), lapsesIn: 86400 });

  assert.deepEqual(made, proposal);
  assert.deepEqual(asked.map((a) => `${a.method} ${a.url.pathname}`), [
    `POST /api/v1/channels/${CHANNEL}/policy/proposals`,
    `POST /api/v1/channels/${CHANNEL}/policy/proposals`,
  ]);
  assert.deepEqual(asked[1].body, { id: PROPOSAL, policy: POLICY, lapses_in_seconds: 86400 });
  assert.deepEqual(asked[0].body, asked[1].body, "the retry repeats the same id: idempotent");
});

test("a proposal without an id or a lapse gets a fresh id and the server's default lapse", async () => {
  const { client, asked } = fake([Response.json({}, { status: 201 })]);

  await client.proposePolicy(CHANNEL, POLICY);

  assert.match(asked[0].body.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal("lapses_in_seconds" in asked[0].body, false);
});

test("a proposal that fails carries its id to propose again with", async () => {
  const { client } = fake([new TypeError("down"), new TypeError("down"), new TypeError("down")]);

  const failed = await client.proposePolicy(CHANNEL, POLICY, { id: PROPOSAL }).catch((e) => e);

  assert.ok(failed instanceof Unreachable, String(failed));
  assert.equal(failed.proposalId, PROPOSAL);
});

test("a proposal's id and lapse are checked before anything is sent", async () => {
  const { client, asked } = fake([]);

  await assert.rejects(client.proposePolicy(CHANNEL, POLICY, { id: "not-a-uuid" }), /not a proposal id/);
  await assert.rejects(client.proposePolicy(CHANNEL, POLICY, { lapsesIn: 1.5 }), /whole number of seconds/);
  assert.deepEqual(asked, []);
});

test("acceptPolicy is tried again (accepting twice changes nothing); withdrawPolicy is not", async () => {
  const { client, asked } = fake([
    problem(503, "unavailable"),
    Response.json({ ...STATE, since_seq: 12 }),
    problem(503, "unavailable"),
  ]);

  const accepted = await client.acceptPolicy(CHANNEL, PROPOSAL);
  const refused = await client.withdrawPolicy(CHANNEL, PROPOSAL).catch((e) => e);

  assert.equal(accepted.since_seq, 12);
  assert.ok(refused instanceof ProblemError && refused.status === 503, String(refused));
  assert.deepEqual(asked.map((a) => `${a.method} ${a.url.pathname} ${a.body}`), [
    `POST /api/v1/channels/${CHANNEL}/policy/proposals/${PROPOSAL}/accept undefined`,
    `POST /api/v1/channels/${CHANNEL}/policy/proposals/${PROPOSAL}/accept undefined`,
    `POST /api/v1/channels/${CHANNEL}/policy/proposals/${PROPOSAL}/withdraw undefined`,
  ]);
});

test("accepting a lapsed proposal is a 409 proposal-closed problem", async () => {
  const { client } = fake([problem(409, "proposal-closed")]);

  const refused = await client.acceptPolicy(CHANNEL, PROPOSAL).catch((e) => e);

  assert.ok(refused instanceof ProblemError, String(refused));
  assert.equal(refused.status, 409);
  assert.equal(refused.code, "proposal-closed");
});

test("checks reads a page of one party's checks after a cursor", async () => {
  const page = { items: [{ id: CHECK, party: "roads" }], next_cursor: null };
  const { client, asked } = fake([Response.json(page)]);

  const found = await client.checks(CHANNEL, { party: "roads", cursor: "c-42", limit: 50 });

  assert.deepEqual(found, page);
  assert.equal(asked[0].url.pathname, `/api/v1/channels/${CHANNEL}/checks`);
  assert.deepEqual(Object.fromEntries(asked[0].url.searchParams), { party: "roads", cursor: "c-42", limit: "50" });
});

test("answerCheck posts to the check and is tried again: a second answer changes nothing", async () => {
  const answered = { id: CHECK, party: "roads", answered_by: "carla" };
  const { client, asked } = fake([problem(502, "bad-gateway"), Response.json(answered)]);

  const check = await client.answerCheck(CHANNEL, CHECK);

  assert.deepEqual(check, answered);
  assert.deepEqual(asked.map((a) => `${a.method} ${a.url.pathname}`), [
    `POST /api/v1/channels/${CHANNEL}/checks/${CHECK}/answer`,
    `POST /api/v1/channels/${CHANNEL}/checks/${CHECK}/answer`,
  ]);
});

test("answering a check after it was missed is a 409 check-closed problem", async () => {
  const { client } = fake([problem(409, "check-closed")]);

  const refused = await client.answerCheck(CHANNEL, CHECK).catch((e) => e);

  assert.equal(refused.code, "check-closed");
  await assert.rejects(client.answerCheck(CHANNEL, "../policy"), /not a check id/);
});

test("availability asks for a range in the protocol's spelling of times", async () => {
  const answer = { since: "2026-11-01T00:00:00.000Z", until: "2026-11-08T00:00:00.000Z", parties: [] };
  const { client, asked } = fake([Response.json(answer), Response.json(answer)]);

  await client.availability(CHANNEL, { since: "2026-11-01T01:00:00+01:00", until: new Date("2026-11-08T00:00:00Z") });
  await client.availability(CHANNEL);

  assert.deepEqual(Object.fromEntries(asked[0].url.searchParams), {
    since: "2026-11-01T00:00:00.000Z",
    until: "2026-11-08T00:00:00.000Z",
  });
  assert.equal(asked[1].url.search, "");
  await assert.rejects(client.availability(CHANNEL, { since: "yesterday" }), /since is not an RFC 3339 time/);
});

test("conflicts lists the channel's conflicts, or only the open ones", async () => {
  const open = [{ id: PROPOSAL, notices: [CHECK, PROPOSAL], area: "mill lane" }];
  const { client, asked } = fake([Response.json(open), Response.json([])]);

  assert.deepEqual(await client.conflicts(CHANNEL, { open: true, limit: 10 }), open);
  assert.deepEqual(await client.conflicts(CHANNEL), []);
  assert.equal(asked[0].url.search, "?open=true&limit=10");
  assert.equal(asked[1].url.search, "");
});
