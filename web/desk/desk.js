// The agent desk: sign-in, presence, offers, the agent's open conversations and one thread.
// State is always rebuilt from the API on (re)connect; the event stream only says what moved.

import { api, token, whenUnauthorized, interactionPath } from "../common/api.js";
import { TicketStream } from "../common/stream.js";
import { SignIn } from "../common/signin.js";
import { Offers } from "./offers.js";
import { Thread } from "./thread.js";
import { $, el, announce, time, left, contactName } from "../common/util.js";

class Desk {
  constructor() {
    this.me = null;
    this.accounts = new Map();
    this.pauses = [];
    this.conversations = new Map();
    this.dispositions = new Map(); // account_id -> rows
    this.owed = [];
    // Counts status changes' starts and ends (odd while one is in flight). A reading of /me is
    // taken only if it began with no change in flight and none started or ended since: the
    // server may have answered it before the change committed, and it must not undo the click.
    this.presenceChanges = 0;
    this.selected = null;
    this.offers = new Offers((id) => this.afterAccept(id));
    this.thread = new Thread(this);
    this.stream = new TicketStream("/api/agents/me/events", {
      ready: () => this.rebuild(),
      resync: () => this.rebuild(),
      offer: (offer) => this.offers.add(offer),
      offer_rescinded: (data) => this.offers.remove(data.interaction_id),
      message: (data) => this.onMessage(data),
      interaction_updated: (data) => this.onUpdated(data),
      message_status: (data) => { if (data.interaction_id === this.thread.id) this.thread.status(data); },
    }, (state) => this.connection(state));
    this.signin = new SignIn("desk", () => this.start());
    this.wire();
  }

  wire() {
    whenUnauthorized(() => this.signedOut("Your session has ended: sign in again."));
    $("signout").addEventListener("click", () => this.signedOut());
    for (const button of document.querySelectorAll(".presence button")) {
      button.addEventListener("click", () => this.choosePresence(button.dataset.status));
    }
    $("pause-dialog").addEventListener("close", () => {
      if ($("pause-dialog").returnValue === "ok") {
        this.setPresence("paused", Number($("pause-select").value));
      }
    });
    $("owed-dispose").addEventListener("click", () => this.disposeOwed());
    $("alerts").addEventListener("click", async () => {
      await Notification.requestPermission();
      $("alerts").hidden = Notification.permission !== "default";
    });
    window.addEventListener("online", () => this.stream.nudge());
    document.addEventListener("visibilitychange", () => { if (!document.hidden) this.stream.nudge(); });
    setInterval(() => this.renderConversations(), 60000);
  }

  // --- session ---------------------------------------------------------------------------

  async start() {
    this.me = await this.signin.me();
    if (!this.me) return;
    this.signin.hide();
    $("me").textContent = this.me.full_name || this.me.username;
    $("alerts").hidden = !window.Notification || Notification.permission !== "default";
    this.stream.start();
  }

  showSignIn(message = "") {
    this.signin.show(message);
  }

  signedOut(message = "") {
    token.clear();
    this.stream.stop();
    this.offers.clear();
    this.thread.close();
    this.selected = null;
    this.conversations.clear();
    this.showSignIn(message);
  }

  connection(state) {
    const text = { live: "", connecting: "Connecting…", offline: "Connection lost — reconnecting…" }[state];
    $("connection").textContent = text;
    $("connection").dataset.state = state;
  }

  // Everything the desk shows, read again: called on every (re)connect and on resync.
  async rebuild() {
    this.offers.clear(); // the stream replays the live ones right after `ready`
    const changes = this.presenceChanges;
    const [me, accounts, pauses] = await Promise.all([
      api.get("/api/agents/me"), api.get("/api/whatsapp/accounts?limit=1000"), api.get("/api/pauses?limit=1000")]);
    this.takeMe(me, changes);
    this.accounts = new Map(accounts.rows.map((a) => [a.id, a]));
    this.pauses = pauses.rows;
    this.renderPresence();
    await this.loadConversations();
    if (this.selected && this.conversations.has(this.selected)) {
      await this.thread.open(this.conversations.get(this.selected));
    } else if (this.selected) {
      this.select(null);
    }
  }

