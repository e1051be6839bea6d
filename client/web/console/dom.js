/**
 * Building DOM nodes without HTML strings.
 *
 * Everything the console shows comes from the server (subjects, reasons, names), so it is
 * put into the page as text nodes, never parsed as HTML: a notice whose subject is
 * `<img onerror=…>` reads as exactly that. The strict Content-Security-Policy would block
 * such a script anyway; this keeps the page from even trying.
 * @module
 */

/**
 * @typedef {string | number | boolean | null | undefined} AttributeValue
 * @typedef {Node | string | number | null | undefined | false} Child
 * @typedef {Child | Array<Child | Array<Child | Array<Child>>>} Children nested lists, flattened
 */

/**
 * A new element: `h("button", {type: "button", class: "primary"}, "Send")`.
 *
 * Attributes set to `false`, `null` or `undefined` are left out; `true` sets an empty one
 * (`hidden`, `disabled`, `required`). Keys starting with `on` add event listeners.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, AttributeValue | EventListener>} [attributes]
 * @param {...Children} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else if (value !== false && value !== null && value !== undefined) {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

/**
 * Append children (text or nodes, nested arrays allowed; false and null skipped).
 * @param {Node} parent
 * @param {Children[]} children
 */
export function append(parent, children) {
  for (const child of children) {
    if (Array.isArray(child)) append(parent, child);
    else if (child === null || child === undefined || child === false) continue;
    else
      parent.appendChild(
        typeof child === "object" ? child : document.createTextNode(String(child)),
      );
  }
}

/**
 * Replace everything inside `parent` with `children`.
 * @param {Node} parent
 * @param {...Children} children
 */
export function replace(parent, ...children) {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, children);
}

/**
 * The element with this id, of the expected kind; throws if the page lacks it, which is a
 * bug in index.html, not a condition to handle.
 * @template {Element} T
 * @param {string} id
 * @param {new (...args: any[]) => T} kind
 * @returns {T}
 */
export function byId(id, kind) {
  const found = document.getElementById(id);
  if (!(found instanceof kind)) throw new Error(`the page has no ${kind.name} #${id}`);
  return found;
}

/**
 * Redraw part of the page without losing the keyboard focus: if the focus was inside
 * `container`, it goes back to the control with the same id, or the link with the same
 * address, once `redraw` is done. (A screen-reader user tabbing through the inbox should
 * not be thrown to the top of the page because a notice arrived.)
 * @param {Element} container
 * @param {() => void} redraw
 */
export function keepFocus(container, redraw) {
  const active = document.activeElement;
  const inside =
    active instanceof HTMLElement && active !== container && container.contains(active);
  const id = inside ? active.id : "";
  const link = inside ? active.getAttribute("href") : null;
  redraw();
  if (!inside || container.contains(active)) return;
  const again = id
    ? document.getElementById(id)
    : link
      ? container.querySelector(`a[href="${CSS.escape(link)}"]`)
      : null;
  if (again instanceof HTMLElement && container.contains(again)) again.focus();
}
