// The directory (admins): users, queues, pauses, intervals and contact lists, each a plain
// list with "Add", "Edit" and "Delete"; a queue also has its agents.

import { api } from "../common/api.js";
import { el, announce } from "../common/util.js";
import { field, collect, showErrors, table, FormError, userName } from "./forms.js";
import { membersEditor } from "./accounts.js";

const TIMEOUT = { min: 1, max: 2147483 };

const KINDS = {
  users: {
    title: "Users", one: "user", path: "/api/users", name: userName,
    columns: [["Username", (u) => u.username], ["Name", (u) => u.full_name], ["Role", (u) => u.role],
      ["Capacity", (u) => String(u.whatsapp_capacity)], ["Status", (u) => u.status]],
    fields: (u) => [
      { path: "username", label: "Username", value: u.username, required: true },
      { path: "full_name", label: "Full name", value: u.full_name },
      { path: "role", label: "Role", type: "select", value: u.role || "agent",
        options: [["agent", "Agent"], ["supervisor", "Supervisor"], ["admin", "Admin"]] },
      { path: "whatsapp_capacity", label: "WhatsApp capacity", type: "number", value: u.whatsapp_capacity ?? 5, min: 0 },
      { path: "password", label: "Password", type: "secret", set: Boolean(u.id), required: !u.id,
        help: "At least 8 characters" }],
  },
  queues: {
    title: "Queues", one: "queue", path: "/api/whatsapp/queues", name: (q) => q.name, members: true,
    columns: [["Name", (q) => q.name], ["Strategy", (q) => q.strategy], ["Timeout", (q) => `${q.timeout} s`],
      ["Weight", (q) => String(q.weight)]],
    fields: (q) => [
      { path: "name", label: "Name", value: q.name, required: true },
      { path: "strategy", label: "Strategy", type: "select", value: q.strategy || "beepall",
        options: [["beepall", "Ring all"], ["rrmemory", "Round robin with memory"], ["leastrecent", "Least recent"]] },
      { path: "timeout", label: "Per-agent timeout (s)", type: "number", value: q.timeout ?? 10, ...TIMEOUT },
      { path: "weight", label: "Weight (higher is served first)", type: "number", value: q.weight ?? 0, min: 0 },
      { path: "description", label: "Description", type: "textarea", value: q.description }],
  },
  pauses: {
    title: "Pauses", one: "pause", path: "/api/pauses", name: (p) => p.name,
    columns: [["Name", (p) => p.name]],
    fields: (p) => [{ path: "name", label: "Name", value: p.name, required: true }],
  },
  intervals: {
    title: "Intervals", one: "interval", path: "/api/intervals", name: (i) => i.name,
    columns: [["Name", (i) => i.name], ["Time zone", (i) => i.timezone], ["Rules", (i) => String(i.rules.length)]],
    fields: (i) => [
      { path: "name", label: "Name", value: i.name, required: true },
      { path: "timezone", label: "Time zone", value: i.timezone || "UTC" },
      { path: "rules", label: "Rules (JSON)", type: "json", rows: 6,
        value: i.rules || [{ time_from: "09:00", time_to: "18:00", weekdays: ["mon", "tue", "wed", "thu", "fri"] }],
        help: "Each rule: always, or time_from/time_to (HH:MM), weekdays, month_days, months" }],
  },
  lists: {
    title: "Contact lists", one: "contact list", path: "/api/cm/lists", name: (l) => l.name,
    columns: [["Name", (l) => l.name], ["Description", (l) => l.description]],
    fields: (l) => [
      { path: "name", label: "Name", value: l.name, required: true },
      { path: "description", label: "Description", type: "textarea", value: l.description }],
  },
};

export async function directoryPage(page, ctx, kind) {
  const spec = KINDS[kind];
  const { rows } = await api.get(`${spec.path}?limit=1000`);
  const error = el("p", { class: "error", role: "alert" });
  const editor = el("div");
  const edit = (row) => {
    editor.replaceChildren(formFor(spec, row, ctx));
    editor.querySelector("input, select, textarea").focus();
  };
  const actions = (row) => el("div", { class: "row-actions" },
    el("button", { type: "button", "aria-label": `Edit ${spec.name(row)}`, onclick: () => edit(row) }, "Edit"),
    spec.members ? el("button", { type: "button", "aria-label": `Agents of ${spec.name(row)}`,
      onclick: () => members(spec, row, editor, ctx) }, "Agents") : null,
    el("button", { type: "button", class: "danger", "aria-label": `Delete ${spec.name(row)}`, onclick: async () => {
      if (!(await ctx.confirm(`Delete the ${spec.one} ${spec.name(row)}?`))) return;
      try {
        await api.delete(`${spec.path}/${row.id}`);
        announce(`${spec.name(row)} deleted`);
        ctx.route();
      } catch (refused) { error.textContent = `${spec.name(row)} was not deleted: ${refused.message}`; }
    } }, "Delete"));
  page.append(
    el("div", { class: "page-head" }, el("h2", { text: spec.title }),
      el("button", { type: "button", class: "primary", onclick: () => edit({}) }, `Add ${spec.one}`)),
    error,
    rows.length ? el("div", { class: "scroll" }, table(spec.title, [...spec.columns, ["Actions", actions]], rows))
      : el("p", { class: "muted", text: `No ${spec.title.toLowerCase()} yet.` }),
    editor);
}

function formFor(spec, row, ctx) {
  const form = el("form", { class: "section", novalidate: true },
    el("h3", { text: row.id ? `Edit ${spec.name(row)}` : `Add ${spec.one}` }),
    el("p", { class: "error form-error", role: "alert", tabindex: "-1" }),
    spec.fields(row).map(field),
    el("div", { class: "buttons" }, el("button", { type: "submit", class: "primary" }, `Save ${spec.one}`),
      el("button", { type: "button", onclick: () => form.remove() }, "Cancel")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const body = collect(form);
      const saved = row.id ? await api.patch(`${spec.path}/${row.id}`, body) : await api.post(spec.path, body);
      announce(`${spec.name(saved)} saved`);
      ctx.route();
    } catch (error) {
      if (!(error instanceof FormError) && !error.fields) throw error;
      showErrors(form, error);
    }
  });
  return form;
}

async function members(spec, row, holder, ctx) {
  const path = `${spec.path}/${row.id}/agents`;
  const [inside, users] = await Promise.all([api.get(`${path}?limit=1000`), api.get("/api/users?limit=1000")]);
  holder.replaceChildren(el("section", { class: "section" }, el("h3", { text: `Agents of ${spec.name(row)}` }),
    await membersEditor(path, spec.name(row), inside.rows, users.rows, ctx)));
}
