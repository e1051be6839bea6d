/**
 * Compose a notice: subject, body, priority, activity window, area, whether an answer is
 * required, the earlier notice it updates or answers, and the files it carries.
 *
 * The form is built once and kept, so that a notice being written survives everything
 * that redraws the rest of the console. Sending is idempotent: the draft's id is chosen
 * once and kept while the content stays the same, so "send" pressed again after a network
 * failure cannot send the notice twice. Files are uploaded first, then listed in the
 * notice; uploading one again is harmless (the server keeps a file by its SHA-256).
 * @module
 */

import { ProblemError } from "../sdk/hotline.js";
import { AttachmentPicker, typeOf } from "./attachments.js";
import { partyName } from "./context.js";
import { h, replace } from "./dom.js";
import { dateTime, duration, shorten, statusWord } from "./format.js";
import { fieldOf, readDraft } from "./draft.js";
import { PRIORITIES } from "./notices.js";
import { policyInForce } from "./policy.js";

/** @typedef {import("./draft.js").Draft} Draft */

const FIELDS = [
  "subject",
  "body",
  "priority",
  "activity",
  "area",
  "bbox",
  "ack_required",
  "refers_to",
  "attachments",
];

/** The compose view. */
export class ComposeView {
  /**
   * @param {HTMLElement} root
   * @param {import("./context.js").Context} context
   * @param {(noticeId: string) => void} onSent called once the server has the notice
   */
  constructor(root, context, onSent) {
    this.context = context;
    this.onSent = onSent;
    /** @type {{id: string, content: string} | null} the last draft tried and its id */
    this.attempt = null;
    this.subject = h("input", {
      id: "compose-subject",
      name: "subject",
      required: true,
      autocomplete: "off",
    });
    this.body = h("textarea", { id: "compose-body", name: "body", rows: 5 });
    this.priority = h(
      "select",
      { id: "compose-priority", name: "priority", "aria-describedby": "compose-priority-hint" },
      PRIORITIES.map((p) => h("option", { value: p }, p)),
    );
    this.priorityHint = h("p", { id: "compose-priority-hint", class: "hint" });
    this.startsAt = h("input", { id: "compose-starts", name: "starts_at", type: "datetime-local" });
    this.endsAt = h("input", { id: "compose-ends", name: "ends_at", type: "datetime-local" });
    this.area = h("input", { id: "compose-area", name: "area", autocomplete: "off" });
    this.bbox = h("input", {
      id: "compose-bbox",
      name: "bbox",
      autocomplete: "off",
      inputmode: "decimal",
      "aria-describedby": "compose-bbox-hint",
    });
    this.ackRequired = h("input", {
      id: "compose-ack",
      name: "ack_required",
      type: "checkbox",
      checked: true,
    });
    this.refersTo = h("select", { id: "compose-refers", name: "refers_to" });
    this.files = new AttachmentPicker();
    this.error = h("div", { id: "compose-error", class: "problem", role: "alert" });
    this.submit = h("button", { type: "submit", class: "primary" }, "Send notice");
    this.fieldset = h(
      "fieldset",
      {},
      h("legend", { class: "visually-hidden" }, "The notice"),
      field("subject", "Subject", this.subject),
      field("body", "Body", this.body),
      field("priority", "Priority", this.priority, this.priorityHint),
      h(
        "fieldset",
        { id: "compose-activity", class: "window", "aria-describedby": "compose-activity-error" },
        h("legend", {}, "Activity window (optional)"),
        field("starts", "Starts", this.startsAt),
        field("ends", "Ends", this.endsAt),
        h("p", { id: "compose-activity-error", class: "field-error" }),
      ),
      field("area", "Area (street, district)", this.area),
      field(
        "bbox",
        "Bounding box (optional)",
        this.bbox,
        h(
          "p",
          { id: "compose-bbox-hint", class: "hint" },
          "West, south, east, north in degrees, such as -0.1275, 51.5072, -0.1201, 51.5111. " +
            "Plans in one area whose boxes do not meet are no conflict.",
        ),
      ),
      h(
        "div",
        { class: "field check" },
        this.ackRequired,
        h("label", { for: "compose-ack" }, "Acknowledgement required"),
      ),
      field("refers", "In reply to / update of", this.refersTo),
      this.files.element(),
      this.error,
      h("div", { class: "actions" }, this.submit),
    );
    this.form = h(
      "form",
      { id: "compose-form", novalidate: true, "aria-labelledby": "compose-title" },
      this.fieldset,
    );
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.send();
    });
    this.priority.addEventListener("change", () => this.#hint());
    replace(root, h("h2", { id: "compose-title" }, "New notice"), this.form);
    this.#hint();
  }

  /**
   * Prepare the form for a route: `#compose/<id>` makes it an update of that notice.
   * @param {string | null} refersTo
   */
  show(refersTo) {
    this.render();
    if (!refersTo) return;
    const earlier = this.context.book.notices.get(refersTo);
    this.refersTo.value = earlier ? refersTo : "";
    if (earlier && !this.subject.value) this.subject.value = `Re: ${earlier.subject}`;
  }

  /** Bring the list of earlier notices up to date, keeping the choice. */
  render() {
    const { book, channel } = this.context;
    const chosen = this.refersTo.value;
    replace(
      this.refersTo,
      h("option", { value: "" }, "— none —"),
      book
        .list()
        .map((n) =>
          h(
            "option",
            { value: n.id, selected: n.id === chosen },
            `${shorten(n.subject, 60)} (${partyName(channel, n.sender.party)}, ` +
              `${dateTime(n.sentAt)}, ${statusWord(n.status)})`,
          ),
        ),
    );
    this.fieldset.disabled = this.context.stopped() || this.context.me.role !== "operator";
    this.#hint(); // the policy may have changed since
  }

  /** Check the form and send the notice. */
  async send() {
    this.#showErrors({}, "");
    const { draft, errors } = readDraft({
      subject: this.subject.value,
      body: this.body.value,
      priority: this.priority.value,
      startsAt: this.startsAt.value,
      endsAt: this.endsAt.value,
      area: this.area.value,
      bbox: this.bbox.value,
      ackRequired: this.ackRequired.checked,
      refersTo: this.refersTo.value,
    });
    if (!draft) {
      this.#showErrors(errors, "The notice was not sent: correct the fields marked below.");
      return;
    }
    if (this.context.stopped()) return;
    const content = JSON.stringify([draft, this.files.key()]);
    if (this.attempt?.content !== content) this.attempt = { id: crypto.randomUUID(), content };
    const id = this.attempt.id;
    this.submit.disabled = true;
    this.files.disabled = true;
    try {
      const attachments = await this.#upload();
      if (!attachments) return;
      replace(this.submit, "Sending…");
      const priority = /** @type {"routine" | "important" | "urgent"} */ (draft.priority);
      const bbox = draft.bbox ?? undefined; // a draft without a box sends none
      const channel = this.context.channel.id;
      await this.context.client.send(channel, { ...draft, id, priority, bbox, attachments });
    } catch (error) {
      this.#refused(error);
      return;
    } finally {
      this.submit.disabled = false;
      this.files.disabled = false;
      replace(this.submit, "Send notice");
    }
    this.attempt = null;
    this.form.reset();
    this.files.reset();
    this.#hint();
    this.context.announce(`Notice sent: ${draft.subject}`);
    this.onSent(id);
  }

  /**
   * Upload the files picked, one at a time: their listings, or `null` when one was refused
   * (said on the files field).
   * @returns {Promise<import("./attachments.js").Attachment[] | null>}
   */
  async #upload() {
    const { client, channel } = this.context;
    const files = this.files.files;
    const listings = [];
    for (const [index, file] of files.entries()) {
      replace(this.submit, `Uploading file ${index + 1} of ${files.length}…`);
      try {
        const mediaType = typeOf(file) ?? undefined;
        listings.push(await client.uploadAttachment(channel.id, file, { mediaType }));
      } catch (error) {
        if (!(error instanceof ProblemError)) throw error;
        this.#showErrors({ attachments: `${file.name}: ${error.detail}` }, "The notice was not sent: a file was refused.");
        return null;
      }
    }
    return listings;
  }

  /** @param {unknown} error */
  #refused(error) {
    if (error instanceof ProblemError) {
      /** @type {Record<string, string>} */
      const errors = {};
      for (const e of error.errors) {
        const name = fieldOf(String(e.field ?? ""));
        if (name) errors[name] = String(e.message ?? "refused");
      }
      this.#showErrors(errors, `The server refused the notice: ${error.detail}`);
    } else {
      this.#showErrors(
        {},
        `The notice may not have been sent: ${error instanceof Error ? error.message : error}. ` +
          "Sending it again is safe: the server keeps one notice per id, " +
          "and this draft keeps its id.",
      );
    }
  }

  /**
   * @param {Record<string, string>} errors by field
   * @param {string} summary
   */
  #showErrors(errors, summary) {
    replace(this.error, summary);
    /** @type {HTMLElement | null} */
    let first = null;
    for (const name of FIELDS) {
      const message = errors[name] ?? "";
      const ids = /** @type {Record<string, string>} */ ({
        refers_to: "refers",
        ack_required: "ack",
        attachments: "files",
      });
      const id = ids[name] ?? name;
      const slot = this.form.querySelector(`#compose-${id}-error`);
      if (slot) replace(slot, message);
      const control =
        name === "activity" ? this.startsAt : this.form.querySelector(`#compose-${id}`);
      if (control instanceof HTMLElement) {
        if (message) control.setAttribute("aria-invalid", "true");
        else control.removeAttribute("aria-invalid");
        if (message && !first) first = control;
      }
    }
    first?.focus();
  }

  #hint() {
    const policy = policyInForce(this.context);
    const priority = this.priority.value;
    const answer = policy.ack_deadline_seconds[priority];
    const advance = policy.min_advance_notice_seconds[priority];
    replace(
      this.priorityHint,
      answer === undefined ? "" : `To be answered within ${duration(answer * 1000)}. `,
      advance
        ? `Works must be announced at least ${duration(advance * 1000)} before they start.`
        : "",
      advance === 0 ? "Works may be announced as they start." : "",
    );
  }
}

/**
 * A labelled control with a slot for its error, which the control is described by.
 * @param {string} id the control's id without "compose-"
 * @param {string} label
 * @param {HTMLElement} control
 * @param {HTMLElement} [hint]
 */
function field(id, label, control, hint) {
  const error = h("p", { id: `compose-${id}-error`, class: "field-error" });
  const described = [control.getAttribute("aria-describedby"), error.id].filter(Boolean).join(" ");
  control.setAttribute("aria-describedby", described);
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control, hint, error);
}
