// WhatsApp accounts (admins): the list, one form to add or edit an account section by section
// (XCALLY's "Add WhatsApp Account" and its edit tabs), and the account's agents.

import { api } from "../common/api.js";
import { el, announce } from "../common/util.js";
import { field, section, collect, showErrors, table, FormError, userName } from "./forms.js";
import { answersSection, dispositionsSection } from "./account_lists.js";
import { planSection } from "./plan.js";

const TYPE_NAMES = { twilio: "Twilio", sinch_v2: "Sinch V2", meta: "Meta Cloud API", kaleyra: "Kaleyra" };
const TIMEOUT = { min: 1, max: 2147483 };

export async function accountsPage(page, ctx) {
  const { rows } = await api.get("/api/whatsapp/accounts?limit=1000");
  const error = el("p", { class: "error", role: "alert" });
  const actions = (account) => el("div", { class: "row-actions" },
    el("a", { href: `#/accounts/${account.id}`, class: "button", "aria-label": `Edit ${account.name}` }, "Edit"),
    el("a", { href: `#/interactions?account_id=${account.id}`, class: "button",
      "aria-label": `Interactions of ${account.name}` }, "Interactions"),
    el("a", { href: `#/accounts/${account.id}/agents`, class: "button",
      "aria-label": `Add agents to ${account.name}` }, "Add agents"),
    el("button", { type: "button", class: "danger", "aria-label": `Delete ${account.name}`,
      onclick: async () => {
        if (!(await ctx.confirm(`Delete the account ${account.name} (${account.key})?`))) return;
        try {
          await api.delete(`/api/whatsapp/accounts/${account.id}`);
          announce(`Account ${account.name} deleted`);
          ctx.route();
        } catch (refused) {
          error.textContent = `${account.name} was not deleted: ${refused.message}`;
        }
      } }, "Delete"));
  page.append(
    el("div", { class: "page-head" }, el("h2", { text: "WhatsApp accounts" }),
      el("a", { href: "#/accounts/new", class: "button primary" }, "Add WhatsApp Account")),
    error,
    rows.length
      ? table("WhatsApp accounts", [
        ["Name", (a) => a.name], ["Key", (a) => a.key], ["Type", (a) => TYPE_NAMES[a.type] || a.type],
        ["Phone", (a) => `+${a.phone}`], ["Actions", actions]], rows)
      : el("p", { class: "muted", text: "No accounts yet." }));
}

