// A notice's files in the browser SDK: the media types, the check of a download against its
// listing (crypto.subtle), the upload and download requests against a fake fetch, a draft's
// list of files, and what the console's book and log lines make of a notice that lists some;
// then the round trip against a real server, and a file altered where the server keeps it.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, test } from "node:test";

import { NoticeBook } from "../../client/web/console/notices.js";
import { files } from "../../client/web/console/describe.js";
import { byteSize } from "../../client/web/console/format.js";
import {
  AttachmentMismatch,
  HotlineClient,
  ProblemError,
  buildDraft,
  checkAttachment,
  mediaTypeOf,
  noticeContent,
  signedContent,
  utf8,
} from "../../client/web/sdk/hotline.js";
import { startSite } from "./support/server.js";

const CHANNEL = "water-roads";
const API = `https://hotline.example/api/v1/channels/${CHANNEL}`;
const PLAN = utf8("Mill Lane: one lane closed, with traffic lights, 7 to 11 December.\n");
const PLAN_SHA256 = createHash("sha256").update(PLAN).digest("hex");
const LISTING = Object.freeze({
  sha256: PLAN_SHA256,
  size: PLAN.length,
  media_type: "text/plain",
  name: "mill-lane.txt",
});

/**
 * @typedef {{method: string, url: URL, headers: Record<string, string>, body: unknown}} Asked
 */

/**
 * A client whose fetch answers from `answers` in turn, and records what it was asked.
 * @param {Array<Response | Error>} answers
 */
function fake(answers) {
  /** @type {Asked[]} */
  const asked = [];
  const client = new HotlineClient({
    baseUrl: "https://hotline.example",
    token: "hl_ana",
    retries: 2,
    backoff: /** @type {any} */ ({ delay: () => 0 }),
    fetch: async (input, init) => {
      asked.push({
        method: init?.method ?? "GET",
        url: new URL(String(input)),
        headers: /** @type {Record<string, string>} */ (init?.headers ?? {}),
        body: init?.body,
      });
      const next = answers.shift();
      if (next === undefined) throw new Error("asked more than the test expected");
      if (next instanceof Error) throw next;
      return next;
    },
  });
  return { client, asked };
}

/** @param {Uint8Array} bytes */
const served = (bytes) => new Response(new Uint8Array(bytes), { headers: { "Content-Type": "text/plain" } });

test("a file's media type is told by its extension, whatever its case", () => {
  assert.equal(mediaTypeOf("plan.PDF"), "application/pdf");
  assert.equal(mediaTypeOf("map.geojson"), "application/geo+json");
  assert.equal(mediaTypeOf("photo.jpeg"), "image/jpeg");
  assert.equal(mediaTypeOf("photo.jpg"), "image/jpeg");
  assert.equal(mediaTypeOf("notes.txt"), "text/plain");
  assert.equal(mediaTypeOf("macro.docm"), null);
  assert.equal(mediaTypeOf("README"), null);
});

test("bytes whose SHA-256 and size are the listing's pass the check", async () => {
  await checkAttachment(PLAN, LISTING);
  await checkAttachment(PLAN, { sha256: PLAN_SHA256.toUpperCase() });
});

test("a byte changed, or a byte missing, is an AttachmentMismatch naming both hashes", async () => {
  const changed = PLAN.slice();
  changed[0] ^= 1;

  await assert.rejects(checkAttachment(changed, LISTING), (error) => {
    assert.ok(error instanceof AttachmentMismatch);
    assert.equal(error.sha256, PLAN_SHA256);
    assert.equal(error.found, createHash("sha256").update(changed).digest("hex"));
    assert.match(error.message, /not the one its notice lists/);
    return true;
  });
  await assert.rejects(checkAttachment(PLAN.slice(1), LISTING), new RegExp(`has ${PLAN.length - 1} bytes, its notice lists ${PLAN.length}`));
});

test("an upload PUTs the bytes as their media type, named, and returns the listing", async () => {
  const { client, asked } = fake([Response.json(LISTING, { status: 201 })]);

  const listing = await client.uploadAttachment(CHANNEL, new File([PLAN], "mill-lane.txt"));

  assert.deepEqual(listing, LISTING);
  assert.equal(asked[0].method, "PUT");
  assert.equal(asked[0].url.href, `${API}/attachments?name=mill-lane.txt`);
  assert.equal(asked[0].headers["Content-Type"], "text/plain");
  assert.equal(asked[0].headers.Authorization, "Bearer hl_ana");
  assert.deepEqual(new Uint8Array(/** @type {Uint8Array} */ (asked[0].body)), PLAN);
});

test("an upload is tried again after a network failure: the same bytes are the same file", async () => {
  const { client, asked } = fake([new TypeError("fetch failed"), Response.json(LISTING)]);

  await client.uploadAttachment(CHANNEL, PLAN, { name: "mill-lane.txt" });

  assert.equal(asked.length, 2);
});