  // --- presence --------------------------------------------------------------------------

  renderPresence() {
    for (const button of document.querySelectorAll(".presence button")) {
      button.setAttribute("aria-pressed", String(button.dataset.status === this.me.status));
    }
    const pause = this.pauses.find((p) => p.id === this.me.pause_id);
    $("presence-text").textContent = this.me.status === "paused" && pause ? `(${pause.name})` : "";
    const owed = this.owed.length;
    $("owed-text").textContent = owed === 1 ? "A disposition is owed before you can change status."
      : `${owed} dispositions are owed before you can change status.`;
    $("owed").hidden = !owed;
  }

  async refreshMe() {
    const changes = this.presenceChanges;
    this.takeMe(await api.get("/api/agents/me"), changes);
    this.renderPresence();
  }

  takeMe(me, changes) {
    if (changes !== this.presenceChanges || changes % 2 === 1) return;
    this.me = me;
    this.owed = me.owed_dispositions;
  }

  choosePresence(status) {
    if (status !== "paused") return this.setPresence(status);
    const select = $("pause-select");
    select.replaceChildren(...this.pauses.map((p) => el("option", { value: p.id, text: p.name })));
    if (!this.pauses.length) return announce("No pauses are configured");
    $("pause-dialog").showModal();
  }

  async setPresence(status, pauseId) {
    this.presenceChanges += 1;
    try {
      this.me = await api.put("/api/agents/me/status", pauseId ? { status, pause_id: pauseId } : { status });
      this.owed = this.me.owed_dispositions;
      announce(`You are ${status}`);
    } catch (error) {
      if (error.code !== "disposition_required") return announce(error.message);
      this.owed = error.details.interaction_ids || [];
    } finally {
      this.presenceChanges += 1;
    }
    this.renderPresence();
  }

  async disposeOwed() {
    const id = this.owed[0];
    if (!id) return;
    const interaction = await api.get(interactionPath(id));
    const chosen = await this.pickDisposition(interaction, { closing: false });
    if (chosen === null) return;
    try {
      await api.post(interactionPath(id, "/dispose"), { disposition_id: chosen });
    } catch (error) {
      return announce(error.message);
    }
    await this.refreshMe();
    announce("Disposition recorded");
  }

  // --- conversations ---------------------------------------------------------------------

  async loadConversations() {
    const found = await api.get(`/api/whatsapp/interactions?agent_id=${this.me.id}&status=open&limit=200`);
    this.conversations = new Map(found.rows.filter((row) => row.owner_id === this.me.id).map((r) => [r.id, r]));
    this.renderConversations();
  }

  renderConversations() {
    const rows = [...this.conversations.values()].sort((a, b) =>
      (a.read - b.read) || String(b.last_message_at).localeCompare(String(a.last_message_at)));
    const now = Date.now();
    $("conversation-list").replaceChildren(...rows.map((it) => {
      const windowText = it.window_closes_at ? left(Date.parse(it.window_closes_at) - now) : "no window";
      const unread = !it.read && it.id !== this.selected;
      return el("li", {}, el("button", {
        type: "button", class: "conversation" + (unread ? " unread" : ""),
        "aria-current": it.id === this.selected ? "true" : null,
        onclick: () => this.select(it.id),
      },
      el("span", { class: "conversation-top" },
        el("strong", { text: contactName(it.contact) }),
        unread ? el("span", { class: "badge", text: "unread" }) : null,
        el("span", { class: "muted", text: time(it.last_message_at) })),
      el("span", { class: "conversation-last", text: it.last_message || "" }),
      el("span", { class: "conversation-bottom muted" },
        el("span", { class: "account-key", text: it.account_key }),
        el("span", { class: "window" + (windowText === "window closed" ? " closed" : ""), text: windowText }))));
    }));
    $("no-conversations").hidden = rows.length > 0;
  }