// Add ("new") or edit an account (its id). Sections mirror XCALLY's; a 422 lands next to its field.
export async function accountPage(page, ctx, which) {
  const id = which === "new" ? null : which;
  const [types, lists, pauses, account] = await Promise.all([
    api.get("/api/whatsapp/account-types"), api.get("/api/cm/lists?limit=1000"),
    api.get("/api/pauses?limit=1000"), id ? api.get(`/api/whatsapp/accounts/${id}`) : null]);
  const a = account || { type: types[0].type, credentials: {}, wait_assigned_agent: 10, wait_assigned_queue: 10,
    service_level_seconds: 60, notification: { sound: true, shake: false, template: "" },
    transfer: { agent_enabled: false, agent_timeout: 10, queue_enabled: false, queue_timeout: 10 },
    mandatory_disposition: false, assistant: { enabled: false, instructions: "" },
    video: { enabled: false, note: "", metadata: {} } };
  const form = el("form", { class: "account-form", novalidate: true });
  const typeField = field({ path: "type", label: "Type", type: "select", value: a.type,
    options: types.map((t) => [t.type, TYPE_NAMES[t.type] || t.type]) });
  const credentials = el("div", { class: "credentials" });
  const recontact = recontactSection(a);
  const showType = () => {
    const chosen = types.find((t) => t.type === typeField.querySelector("select").value);
    const same = chosen.type === a.type;
    credentials.replaceChildren(...chosen.credentials.map((c) => field({
      path: `credentials.${c.name}`, label: c.name.replaceAll("_", " "), type: c.kind === "secret" ? "secret" : "text",
      value: same ? a.credentials[c.name] : "", set: same && a.credentials[c.name] === "***",
      required: c.required })));
    recontact.hidden = !chosen.recontact;
  };
  typeField.querySelector("select").addEventListener("change", showType);
  showType();

  const preview = el("output", { class: "preview", "aria-live": "polite" });
  const template = field({ path: "notification.template", label: "Notification template (mustache)",
    type: "textarea", value: a.notification.template,
    help: "Variables: {{account.name}}, {{account.key}}, {{contact.first_name}}, {{contact.mobile}}, {{queue.name}}…" });
  const renderPreview = debounce(async () => {
    try {
      const shown = await api.post("/api/whatsapp/notification-preview", {
        template: template.querySelector("textarea").value, account_name: form.querySelector('[data-path="name"]').value,
        account_key: form.querySelector('[data-path="key"]').value });
      preview.textContent = shown.text;
      template.querySelector(".error").textContent = "";
    } catch (error) {
      preview.textContent = "";
      template.querySelector(".error").textContent = error.fields?.template || error.message;
    }
  }, 250);
  template.querySelector("textarea").addEventListener("input", renderPreview);

  form.append(
    el("p", { class: "error form-error", role: "alert", tabindex: "-1" }),
    section("General",
      field({ path: "name", label: "Name", value: a.name, required: true }),
      field({ path: "key", label: "Key", value: a.key, required: true, help: "Up to 5 letters or digits" }),
      field({ path: "list_id", label: "Default contact list", type: "select", value: a.list_id,
        options: [["", "Choose a list"], ...lists.rows.map((l) => [l.id, l.name])], required: true }),
      field({ path: "motion_domain", label: "Motion domain", value: a.motion_domain,
        help: "The public URL providers call; empty takes the server's" }),
      typeField, credentials,
      field({ path: "phone", label: "Phone", value: a.phone, required: true, help: "Digits with the country code" }),
      field({ path: "description", label: "Description", type: "textarea", value: a.description })),
    section("Common parameters",
      field({ path: "wait_assigned_agent", label: "Wait for the assigned agent (s)", type: "number",
        value: a.wait_assigned_agent, ...TIMEOUT }),
      field({ path: "wait_assigned_queue", label: "Wait for the assigned queue (s)", type: "number",
        value: a.wait_assigned_queue, ...TIMEOUT }),
      field({ path: "service_level_seconds", label: "Service level threshold (s)", type: "number",
        value: a.service_level_seconds, min: 1, max: 86400 })),
    account ? receiveSection(account) : null,
    section("Notification",
      field({ path: "notification.sound", label: "Sound", type: "checkbox", value: a.notification.sound }),
      field({ path: "notification.shake", label: "Shake", type: "checkbox", value: a.notification.shake }),
      template, el("p", { class: "muted" }, "Preview: ", preview)),
    section("Transfer",
      field({ path: "transfer.agent_enabled", label: "Transfer to agents", type: "checkbox",
        value: a.transfer.agent_enabled }),
      field({ path: "transfer.agent_timeout", label: "Agent transfer timeout (s)", type: "number",
        value: a.transfer.agent_timeout, ...TIMEOUT }),
      field({ path: "transfer.queue_enabled", label: "Transfer to queues", type: "checkbox",
        value: a.transfer.queue_enabled }),
      field({ path: "transfer.queue_timeout", label: "Queue transfer timeout (s)", type: "number",
        value: a.transfer.queue_timeout, ...TIMEOUT })),
    section("Mandatory disposition",
      field({ path: "mandatory_disposition", label: "Agents must dispose before the next interaction",
        type: "checkbox", value: a.mandatory_disposition }),
      field({ path: "disposition_pause_id", label: "Pause while a disposition is owed", type: "select",
        value: a.disposition_pause_id, options: [["", "None"], ...pauses.rows.map((p) => [p.id, p.name])] })),
    recontact,
    section("AI assistant",
      field({ path: "assistant.enabled", label: "Enabled", type: "checkbox", value: a.assistant.enabled }),
      field({ path: "assistant.base_url", label: "Base URL", value: a.assistant.base_url,
        help: "An OpenAI-compatible endpoint; empty takes the server's" }),
      field({ path: "assistant.model", label: "Model", value: a.assistant.model }),
      field({ path: "assistant.api_key", label: "API key", type: "secret", set: a.assistant.api_key === "***" }),
      field({ path: "assistant.instructions", label: "Instructions", type: "textarea", value: a.assistant.instructions })),
    section("Video",
      field({ path: "video.enabled", label: "Enabled", type: "checkbox", value: a.video.enabled }),
      field({ path: "video.api_key", label: "Vidaoo key", type: "secret", set: a.video.api_key === "***" }),
      field({ path: "video.topic", label: "Topic", value: a.video.topic }),
      field({ path: "video.note", label: "Note", type: "textarea", value: a.video.note }),
      field({ path: "video.metadata", label: "Metadata (JSON)", type: "json", value: a.video.metadata })),
    el("div", { class: "buttons sticky" },
      el("button", { type: "submit", class: "primary" }, account ? "Save account" : "Create account"),
      el("a", { href: "#/accounts", class: "button" }, "Back to accounts")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const body = collect(form);
      if (!body.motion_domain) delete body.motion_domain;
      if (!recontact.hidden && !body.recontact_template?.name) body.recontact_template = null;
      if (body.recontact_template?.parameters !== undefined) {
        body.recontact_template.parameters = splitLines(body.recontact_template.parameters);
      }
      for (const key of ["base_url", "model"]) if (!body.assistant[key]) body.assistant[key] = null;
      if (!body.video.topic) body.video.topic = null;
      const saved = account
        ? await api.patch(`/api/whatsapp/accounts/${account.id}`, body)
        : await api.post("/api/whatsapp/accounts", body);
      showErrors(form, null);
      announce(`Account ${saved.name} saved`);
      if (!account) window.location.hash = `#/accounts/${saved.id}`;
      else ctx.route();
    } catch (error) {
      if (!(error instanceof FormError) && !error.fields) throw error;
      showErrors(form, error);
    }
  });
  page.append(el("div", { class: "page-head" }, el("h2", { text: account ? `Edit ${account.name}` : "Add WhatsApp Account" }),
    account ? el("div", { class: "buttons" },
      el("a", { href: `#/accounts/${account.id}/agents`, class: "button" }, "Add agents"),
      el("a", { href: `#/interactions?account_id=${account.id}`, class: "button" }, "Interactions")) : null), form);
  if (account) {
    page.append(await planSection(account), await answersSection(account, ctx),
      await dispositionsSection(account, ctx));
  }
  renderPreview();
}

