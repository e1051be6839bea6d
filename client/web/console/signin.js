/**
 * The sign-in screen: paste an operator's token.
 * @module
 */

import { h, replace } from "./dom.js";

/** The sign-in view. */
export class SignInView {
  /**
   * @param {HTMLElement} root
   * @param {(token: string) => Promise<void>} onToken tries the token; rejects to say why not
   */
  constructor(root, onToken) {
    this.token = h("input", {
      id: "token",
      name: "token",
      type: "password",
      autocomplete: "off",
      spellcheck: "false",
      required: true,
      "aria-describedby": "token-hint signin-error",
    });
    this.error = h("div", { id: "signin-error", class: "problem", role: "alert" });
    this.button = h("button", { type: "submit", class: "primary" }, "Sign in");
    const form = h(
      "form",
      { id: "signin-form", novalidate: true, "aria-labelledby": "signin-title" },
      h("div", { class: "field" }, h("label", { for: "token" }, "Access token"), this.token),
      h(
        "p",
        { id: "token-hint", class: "hint" },
        "The token of one operator, as `hotline demo` or `hotline admin` printed it (hl_…). " +
          "It stays in this tab (sessionStorage) and is sent only in request headers, " +
          "never in an address.",
      ),
      this.error,
      h("div", { class: "actions" }, this.button),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const token = this.token.value.trim();
      if (!token) {
        this.fail("Paste a token first.");
        return;
      }
      this.button.disabled = true;
      replace(this.error);
      try {
        await onToken(token);
        this.token.value = "";
      } catch (error) {
        this.fail(error instanceof Error ? error.message : String(error));
      } finally {
        this.button.disabled = false;
      }
    });
    replace(
      root,
      h("h2", { id: "signin-title" }, "Sign in"),
      h(
        "p",
        {},
        "Hotline carries notices between two organisations, and this browser checks the " +
          "signed log of every channel itself.",
      ),
      form,
    );
  }

  /**
   * Say why signing in failed, and put the focus back in the field.
   * @param {string} message
   */
  fail(message) {
    replace(this.error, message);
    this.token.setAttribute("aria-invalid", "true");
    this.token.focus();
  }

  /** Ready for a token: the field empty and focused. */
  focus() {
    this.token.removeAttribute("aria-invalid");
    this.token.focus();
  }
}
