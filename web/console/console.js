// The console: admins administer WhatsApp accounts and the directory; admins and supervisors
// watch the floor, work the interactions and read reports. Agents are sent to the desk.
// One page at a time, chosen by the URL's hash (#/live, #/accounts/3 ...): a page is a function
// that fills <main id="page"> and may return a function that stops what it started (a stream).

import { token, whenUnauthorized } from "../common/api.js";
import { $ } from "../common/util.js";
import { SignIn } from "../common/signin.js";
import { livePage } from "./live.js";
import { accountsPage, accountPage, accountAgentsPage } from "./accounts.js";
import { interactionsPage } from "./interactions.js";
import { reportsPage } from "./reports.js";
import { directoryPage } from "./directory.js";

const ROUTES = [
  [/^#\/live$/, livePage, false],
  [/^#\/interactions$/, interactionsPage, false],
  [/^#\/reports$/, reportsPage, false],
  [/^#\/accounts$/, accountsPage, true],
  [/^#\/accounts\/(new|\d+)$/, accountPage, true],
  [/^#\/accounts\/(\d+)\/agents$/, accountAgentsPage, true],
  [/^#\/(users|queues|pauses|intervals|lists)$/, directoryPage, true],
];

class Console {
  constructor() {
    this.me = null;
    this.stop = null;
    whenUnauthorized(() => this.signedOut("Your session has ended: sign in again."));
    this.signin = new SignIn("console", () => this.start());
    $("signout").addEventListener("click", () => this.signedOut());
    window.addEventListener("hashchange", () => this.route());
  }

  get admin() { return this.me?.role === "admin"; }

  async start() {
    this.me = await this.signin.me();
    if (!this.me) return;
    if (this.me.role === "agent") {
      window.location.replace("/desk/"); // the same tab keeps the token: the desk opens signed in
      return;
    }
    this.signin.hide();
    $("me").textContent = `${this.me.full_name || this.me.username} (${this.me.role})`;
    for (const link of document.querySelectorAll("[data-admin]")) link.hidden = !this.admin;
    this.route();
  }

  showSignIn(message = "") {
    this.signin.show(message);
  }

  signedOut(message = "") {
    token.clear();
    this.leave();
    this.me = null;
    this.showSignIn(message);
  }

  leave() {
    if (this.stop) this.stop();
    this.stop = null;
  }

  async route() {
    if (!this.me) return;
    const [hash, search = ""] = (window.location.hash || "#/live").split("?");
    const found = ROUTES.find(([pattern, , adminOnly]) => pattern.test(hash) && (!adminOnly || this.admin));
    if (!found) {
      window.location.hash = "#/live";
      return;
    }
    const [pattern, page] = found;
    const params = [...hash.match(pattern).slice(1), new URLSearchParams(search)];
    this.leave();
    for (const link of document.querySelectorAll(".sections a")) {
      const current = hash === link.getAttribute("href") || hash.startsWith(`${link.getAttribute("href")}/`);
      if (current) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    const main = $("page");
    main.replaceChildren();
    this.stop = (await page(main, this, ...params)) || null;
    const heading = main.querySelector("h2");
    if (heading) {
      heading.tabIndex = -1;
      heading.focus();
      document.title = `${heading.textContent} · Shareline console`;
    }
  }

  // A modal question; resolves true when the admin confirms.
  confirm(text, ok = "Delete") {
    const dialog = $("confirm");
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = ok;
    dialog.returnValue = "";
    dialog.showModal();
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    });
  }
}

new Console().start();
