// The bytes an operator signs, against the shared vectors (tests/vectors/signatures.json,
// written by client/protocol/signatures.py): a notice's bbox is signed only when present.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";

import {
  OPTIONAL_SIGNED_FIELDS,
  SIGNED_FIELDS,
  buildDraft,
  canonicalText,
  eventContent,
  noticeContent,
  signedContent,
  toBase64,
} from "../../client/web/sdk/hotline.js";
import { vectors } from "./support/vectors.js";

const FILE = new URL("../vectors/signatures.json", import.meta.url);
const missing = !existsSync(FILE) && "tests/vectors/signatures.json is not written yet";
const file = missing ? { vectors: [], drafts: [] } : vectors("signatures.json");

const decoder = new TextDecoder();
/** @param {Uint8Array} bytes */
const text = (bytes) => decoder.decode(bytes);

test("every signed content is Python's, byte for byte", { skip: missing }, () => {
  const wrong = [];
  for (const v of file.vectors) {
    const got = signedContent({
      channel: v.channel,
      type: v.event_type,
      party: v.party,
      operator: v.operator,
      data: v.data,
    });
    if (toBase64(got) !== v.content) wrong.push({ name: v.name, got: text(got) });
  }
  assert.deepEqual(wrong, []);
  assert.ok(file.vectors.some((/** @type {any} */ v) => Array.isArray(v.data.bbox)));
});

test("every draft's content to sign is Python's, byte for byte", { skip: missing }, () => {
  const wrong = [];
  for (const v of file.drafts ?? []) {
    const got = noticeContent(v.draft, { channel: v.channel, party: v.party, operator: v.operator });
    if (toBase64(got) !== v.content) wrong.push({ name: v.name, got: text(got) });
  }
  assert.deepEqual(wrong, []);
});

test("the signed fields are the Python module's", () => {
  assert.deepEqual(Object.keys(SIGNED_FIELDS).sort(), [
    "notice.acknowledged",
    "notice.objected",
    "notice.sent",
  ]);
  assert.deepEqual(OPTIONAL_SIGNED_FIELDS, { "notice.sent": ["bbox", "attachments"] });
});

const NOTICE = "84a10a7f-1ef3-4cab-9006-ddf3c09c457f";
const SENT = {
  notice: NOTICE,
  subject: "Water main renewal, Mill Lane",
  body: "",
  priority: "routine",
  activity: null,
  area: "Mill Lane",
  ack_required: true,
  refers_to: null,
  client_time: "2026-11-21T05:18:57.000Z",
};
const WHO = { channel: "water-roads", type: "notice.sent", party: "water", operator: "ana" };

test("a bbox is signed when present, and left out when absent or null", () => {
  const without = text(signedContent({ ...WHO, data: SENT }));
  const nulled = text(signedContent({ ...WHO, data: { ...SENT, bbox: null } }));
  const boxed = text(signedContent({ ...WHO, data: { ...SENT, bbox: [-0.0, 51.5, 1e-7, 52] } }));

  assert.equal(nulled, without);
  assert.equal(without.includes("bbox"), false);
  assert.match(boxed, /"bbox":\[0,51\.5,1e-7,52\],"body"/);
});

test("what the server adds, and the signature, are not signed; a missing field is null", () => {
  const served = { ...SENT, ack_due_at: "2026-11-24T05:18:57.997Z", signature: "AAAA" };
  const lean = { notice: NOTICE, subject: "Hydrant flushing" };

  assert.equal(text(signedContent({ ...WHO, data: served })), text(signedContent({ ...WHO, data: SENT })));
  assert.equal(
    text(signedContent({ ...WHO, data: lean })),
    canonicalText({
      ...WHO,
      notice: NOTICE,
      subject: "Hydrant flushing",
      body: null,
      priority: null,
      activity: null,
      area: null,
      ack_required: null,
      refers_to: null,
      client_time: null,
    }),
  );
});

test("an event's content is read from its envelope: channel, type and actor", () => {
  const event = {
    channel: "water-roads",
    seq: 3,
    type: "notice.objected",
    at: "2026-11-21T05:20:00.000Z",
    actor: { party: "roads", operator: "dev" },
    data: { notice: NOTICE, reason: "We resurface Mill Lane that week.", client_time: null },
  };

  assert.equal(
    text(eventContent(event)),
    text(signedContent({ channel: "water-roads", type: "notice.objected", party: "roads", operator: "dev", data: event.data })),
  );
  assert.throws(() => eventContent({ ...event, actor: null }), TypeError);
  assert.throws(() => eventContent({ ...event, type: "notice.received" }), /notice\.received events are not signed/);
});

test("a draft signs the defaults the server fills in, and its bbox", () => {
  const body = buildDraft({
    id: NOTICE,
    subject: "Water main renewal, Mill Lane",
    area: "Mill Lane",
    bbox: [-0.1275, 51.5072, -0.1201, 51.5111],
    client_time: "2026-11-21T05:18:57Z",
  });

  const signed = text(noticeContent(body, { channel: "water-roads", party: "water", operator: "ana" }));

  assert.equal(
    signed,
    text(signedContent({ ...WHO, data: { ...SENT, bbox: [-0.1275, 51.5072, -0.1201, 51.5111] } })),
  );
});
