/**
 * A notice's files in the console: picked on compose, and downloaded from a notice, each
 * download checked against the SHA-256 its notice lists before it is saved.
 *
 * The check is the SDK's (`HotlineClient.downloadAttachment`, with `crypto.subtle`): a file
 * the server altered, or that was altered on the way, is refused here, saying so, and never
 * reaches the disk. What the notice lists comes from the verified log, so the hash the
 * bytes are held to is the one the sender's party committed.
 * @module
 */

import {
  AttachmentMismatch,
  MAX_ATTACHMENTS,
  MEDIA_TYPES,
  ProblemError,
  acceptedMediaType,
  mediaTypeOf,
} from "../sdk/hotline.js";
import { h, replace } from "./dom.js";
import { byteSize } from "./format.js";

/** @typedef {import("../sdk/attachments.js").Attachment} Attachment */

/** What the file picker offers: the extensions and the media types the server takes. */
const ACCEPT = [...Object.keys(MEDIA_TYPES), ...new Set(Object.values(MEDIA_TYPES))].join(",");

/**
 * The media type a picked file is sent as: its own if the server takes it, else the one
 * its extension says; `null` if neither is one a notice may carry.
 * @param {File} file
 * @returns {string | null}
 */
export function typeOf(file) {
  return acceptedMediaType(file.type) ? file.type : mediaTypeOf(file.name);
}

/** The compose form's files: a file input, and the list of files picked so far. */
export class AttachmentPicker {
  constructor() {
    /** @type {File[]} the files to attach, in the order picked */
    this.files = [];
    this.input = h("input", {
      id: "compose-files",
      name: "attachments",
      type: "file",
      multiple: true,
      accept: ACCEPT,
      "aria-describedby": "compose-files-hint",
    });
    this.hint = h(
      "p",
      { id: "compose-files-hint", class: "hint" },
      `A plan or a map: PDF, PNG, JPEG, GeoJSON or plain text, at most ${MAX_ATTACHMENTS} ` +
        "files. The log keeps each file's SHA-256, so it proves which file was sent.",
    );
    this.list = h("ul", { id: "compose-file-list", class: "files", "aria-label": "Files to attach" });
    this.error = h("p", { id: "compose-files-error", class: "field-error", role: "alert" });
    this.input.addEventListener("change", () => this.#pick());
  }

  /** The files field: label, input, hint, the list and the field's error. */
  element() {
    const described = ["compose-files-hint", this.error.id].join(" ");
    this.input.setAttribute("aria-describedby", described);
    return h(
      "div",
      { class: "field" },
      h("label", { for: this.input.id }, "Files (optional)"),
      this.input,
      this.hint,
      this.list,
      this.error,
    );
  }

  /**
   * What the picked files are, for telling one draft from another: name, size, type, time.
   * @returns {string}
   */
  key() {
    return JSON.stringify(this.files.map((f) => [f.name, f.size, f.type, f.lastModified]));
  }

  /**
   * Say what is wrong with the files (or nothing).
   * @param {string} message
   */
  problem(message) {
    replace(this.error, message);
    if (message) this.input.setAttribute("aria-invalid", "true");
    else this.input.removeAttribute("aria-invalid");
  }

  /** Forget the files, once the notice is sent. */
  reset() {
    this.files = [];
    this.input.value = "";
    this.problem("");
    this.#render();
  }

  /** @param {boolean} disabled */
  set disabled(disabled) {
    this.input.disabled = disabled;
    for (const button of this.list.querySelectorAll("button")) button.disabled = disabled;
  }

  #pick() {
    /** @type {string[]} */
    const refused = [];
    for (const file of this.input.files ?? []) {
      const known = this.files.some(
        (f) => f.name === file.name && f.size === file.size && f.lastModified === file.lastModified,
      );
      if (known) continue;
      if (typeOf(file) === null) refused.push(`${file.name} is not a PDF, PNG, JPEG, GeoJSON or text file`);
      else if (file.size === 0) refused.push(`${file.name} is empty`);
      else if (this.files.length >= MAX_ATTACHMENTS) refused.push(`${file.name}: at most ${MAX_ATTACHMENTS} files`);
      else this.files.push(file);
    }
    this.input.value = ""; // so that a file removed can be picked again
    this.problem(refused.length ? `Not attached: ${refused.join("; ")}.` : "");
    this.#render();
  }