function receiveSection(account) {
  const url = field({ path: "receive_url", label: "Receive URL", type: "readonly", value: account.receive_url,
    help: "Paste it into the provider's console" });
  const copy = el("button", { type: "button", onclick: async () => {
    await navigator.clipboard.writeText(account.receive_url);
    announce("Receive URL copied");
    copy.textContent = "Copied";
  } }, "Copy receive URL");
  const overlap = el("input", { id: "rotate-overlap", type: "number", min: 0, max: 168, value: 24 });
  const rotated = el("p", { class: "muted", role: "status" });
  const rotate = el("button", { type: "button", onclick: async () => {
    const answer = await api.post(`/api/whatsapp/accounts/${account.id}/rotate-token`,
      { overlap_hours: Number(overlap.value) });
    url.querySelector("input").value = answer.receive_url;
    token.querySelector("input").value = answer.proxy_token;
    account.receive_url = answer.receive_url;
    rotated.textContent = `New token: paste the new Receive URL into the provider's console. The old one works until ${new Date(answer.previous_token_expires_at).toLocaleString()}.`;
  } }, "Rotate proxy token");
  const token = field({ path: "proxy_token", label: "Proxy token", type: "readonly", value: account.proxy_token });
  return section("Receive URL", url, copy, token,
    el("div", { class: "buttons" }, el("label", { for: "rotate-overlap", text: "Old token keeps working for (hours)" }),
      overlap, rotate), rotated);
}

function recontactSection(a) {
  const t = a.recontact_template || {};
  return section("Recontact template",
    el("p", { class: "muted", text: "Sent to reopen a closed 24-hour window (Meta and Kaleyra)." }),
    field({ path: "recontact_template.name", label: "Template name", value: t.name }),
    field({ path: "recontact_template.language", label: "Language", value: t.language || "en_US" }),
    field({ path: "recontact_template.parameters", label: "Parameters (one per line, mustache)", type: "textarea",
      value: (t.parameters || []).join("\n") }));
}

// The account's agents (XCALLY's "Add Agent to WhatsApp Account"): members, and a multi-select to add.
export async function accountAgentsPage(page, ctx, id) {
  const [account, members, users] = await Promise.all([
    api.get(`/api/whatsapp/accounts/${id}`), api.get(`/api/whatsapp/accounts/${id}/agents?limit=1000`),
    api.get("/api/users?limit=1000")]);
  page.append(el("h2", { text: `Agents of ${account.name}` }),
    await membersEditor(`/api/whatsapp/accounts/${id}/agents`, account.name, members.rows, users.rows, ctx),
    el("a", { href: "#/accounts", class: "button" }, "Back to accounts"));
}

// Members of an account or a queue: a list with "Remove", and a multi-select with "Add agents".
export async function membersEditor(path, name, members, users, ctx) {
  const error = el("p", { class: "error", role: "alert" });
  const inside = new Set(members.map((m) => m.id));
  const select = el("select", { id: "add-members", multiple: true, size: Math.min(8, users.length || 1) },
    users.filter((u) => !inside.has(u.id)).map((u) => el("option", { value: u.id, text: userName(u) })));
  const add = el("form", { class: "inline-form", onsubmit: async (event) => {
    event.preventDefault();
    const ids = [...select.selectedOptions].map((o) => Number(o.value));
    if (!ids.length) { error.textContent = "Choose one or more users first."; return; }
    try {
      await api.post(path, { ids });
      announce(`${ids.length} added to ${name}`);
      ctx.route();
    } catch (refused) { error.textContent = refused.message; }
  } }, el("label", { for: "add-members", text: "Users to add (hold Ctrl or Shift to choose several)" }), select,
  el("button", { type: "submit", class: "primary" }, "Add agents"));
  const remove = (user) => el("button", { type: "button", "aria-label": `Remove ${userName(user)}`, onclick: async () => {
    try {
      await api.delete(`${path}/${user.id}`);
      announce(`${userName(user)} removed`);
      ctx.route();
    } catch (refused) { error.textContent = refused.message; }
  } }, "Remove");
  return el("div", { class: "members" }, error,
    members.length ? table(`Agents of ${name}`, [["Agent", userName], ["Role", (u) => u.role], ["", remove]], members)
      : el("p", { class: "muted", text: "No agents yet." }), add);
}

const splitLines = (text) => (text || "").split("\n").map((line) => line.trim()).filter(Boolean);

function debounce(fn, ms) {
  let timer = null;
  return () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
}