  async select(id) {
    this.selected = id;
    document.body.classList.toggle("reading", id !== null);
    $("thread").hidden = id === null;
    $("empty-thread").hidden = id !== null;
    if (id === null) {
      this.thread.close();
      this.renderConversations();
      return;
    }
    const interaction = this.conversations.get(id) || await api.get(interactionPath(id));
    interaction.read = true;
    this.renderConversations();
    await this.thread.open(interaction);
    $("composer-text").focus();
  }

  async afterAccept(id) {
    await this.loadConversations();
    await this.select(id);
  }

  async onMessage(data) {
    if (data.interaction_id === this.thread.id) await this.thread.loadLatest();
    await this.refreshOne(data.interaction_id);
  }

  async onUpdated(data) {
    await this.refreshOne(data.interaction_id);
  }

  async refreshOne(id) {
    let interaction;
    try {
      interaction = await api.get(interactionPath(id));
    } catch {
      interaction = null;
    }
    const mine = interaction && interaction.owner_id === this.me.id && interaction.status !== "closed";
    if (mine) {
      if (id === this.selected) interaction.read = true;
      this.conversations.set(id, interaction);
      this.thread.update(interaction);
    } else {
      this.conversations.delete(id);
      if (id === this.selected) {
        this.select(null);
        announce("That conversation is no longer yours");
      }
      // closed elsewhere (another tab, a supervisor, the plan): a disposition may be owed now
      if (interaction?.status === "closed") await this.refreshMe();
    }
    this.renderConversations();
  }

  // --- close and dispositions ------------------------------------------------------------

  async loadDispositions(accountId) {
    if (!this.dispositions.has(accountId)) {
      const found = await api.get(`/api/whatsapp/accounts/${accountId}/dispositions?limit=1000`);
      this.dispositions.set(accountId, found.rows);
    }
    return this.dispositions.get(accountId);
  }

  // The disposition id the agent picked (levels shown as paths: "Sale › Won"), undefined for
  // "none" where it is optional, or null when the dialog was cancelled.
  async pickDisposition(interaction, { closing }) {
    const account = this.accounts.get(interaction.account_id) || {};
    const required = Boolean(account.mandatory_disposition) || !closing;
    const rows = await this.loadDispositions(interaction.account_id);
    const byId = new Map(rows.map((d) => [d.id, d]));
    const path = (d) => (d.parent_id && byId.has(d.parent_id) ? `${path(byId.get(d.parent_id))} › ` : "") + d.name;
    const options = rows.map((d) => ({ id: d.id, label: path(d) })).sort((a, b) => a.label.localeCompare(b.label));
    const select = $("disposition");
    select.replaceChildren(
      el("option", { value: "", text: required ? "Choose a disposition…" : "No disposition" }),
      ...options.map((o) => el("option", { value: o.id, text: o.label })));
    select.required = required;
    $("dispose-title").textContent = closing ? `Close conversation with ${contactName(interaction.contact)}` : "Dispose";
    $("dispose-ok").textContent = closing ? "Close conversation" : "Save disposition";
    $("dispose-error").textContent = "";
    const dialog = $("dispose-dialog");
    dialog.returnValue = "";
    dialog.showModal();
    await new Promise((resolve) => dialog.addEventListener("close", resolve, { once: true }));
    if (dialog.returnValue !== "ok") return null;
    return select.value ? Number(select.value) : undefined;
  }

  async closeFlow(interaction) {
    const chosen = await this.pickDisposition(interaction, { closing: true });
    if (chosen === null) return;
    try {
      await api.post(interactionPath(interaction.id, "/close"), chosen ? { disposition_id: chosen } : {});
      this.conversations.delete(interaction.id);
      this.select(null);
      announce("Conversation closed");
      await this.refreshMe();
    } catch (error) {
      $("composer-error").textContent = error.message;
    }
  }
}

const desk = new Desk();
window.shareline = desk; // for the browser tests' measurements and for debugging
desk.start();