  #render() {
    replace(
      this.list,
      this.files.map((file, index) => {
        const remove = h(
          "button",
          { type: "button", class: "quiet", "aria-label": `Remove ${file.name}` },
          "Remove",
        );
        remove.addEventListener("click", () => {
          this.files.splice(index, 1);
          this.#render();
          this.input.focus();
        });
        return h(
          "li",
          { class: "file" },
          h("span", { class: "name" }, file.name),
          h("span", { class: "meta" }, ` · ${typeOf(file)} · ${byteSize(file.size)} `),
          remove,
        );
      }),
    );
  }
}

/**
 * A notice's files, each with a button that downloads it, checks it, and saves it only if
 * its SHA-256 is the one listed.
 * @param {Attachment[]} files as the notice lists them
 * @param {import("./context.js").Context} context
 * @param {HTMLElement} problem where a refusal is said (an alert)
 * @returns {Node[]}
 */
export function fileList(files, context, problem) {
  if (!files.length) return [];
  return [
    h("h3", { id: "notice-files-title" }, "Files"),
    h(
      "ul",
      { id: "notice-files", class: "files", "aria-labelledby": "notice-files-title" },
      files.map((file, index) => {
        const status = h("span", { class: "download-status", role: "status" });
        const button = h(
          "button",
          { type: "button", id: `download-${index}`, "aria-label": `Download ${file.name}` },
          "Download",
        );
        button.addEventListener("click", () => void download(file, context, button, status, problem));
        return h(
          "li",
          { class: "file" },
          h("span", { class: "name" }, file.name),
          h("span", { class: "meta" }, ` · ${file.media_type} · ${byteSize(file.size)} · `),
          h(
            "code",
            { class: "hash", title: `SHA-256 ${file.sha256}` },
            `SHA-256 ${file.sha256.slice(0, 12)}…`,
          ),
          " ",
          button,
          " ",
          status,
        );
      }),
    ),
  ];
}

/**
 * Download one file, check it, and save it; or say why not.
 * @param {Attachment} file
 * @param {import("./context.js").Context} context
 * @param {HTMLButtonElement} button
 * @param {HTMLElement} status
 * @param {HTMLElement} problem
 */
async function download(file, context, button, status, problem) {
  button.disabled = true;
  replace(button, "Checking…");
  replace(status);
  replace(problem);
  try {
    const bytes = await context.client.downloadAttachment(context.channel.id, file);
    save(bytes, file);
    replace(status, "✓ saved: its SHA-256 is the one the notice lists");
    context.announce(`${file.name} downloaded and checked`);
  } catch (error) {
    replace(status, "✗ refused");
    replace(problem, refusal(file, error));
  } finally {
    button.disabled = false;
    replace(button, "Download");
  }
}

/**
 * Why a file was not saved, in words.
 * @param {Attachment} file
 * @param {unknown} error
 * @returns {string}
 */
export function refusal(file, error) {
  if (error instanceof AttachmentMismatch) {
    return (
      `${file.name} was refused and not saved: the server sent a file that is not the one ` +
      `the notice lists (SHA-256 ${error.found} instead of ${file.sha256}). Tell the ` +
      "server's operator: the file it keeps was altered."
    );
  }
  if (error instanceof ProblemError && error.code === "attachment-corrupt") {
    return (
      `${file.name} could not be downloaded: the server found that its copy is not the ` +
      `file the notice lists (${error.detail}). Tell the server's operator.`
    );
  }
  return `${file.name} could not be downloaded: ${error instanceof Error ? error.message : error}`;
}

/**
 * Hand checked bytes to the browser as a download, under the listed name.
 * @param {Uint8Array} bytes
 * @param {Attachment} file
 */
function save(bytes, file) {
  const url = URL.createObjectURL(new Blob([new Uint8Array(bytes)], { type: file.media_type }));
  const link = h("a", { href: url, download: file.name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  // The browser has the bytes once the download starts; the URL can go a little later.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
