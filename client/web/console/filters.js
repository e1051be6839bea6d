/**
 * Search and filters over a channel's notices: words, status, priority, direction, and
 * when it was sent.
 *
 * `matches` is pure; `filterForm` builds the form and reports each change, so that the
 * list can be redrawn without redrawing the form (which would lose the keyboard focus).
 * @module
 */

import { h } from "./dom.js";
import { statusWord } from "./format.js";
import { PRIORITIES, STATUSES } from "./notices.js";

/**
 * @typedef {object} Filters
 * @property {string} text words to find in the subject, body or area (all of them)
 * @property {string} status one status, or "" for any
 * @property {string} priority one priority, or "" for any
 * @property {"" | "in" | "out"} direction received, sent by us, or either
 * @property {string} from a date ("2026-12-07"): sent on it or later, or "" for no limit
 * @property {string} until a date: sent on it or earlier, or "" for no limit
 */

/** @returns {Filters} filters that let everything through */
export function noFilters() {
  return { text: "", status: "", priority: "", direction: "", from: "", until: "" };
}

/**
 * Whether a notice passes the filters.
 * @param {import("./notices.js").Notice} notice
 * @param {Filters} filters
 * @param {string} party the viewer's party, for the direction
 * @returns {boolean}
 */
export function matches(notice, filters, party) {
  if (filters.status && notice.status !== filters.status) return false;
  if (filters.priority && notice.priority !== filters.priority) return false;
  const ours = notice.sender.party === party;
  if ((filters.direction === "in" && ours) || (filters.direction === "out" && !ours)) return false;
  const sent = Date.parse(notice.sentAt);
  if (filters.from && sent < startOfDay(filters.from)) return false;
  if (filters.until && sent >= startOfDay(filters.until) + 86_400_000) return false;
  const words = filters.text.toLocaleLowerCase().split(/\s+/).filter(Boolean);
  if (words.length) {
    const haystack = [notice.subject, notice.body, notice.area ?? "", notice.sender.operator]
      .join("\n")
      .toLocaleLowerCase();
    if (!words.every((word) => haystack.includes(word))) return false;
  }
  return true;
}

/**
 * Local midnight of a date input's value.
 * @param {string} date "2026-12-07"
 */
function startOfDay(date) {
  return new Date(`${date}T00:00`).getTime();
}

/**
 * The search form. Calls `onChange` with the new filters on every edit.
 * @param {Filters} initial
 * @param {(filters: Filters) => void} onChange
 * @returns {HTMLFormElement}
 */
export function filterForm(initial, onChange) {
  const text = h("input", { id: "filter-text", type: "search", name: "text", value: initial.text });
  const status = select(
    "filter-status",
    "status",
    initial.status,
    "Any status",
    STATUSES,
    statusWord,
  );
  const priority = select(
    "filter-priority",
    "priority",
    initial.priority,
    "Any priority",
    PRIORITIES,
  );
  const direction = select(
    "filter-direction",
    "direction",
    initial.direction,
    "Both ways",
    ["in", "out"],
    (d) => (d === "in" ? "Received" : "Sent by us"),
  );
  const from = h("input", { id: "filter-from", type: "date", name: "from", value: initial.from });
  const until = h("input", {
    id: "filter-until",
    type: "date",
    name: "until",
    value: initial.until,
  });
  const read = () =>
    onChange({
      text: text.value,
      status: status.value,
      priority: priority.value,
      direction: /** @type {Filters["direction"]} */ (direction.value),
      from: from.value,
      until: until.value,
    });
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Search and filter notices" },
    field("Search", text),
    field("Status", status),
    field("Priority", priority),
    field("Direction", direction),
    field("Sent from", from),
    field("Sent until", until),
    h("button", { type: "reset", class: "quiet" }, "Clear filters"),
  );
  form.addEventListener("input", read);
  form.addEventListener("change", read);
  form.addEventListener("submit", (event) => event.preventDefault());
  // A reset changes the fields only after the event: read them once it is done.
  form.addEventListener("reset", () => setTimeout(read));
  return form;
}

/**
 * @param {string} label
 * @param {HTMLInputElement | HTMLSelectElement} control
 */
function field(label, control) {
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control);
}

/**
 * @param {string} id
 * @param {string} name
 * @param {string} value
 * @param {string} any the label of the empty choice
 * @param {readonly string[]} options
 * @param {(option: string) => string} [label]
 */
function select(id, name, value, any, options, label = (o) => o) {
  return h(
    "select",
    { id, name },
    h("option", { value: "", selected: value === "" }, any),
    options.map((option) =>
      h("option", { value: option, selected: value === option }, label(option)),
    ),
  );
}
