// One conversation: its messages (latest page first, older pages on scroll) and timeline events
// (transfers, tags, video calls, close...) in time order, live delivery statuses, the composer (drafts per conversation, Note mode, canned answers, attachments,
// the closed 24-hour window) and the actions (transfer, close, tags, video, assistant).

import { api, interactionPath } from "../common/api.js";
import { $, el, announce, time, left, contactName } from "../common/util.js";

const PAGE = 50;
const EVENTS_PAGE = 200;
const DRAFTS_KEY = "shareline.drafts";
const HIDDEN_EVENTS = new Set(["noop", "step_skipped"]); // the plan's inner workings

// What a timeline event says, or null for one the thread shows otherwise (a message's events).
function eventText(e) {
  if (e.data.message_id !== undefined || HIDDEN_EVENTS.has(e.kind)) return null;
  const actor = e.actor_name;
  const by = (verb, fallback) => (actor ? `${actor} ${verb}` : fallback);
  const list = (items) => (items || []).join(", ");
  switch (e.kind) {
    case "accepted": return by("accepted the conversation", "Assigned");
    case "transfer": {
      const target = e.agent_name || (e.queue_name ? `queue ${e.queue_name}` : "another agent");
      return by(`transferred to ${target}`, `Transferred to ${target}`);
    }
    case "transfer_returned": return "Nobody took the transfer: back with its owner";
    case "transfer_void": return "Transfer cancelled: the owner had changed";
    case "released": return "The owner was away: offered to others";
    case "tags": {
      const parts = [e.data.add?.length ? `tagged ${list(e.data.add)}` : "",
        e.data.remove?.length ? `removed tag ${list(e.data.remove)}` : ""].filter(Boolean).join(", ");
      return by(parts, `Tags: ${parts}`);
    }
    case "video_call": return by("started a video call", "Video call started");
    case "closed": return by("closed the conversation", "Closed by the action plan");
    case "disposed": return by("recorded the disposition", "Disposition recorded");
    case "routing_error": return `Routing problem: ${e.data.reason ?? ""}`;
    case "plan_error": return `Action plan stopped: ${e.data.reason ?? ""}`;
    default: return by(e.kind.replaceAll("_", " "), e.kind.replaceAll("_", " "));
  }
}

function loadDrafts() {
  try { return new Map(JSON.parse(sessionStorage.getItem(DRAFTS_KEY) || "[]")); } catch { return new Map(); }
}

export class Thread {
  constructor(desk) {
    this.desk = desk;
    this.interaction = null;
    this.messages = new Map(); // id -> message
    this.eventsSeen = 0; // timeline events read so far (they are only ever added)
    this.offset = 0; // index of the oldest loaded message
    this.total = 0;
    this.loadingOlder = false;
    this.noteMode = false;
    this.drafts = loadDrafts();
    this.blobs = [];
    this.wire();
  }