test("an upload the server lists under another hash is refused", async () => {
  const { client } = fake([Response.json({ ...LISTING, sha256: "0".repeat(64) })]);

  await assert.rejects(
    client.uploadAttachment(CHANNEL, PLAN, { name: "mill-lane.txt" }),
    AttachmentMismatch,
  );
});

test("an upload needs a name and a type a notice may carry, before anything is sent", async () => {
  const { client, asked } = fake([]);

  await assert.rejects(client.uploadAttachment(CHANNEL, PLAN), /name the file/);
  await assert.rejects(client.uploadAttachment(CHANNEL, PLAN, { name: "run.exe" }), /not a kind of file/);
  assert.equal(asked.length, 0);
});

test("a refused upload is the server's problem, its code kept", async () => {
  const { client } = fake([
    Response.json(
      { status: 422, code: "attachment-type-mismatch", detail: "not a PDF" },
      { status: 422, headers: { "Content-Type": "application/problem+json" } },
    ),
  ]);

  await assert.rejects(client.uploadAttachment(CHANNEL, PLAN, { name: "plan.pdf" }), (error) => {
    assert.ok(error instanceof ProblemError);
    assert.equal(error.code, "attachment-type-mismatch");
    return true;
  });
});

test("a download of the listed bytes hands them over", async () => {
  const { client, asked } = fake([served(PLAN)]);

  const bytes = await client.downloadAttachment(CHANNEL, LISTING);

  assert.deepEqual(bytes, PLAN);
  assert.equal(asked[0].url.href, `${API}/attachments/${PLAN_SHA256}`);
  assert.equal(asked[0].headers.Accept, "*/*");
});

test("a download whose bytes were altered is refused and not handed over", async () => {
  const altered = utf8("Mill Lane: both lanes closed, no lights, 7 to 11 December.\n");
  const { client } = fake([served(altered)]);

  await assert.rejects(client.downloadAttachment(CHANNEL, PLAN_SHA256), (error) => {
    assert.ok(error instanceof AttachmentMismatch);
    assert.match(error.message, new RegExp(`refused the download of ${PLAN_SHA256}`));
    return true;
  });
});

test("a download longer than listed is refused, cut short after one byte more", async () => {
  const longer = new Uint8Array([...PLAN, ...PLAN]);
  const { client } = fake([served(longer)]);

  await assert.rejects(client.downloadAttachment(CHANNEL, LISTING), (error) => {
    assert.ok(error instanceof AttachmentMismatch);
    assert.equal(error.size, PLAN.length + 1);
    return true;
  });
});

test("a download the server finds corrupt is its problem, attachment-corrupt", async () => {
  const { client } = fake([
    Response.json(
      { status: 500, code: "attachment-corrupt", detail: "the stored file was altered" },
      { status: 500, headers: { "Content-Type": "application/problem+json" } },
    ),
  ]);

  await assert.rejects(client.downloadAttachment(CHANNEL, LISTING), { code: "attachment-corrupt" });
});

test("a draft lists its files; an empty list sends none, so it signs as before files", () => {
  const body = buildDraft({ subject: "Mill Lane: the plan", attachments: [LISTING] });
  const none = buildDraft({ subject: "Mill Lane: the plan", attachments: [] });

  assert.deepEqual(body.attachments, [LISTING]);
  assert.equal("attachments" in none, false);
});

test("a draft's files are checked as the server checks them", () => {
  const refused = (/** @type {unknown} */ attachments) => {
    try {
      buildDraft(/** @type {any} */ ({ subject: "Mill Lane", attachments }));
      return [];
    } catch (error) {
      assert.ok(error instanceof ProblemError);
      return error.errors.map((e) => e.field);
    }
  };

  assert.deepEqual(refused([{ ...LISTING, sha256: "abc" }]), ["attachments.0.sha256"]);
  assert.deepEqual(refused([{ ...LISTING, size: 0 }]), ["attachments.0.size"]);
  assert.deepEqual(refused([{ ...LISTING, media_type: "text/html" }]), ["attachments.0.media_type"]);
  assert.deepEqual(refused([{ ...LISTING, name: "../plan.txt" }]), ["attachments.0.name"]);
  assert.deepEqual(refused([{ ...LISTING, extra: 1 }]), ["attachments.0.extra"]);
  assert.deepEqual(refused(Array(11).fill(LISTING)), ["attachments"]);
});

