// The SDK's entry: every public name of every module is exported from hotline.js, and the names
// other code relies on (the list, the console's) are there.

import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { test } from "node:test";

import * as hotline from "../../client/web/sdk/hotline.js";

const SDK = new URL("../../client/web/sdk/", import.meta.url);
/** Names a module exports for the SDK's own use only, with the reason. */
const INTERNAL = {
  "socket.js": ["Socket", "SocketClosed", "SocketTimeout"], // the subscription's transport
};

test("hotline.js exports every public name of every SDK module", async () => {
  const modules = (await readdir(SDK)).filter((name) => name.endsWith(".js") && name !== "hotline.js");
  const missing = [];
  for (const name of modules) {
    const module = await import(new URL(name, SDK).href);
    const internal = INTERNAL[/** @type {keyof typeof INTERNAL} */ (name)] ?? [];
    for (const exported of Object.keys(module)) {
      if (internal.includes(exported)) {
        assert.equal(exported in hotline, false, `${exported} of ${name} is internal`);
      } else if (hotline[/** @type {keyof typeof hotline} */ (exported)] !== module[exported]) {
        missing.push(`${name}: ${exported}`);
      }
    }
  }

  assert.deepEqual(missing, []);
  assert.ok(modules.length >= 14, modules.join(", "));
});

test("the names the issue promises are exported", () => {
  const promised = [
    "leafHash",
    "nodeHash",
    "rootHash",
    "verifyInclusion",
    "verifyConsistency",
    "openNote",
    "parseCheckpoint",
    "canonicalJson",
    "eventHash",
    "CompactRange",
    "ChannelAuditor",
    "ProofError",
    "NoteError",
    "CheckpointError",
    "LogTampered",
    "SplitView",
    "ProblemError",
    "HotlineError",
    "ConnectionClosed",
    "HotlineClient",
    "MemoryStore",
  ];

  assert.deepEqual(
    promised.filter((name) => !(name in hotline)),
    [],
  );
});

test("every error the SDK throws is a HotlineError", () => {
  for (const name of ["ProblemError", "Unreachable", "ConnectionClosed", "ProofError", "NoteError", "CheckpointError", "LogTampered", "SplitView"]) {
    const kind = /** @type {any} */ (hotline)[name];
    assert.ok(kind.prototype instanceof hotline.HotlineError, name);
  }
});

test("the socket's address follows the server's scheme and path", () => {
  assert.equal(hotline.wsUrl("http://127.0.0.1:8000"), "ws://127.0.0.1:8000/api/v1/ws");
  assert.equal(hotline.wsUrl("https://hotline.example.org/hotline/"), "wss://hotline.example.org/hotline/api/v1/ws");
});

test("the back-off grows to its cap, with full jitter below the bound", () => {
  const backoff = new hotline.Backoff({ base: 100, cap: 1000, factor: 2 });

  const delays = Array.from({ length: 200 }, (_, attempt) => backoff.delay(attempt % 8));

  assert.ok(delays.every((d) => d >= 0 && d <= 1000));
  assert.ok(Array.from({ length: 50 }, () => backoff.delay(0)).every((d) => d <= 100));
  assert.ok(new Set(delays).size > 100, "jittered, not fixed");
});

test("a MemoryStore keeps what it is given, as localStorage does, strings only", () => {
  const store = new hotline.MemoryStore();

  store.setItem("k", /** @type {any} */ (42));

  assert.equal(store.getItem("k"), "42");
  assert.equal(store.getItem("absent"), null);
});

test("a stored state this client did not write is refused, not half read", () => {
  const store = new hotline.MemoryStore();
  store.setItem("hotline:x", '{"after": -1}');
  store.setItem("hotline:y", "{not json");

  assert.throws(() => hotline.loadResume(store, "hotline:x"), hotline.HotlineError);
  assert.throws(() => hotline.loadResume(store, "hotline:y"), hotline.HotlineError);
  assert.deepEqual(hotline.loadResume(store, "hotline:z"), { after: null, audit: {} });
});

test("a server message is taken whole or passed over, saying why", () => {
  const event = { channel: "water-roads", seq: 1, type: "notice.sent", at: "2026-12-03T09:00:00.000Z", actor: null, data: {} };

  const good = hotline.parseServerMessage(JSON.stringify({ type: "event", event }));
  const noTime = hotline.parseServerMessage(JSON.stringify({ type: "event", event: { ...event, at: "09:00" } }));
  const unknown = hotline.parseServerMessage('{"type": "weather"}');
  const notAnObject = hotline.parseServerMessage("[1, 2]");

  assert.ok("message" in good && good.message.type === "event" && good.message.checkpoint === null);
  assert.ok("ignored" in noTime && noTime.ignored.includes("event.at"));
  assert.ok("ignored" in unknown && unknown.ignored.includes("unknown type"));
  assert.ok("ignored" in notAnObject);
});

test("drafts are checked as the server checks them: lengths in characters, one-line fields, times with a zone", () => {
  const ok = hotline.buildDraft({ subject: "é".repeat(200), activity: { starts_at: "2030-01-01T08:00:00+01:00", ends_at: new Date("2030-01-02T00:00:00Z") } });
  const refused = (/** @type {any} */ draft) => {
    try {
      hotline.buildDraft(draft);
      return [];
    } catch (error) {
      assert.ok(error instanceof hotline.ProblemError);
      return error.errors.map((/** @type {any} */ e) => e.field);
    }
  };

  assert.equal(ok.activity && /** @type {any} */ (ok.activity).starts_at, "2030-01-01T07:00:00.000Z");
  assert.match(String(ok.id), /^[0-9a-f-]{36}$/);
  assert.match(String(ok.client_time), /Z$/);
  assert.deepEqual(refused({ subject: "   " }), ["subject"]);
  assert.deepEqual(refused({ subject: "a", area: "two\nlines" }), ["area"]);
  assert.deepEqual(refused({ subject: "a", body: "bell\u0007" }), ["body"]);
  assert.deepEqual(refused({ subject: "a", priority: "whenever" }), ["priority"]);
  assert.deepEqual(refused({ subject: "a", activity: { starts_at: "2030-01-01T08:00:00" } }), [
    "activity.starts_at",
    "activity.ends_at",
  ]);
  assert.deepEqual(refused({ subject: "a", id: "not-a-uuid", refers_to: 7 }), ["id", "refers_to"]);
});