  wire() {
    const text = $("composer-text");
    $("composer").addEventListener("submit", (event) => { event.preventDefault(); this.send(); });
    text.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send();
      } else if (event.key === "/" && text.value === "") {
        event.preventDefault();
        this.openAnswers();
      }
    });
    text.addEventListener("input", () => this.saveDraft());
    $("note-mode").addEventListener("click", () => this.setNoteMode(!this.noteMode));
    $("answers").addEventListener("click", () => this.openAnswers());
    $("answers-search").addEventListener("input", () => this.searchAnswers());
    $("attach").addEventListener("click", () => $("file").click());
    $("file").addEventListener("change", () => this.upload());
    $("recontact").addEventListener("click", () => this.recontact());
    $("transfer").addEventListener("click", () => this.openTransfer());
    $("close").addEventListener("click", () => this.desk.closeFlow(this.interaction));
    $("video").addEventListener("click", () => this.videoCall());
    $("assistant").addEventListener("click", () => this.askAssistant());
    $("tag-form").addEventListener("submit", (event) => { event.preventDefault(); this.addTag(); });
    $("messages").addEventListener("scroll", () => {
      if ($("messages").scrollTop < 40) this.loadOlder();
    });
    $("back").addEventListener("click", () => this.desk.select(null));
    setInterval(() => this.showWindow(), 30000);
  }

  get id() { return this.interaction?.id; }

  async open(interaction) {
    if (this.id !== interaction.id) {
      this.saveDraft();
      this.messages.clear();
      this.eventsSeen = 0;
      this.blobs.forEach((url) => URL.revokeObjectURL(url));
      this.blobs = [];
      $("messages").replaceChildren();
      $("video-link").hidden = true;
      this.setNoteMode(false);
      $("composer-text").value = this.drafts.get(interaction.id) || "";
      $("composer-error").textContent = "";
    }
    this.interaction = interaction;
    this.showHeader();
    await this.loadLatest();
    await this.loadTimeline();
  }

  close() {
    this.saveDraft();
    this.interaction = null;
  }

  saveDraft() {
    if (!this.id) return;
    const value = $("composer-text").value;
    if (value) this.drafts.set(this.id, value); else this.drafts.delete(this.id);
    sessionStorage.setItem(DRAFTS_KEY, JSON.stringify([...this.drafts]));
  }

  update(interaction) {
    if (interaction.id !== this.id) return;
    this.interaction = interaction;
    this.showHeader();
    this.loadTimeline();
  }

  account() { return this.desk.accounts.get(this.interaction.account_id) || {}; }

  showHeader() {
    const it = this.interaction;
    const account = this.account();
    $("thread-contact").textContent = `${contactName(it.contact)} · ${it.account_key}`;
    $("video").hidden = !account.video?.enabled;
    $("assistant").hidden = !account.assistant?.enabled;
    $("transfer").hidden = !(account.transfer?.agent_enabled || account.transfer?.queue_enabled);
    const tags = $("tag-list");
    tags.replaceChildren(...it.tags.map((tag) => el("li", { class: "tag" }, tag,
      el("button", { type: "button", class: "tag-remove", "aria-label": `Remove tag ${tag}`, text: "×",
        onclick: () => this.editTags([], [tag]) }))));
    this.showWindow();
  }

  windowOpen() {
    const closes = this.interaction?.window_closes_at;
    return Boolean(closes) && Date.parse(closes) > Date.now();
  }

  showWindow() {
    if (!this.interaction) return;
    const closes = this.interaction.window_closes_at;
    const open = this.windowOpen();
    $("thread-window").textContent = closes ? left(Date.parse(closes) - Date.now()) : "customer has not written";
    const account = this.account();
    const recontact = Boolean(account.recontact_template);
    $("window-closed").hidden = open || this.noteMode;
    $("recontact").hidden = !recontact;
    $("send").disabled = !open && !this.noteMode;
    $("attach").disabled = !open || this.noteMode;
    if (!this.noteMode) {
      $("composer-text").placeholder = open ? "Type a reply — Enter sends, / for canned answers"
        : "The 24-hour window is closed: write a Note, or send the recontact template";
    }
  }

  setNoteMode(on) {
    this.noteMode = on;
    $("note-mode").setAttribute("aria-pressed", String(on));
    $("composer").classList.toggle("note", on);
    $("composer-label").textContent = on ? "Note" : "Message";
    $("composer-text").placeholder = on ? "Internal note — never sent to the customer"
      : "Type a reply — Enter sends, / for canned answers";
    $("send").textContent = on ? "Add note" : "Send";
    this.showWindow();
  }

  // --- messages --------------------------------------------------------------------------

  async loadLatest() {
    const id = this.id;
    const head = await api.get(interactionPath(id, "/messages?limit=1")); // also marks it read
    if (id !== this.id) return;
    this.total = head.count;
    const from = this.messages.size ? this.offset + this.messages.size : Math.max(0, head.count - PAGE);
    if (!this.messages.size) this.offset = from;
    const page = await api.get(interactionPath(id, `/messages?limit=${PAGE}&offset=${from}`));
    if (id !== this.id) return;
    const list = $("messages");
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    for (const message of page.rows) this.put(message);
    if (atBottom || from === this.offset) list.scrollTop = list.scrollHeight;
    if (page.rows.length === PAGE) await this.loadLatest(); // more arrived than one page
  }

  async loadOlder() {
    if (this.loadingOlder || this.offset === 0 || !this.id) return;
    this.loadingOlder = true;
    const id = this.id;
    const from = Math.max(0, this.offset - PAGE);
    try {
      const page = await api.get(interactionPath(id, `/messages?limit=${this.offset - from}&offset=${from}`));
      if (id !== this.id) return;
      const list = $("messages");
      const before = list.scrollHeight;
      for (const message of page.rows.reverse()) this.put(message, { prepend: true });
      this.offset = from;
      list.scrollTop += list.scrollHeight - before;
    } finally {
      this.loadingOlder = false;
    }
  }

  put(message, { prepend = false } = {}) {
    const known = this.messages.has(message.id);
    this.messages.set(message.id, message);
    const node = this.render(message);
    const existing = document.getElementById(`m-${message.id}`);
    if (existing) existing.replaceWith(node);
    else this.place(node);
    if (!known && !prepend && message.direction === "in") announce(`Message: ${message.text}`);
  }

  // Messages and events in time order, whichever page of either arrived first.
  place(node) {
    const at = Number(node.dataset.at);
    let before = $("messages").lastElementChild;
    while (before && Number(before.dataset.at) > at) before = before.previousElementSibling;
    if (before) before.after(node); else $("messages").prepend(node);
  }

  // One read at a time (they page on from `eventsSeen`), each after the one before.
  loadTimeline() {
    this.timelineRead = (this.timelineRead || Promise.resolve()).catch(() => {}).then(() => this.readTimeline());
    return this.timelineRead;
  }

  async readTimeline() {
    const id = this.id;
    if (!id) return;
    const list = $("messages");
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    for (;;) {
      const page = await api.get(interactionPath(id, `/timeline?limit=${EVENTS_PAGE}&offset=${this.eventsSeen}`));
      if (id !== this.id) return;
      this.eventsSeen += page.rows.length;
      for (const event of page.rows) {
        const text = eventText(event);
        if (text !== null && !document.getElementById(`e-${event.id}`)) this.place(this.renderEvent(event, text));
      }
      if (page.rows.length < EVENTS_PAGE) break;
    }
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  renderEvent(e, text) {
    return el("li", { id: `e-${e.id}`, class: "event", dataset: { at: Date.parse(e.at), kind: e.kind } },
      el("span", { class: "event-text", text }), el("span", { class: "event-time", text: time(e.at) }));
  }

  status(event) {
    const message = this.messages.get(event.message_id);
    if (!message) return;
    this.put({ ...message, status: event.status, error_code: event.error_code ?? null,
      error_text: event.error_text ?? null });
  }

  render(m) {
    const who = m.direction === "in" ? "Customer" : m.direction === "internal" ? "Note" : "You";
    const body = el("div", { class: "bubble" });
    if (m.type === "image" && m.media?.path) {
      const img = el("img", { alt: m.text || "image from the customer", class: "inline-image" });
      this.mediaUrl(m).then((url) => { if (url) img.src = url; });
      body.append(img);
      if (m.text) body.append(el("p", { text: m.text }));
    } else if (m.type !== "text" && m.media?.path) {
      body.append(el("button", { type: "button", class: "link",
        text: `Download ${m.media.filename || m.type}`, onclick: () => this.download(m) }));
      if (m.text) body.append(el("p", { text: m.text }));
    } else {
      body.append(el("p", { text: m.text || (m.type === "text" ? "" : `[${m.type}]`) }));
    }
    const written = m.direction === "in" ? m.sent_at || m.created_at : m.created_at; // the customer's clock
    const meta = el("div", { class: "meta" }, el("span", { text: `${who} · ${time(written)}` }));
    if (m.direction === "out" && m.status) {
      const status = el("span", { class: `status status-${m.status}`, text: m.status });
      meta.append(status);
      if (m.status === "failed") {
        meta.append(el("span", { class: "error", text: m.error_text || m.error_code || "" }),
          el("button", { type: "button", text: "Retry", onclick: () => this.retry(m) }));
      }
    }
    return el("li", { id: `m-${m.id}`, class: `message ${m.direction}`,
      dataset: { status: m.status || "", at: Date.parse(m.created_at) } }, body, meta);
  }

  async mediaUrl(m) {
    try {
      const url = URL.createObjectURL(await api.blob(interactionPath(m.interaction_id, `/messages/${m.id}/media`)));
      this.blobs.push(url);
      return url;
    } catch {
      return null; // not downloaded yet
    }
  }

  async download(m) {
    const url = await this.mediaUrl(m);
    if (!url) return announce("The file is not available yet");
    const a = el("a", { href: url, download: m.media.filename || `file-${m.id}` });
    document.body.append(a);
    a.click();
    a.remove();
  }

  async retry(m) {
    try {
      this.put(await api.post(interactionPath(m.interaction_id, `/messages/${m.id}/retry`)));
    } catch (error) {
      this.fail(error);
    }
  }

  // --- composer --------------------------------------------------------------------------

  fail(error) {
    $("composer-error").textContent = error.message;
  }

  async send() {
    const text = $("composer-text").value.trim();
    if (!text || !this.id) return;
    const id = this.id;
    $("composer-error").textContent = "";
    try {
      const path = this.noteMode ? "/notes" : "/messages";
      if (!this.noteMode && !this.windowOpen()) return this.showWindow();
      const message = await api.post(interactionPath(id, path), { text });
      if (id !== this.id) return;
      $("composer-text").value = "";
      this.saveDraft();
      this.put(message);
      $("messages").scrollTop = $("messages").scrollHeight;
    } catch (error) {
      if (error.code === "outside_service_window") {
        this.interaction.window_closes_at = null;
        this.showWindow();
      }
      this.fail(error);
    }
  }

  async upload() {
    const file = $("file").files[0];
    if (!file || !this.id) return;
    const form = new FormData();
    form.append("file", file);
    form.append("caption", $("composer-text").value.trim());
    try {
      const message = await api.post(interactionPath(this.id, "/messages/upload"), form);
      $("composer-text").value = "";
      this.saveDraft();
      this.put(message);
    } catch (error) {
      this.fail(error);
    } finally {
      $("file").value = "";
    }
  }

  async recontact() {
    try {
      this.put(await api.post(interactionPath(this.id, "/recontact")));
      announce("Recontact template sent");
    } catch (error) {
      this.fail(error);
    }
  }

  openAnswers() {
    if (!this.id) return;
    $("answers-search").value = "";
    $("answers-dialog").showModal();
    this.searchAnswers();
  }

  async searchAnswers() {
    const query = $("answers-search").value.trim();
    const id = this.id;
    const found = await api.get(interactionPath(id, `/answers?limit=50&search=${encodeURIComponent(query)}`));
    if (query !== $("answers-search").value.trim()) return; // a newer search is on its way
    const list = $("answers-list");
    list.replaceChildren(...found.rows.map((answer) => el("li", {},
      el("button", { type: "button", class: "choice", onclick: () => this.insert(answer.text) },
        el("strong", { text: answer.name }), el("span", { class: "muted", text: answer.text })))));
    if (!found.rows.length) list.append(el("li", { class: "muted", text: "No canned answers found." }));
  }

  insert(text) {
    $("answers-dialog").close();
    const box = $("composer-text");
    box.value = box.value ? `${box.value} ${text}` : text;
    this.saveDraft();
    box.focus();
  }

  // --- actions ---------------------------------------------------------------------------

  async openTransfer() {
    const id = this.id;
    const targets = await api.get(interactionPath(id, "/transfer-targets"));
    const choose = (body, label) => el("li", {}, el("button", { type: "button", class: "choice",
      text: label, onclick: async () => {
        $("transfer-dialog").close();
        try {
          await api.post(interactionPath(id, "/transfer"), body);
          announce(`Transferring to ${label}`);
          $("thread-window").textContent = `transferring to ${label}…`;
          await this.loadTimeline();
        } catch (error) { this.fail(error); }
      } }));
    const agents = targets.agents.map((a) => choose({ agent_id: a.id },
      `${a.full_name || a.username} (${a.present ? "online" : a.status})`));
    const queues = targets.queues.map((q) => choose({ queue_id: q.id }, `Queue ${q.name}`));
    $("transfer-agents").replaceChildren(...(agents.length ? agents : [el("li", { class: "muted", text: "None" })]));
    $("transfer-queues").replaceChildren(...(queues.length ? queues : [el("li", { class: "muted", text: "None" })]));
    $("transfer-dialog").showModal();
  }

  async editTags(add, remove) {
    try {
      const result = await api.post(interactionPath(this.id, "/tags"), { add, remove });
      if (Array.isArray(result?.tags)) this.interaction.tags = result.tags;
      else this.interaction = await api.get(interactionPath(this.id));
      this.showHeader();
      await this.loadTimeline();
    } catch (error) { this.fail(error); }
  }

  addTag() {
    const tag = $("tag-input").value.trim();
    if (!tag) return;
    $("tag-input").value = "";
    this.editTags([tag], []);
  }

  async videoCall() {
    try {
      const call = await api.post(interactionPath(this.id, "/video-call"));
      const link = $("video-link");
      link.replaceChildren("Video call: ", el("a", { href: call.join_url, target: "_blank",
        rel: "noopener noreferrer", text: "Join video call" }));
      link.hidden = false;
      this.put(call.message);
      await this.loadTimeline();
    } catch (error) { this.fail(error); }
  }

  async askAssistant() {
    $("assistant").disabled = true;
    try {
      const answer = await api.post(interactionPath(this.id, "/assistant"), {});
      const box = $("composer-text");
      box.value = answer.suggestion ?? answer.text ?? "";
      this.saveDraft();
      box.focus();
      announce("Suggestion in the composer: edit it, then send");
    } catch (error) { this.fail(error); } finally { $("assistant").disabled = false; }
  }
}