test("a notice's files are signed when it has some, and not when the list is empty", () => {
  const who = { channel: CHANNEL, party: "water", operator: "ana" };
  const base = { id: "84a10a7f-1ef3-4cab-9006-ddf3c09c457f", subject: "Mill Lane", client_time: "2026-11-21T05:18:57.000Z" };
  const text = (/** @type {Uint8Array} */ bytes) => new TextDecoder().decode(bytes);

  const plain = text(noticeContent(base, who));
  const empty = text(noticeContent({ ...base, attachments: [] }, who));
  const listed = text(noticeContent({ ...base, attachments: [LISTING] }, who));
  const fromEvent = text(
    signedContent({ ...who, type: "notice.sent", data: { ...base, notice: base.id, attachments: [LISTING] } }),
  );

  assert.equal(empty, plain);
  assert.ok(listed.includes(`"attachments":[{"media_type":"text/plain","name":"mill-lane.txt"`));
  assert.ok(listed.includes(PLAN_SHA256));
  assert.notEqual(listed, plain);
  assert.ok(fromEvent.includes(PLAN_SHA256));
});

test("the console's book keeps a notice's files, and refuses a malformed list whole", () => {
  const book = new NoticeBook(CHANNEL);
  const sent = (/** @type {number} */ seq, /** @type {string} */ notice, /** @type {unknown} */ attachments) =>
    book.apply({
      channel: CHANNEL,
      seq,
      type: "notice.sent",
      at: "2026-11-21T09:00:00.000Z",
      actor: { party: "water", operator: "ana" },
      data: { notice, subject: "Mill Lane", body: "", priority: "routine", ack_required: true, attachments },
    });

  sent(1, "84a10a7f-1ef3-4cab-9006-ddf3c09c457f", [LISTING]);
  sent(2, "0b6f4f0e-3c1a-4d8e-9a57-3f0d2c4b9e10", undefined);
  const bad = sent(3, "c3a3a0d6-5d1e-4b7e-8a9a-6c1f2e3d4b5a", [{ ...LISTING, sha256: "not a hash" }]);

  assert.deepEqual(book.notices.get("84a10a7f-1ef3-4cab-9006-ddf3c09c457f")?.attachments, [LISTING]);
  assert.deepEqual(book.notices.get("0b6f4f0e-3c1a-4d8e-9a57-3f0d2c4b9e10")?.attachments, []);
  assert.equal(bad.effect, "unreadable");
  assert.equal(book.notices.has("c3a3a0d6-5d1e-4b7e-8a9a-6c1f2e3d4b5a"), false);
});

test("a log line names a notice's files, and sizes read as people read them", () => {
  assert.equal(files([LISTING, { ...LISTING, name: "map.geojson" }]), "with 2 files: mill-lane.txt, map.geojson");
  assert.equal(files([LISTING]), "with 1 file: mill-lane.txt");
  assert.equal(files(undefined), "");
  assert.equal(byteSize(812), "812 bytes");
  assert.equal(byteSize(14_541), "14.2 KiB");
  assert.equal(byteSize(3 * 1024 * 1024), "3.0 MiB");
});

const { site, skip } = await startSite();

describe("files against a real server", { skip }, () => {
  after(() => site?.close());
  /** @param {string} operator */
  const as = (operator) => {
    const demo = /** @type {any} */ (site).demo;
    return new HotlineClient({ baseUrl: demo.url, token: demo.tokens[operator] });
  };
  const channel = () => /** @type {any} */ (site).demo.channel;

  test("a file uploaded and listed is downloaded by the other party, checked", async () => {
    const ana = as("ana");
    const carla = as("carla");

    const listing = await ana.uploadAttachment(channel(), new File([PLAN], "mill-lane.txt"));
    const again = await ana.uploadAttachment(channel(), PLAN, { name: "mill-lane.txt" });
    const sent = await ana.send(channel(), { subject: "Mill Lane: the plan", attachments: [listing] });
    const seen = await carla.notice(channel(), sent.id);
    const bytes = await carla.downloadAttachment(channel(), seen.attachments[0]);

    assert.deepEqual(listing, LISTING);
    assert.deepEqual(again, LISTING);
    assert.deepEqual(seen.history[0].data.attachments, [LISTING]);
    assert.deepEqual(bytes, PLAN);
  });

  test("a file that is not what its type says is refused on upload", async () => {
    await assert.rejects(as("ana").uploadAttachment(channel(), PLAN, { name: "plan.pdf" }), {
      code: "attachment-type-mismatch",
    });
  });

  test("a file altered where the server keeps it is refused, never handed over", async () => {
    const ana = as("ana");
    const map = utf8('{"type": "Point", "coordinates": [-1.2588, 51.7526]}');
    const listing = await ana.uploadAttachment(channel(), map, { name: "map.geojson" });
    await ana.send(channel(), { subject: "Mill Lane: the map", attachments: [listing] });
    const stored = join(
      /** @type {any} */ (site).directory,
      "hotline-attachments",
      listing.sha256.slice(0, 2),
      listing.sha256,
    );
    await writeFile(stored, utf8('{"type": "Point", "coordinates": [0, 0]}'));

    await assert.rejects(as("carla").downloadAttachment(channel(), listing), {
      code: "attachment-corrupt",
      status: 500,
    });
  });
});
