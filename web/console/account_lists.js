// An account's canned answers (list, search, add, edit, delete) and dispositions (three levels,
// each below one of the level above), on the account's edit page.

import { api } from "../common/api.js";
import { el, announce } from "../common/util.js";
import { table, reason } from "./forms.js";

export async function answersSection(account, ctx) {
  const path = `/api/whatsapp/accounts/${account.id}/answers`;
  const body = el("div");
  const error = el("p", { class: "error", role: "alert" });
  const search = el("input", { id: "answer-search", type: "search" });
  const show = async () => {
    const { rows } = await api.get(`${path}?limit=1000${search.value ? `&search=${encodeURIComponent(search.value)}` : ""}`);
    const edit = (answer) => el("button", { type: "button", "aria-label": `Edit ${answer.name}`,
      onclick: () => body.replaceChildren(answerForm(answer)) }, "Edit");
    const remove = (answer) => el("button", { type: "button", class: "danger", "aria-label": `Delete ${answer.name}`,
      onclick: async () => {
        if (!(await ctx.confirm(`Delete the canned answer ${answer.name}?`))) return;
        await api.delete(`${path}/${answer.id}`);
        announce(`${answer.name} deleted`);
        show();
      } }, "Delete");
    body.replaceChildren(rows.length
      ? table("Canned answers", [["Name", (a) => a.name], ["Answer", (a) => a.value],
        ["", (a) => el("div", { class: "row-actions" }, edit(a), remove(a))]], rows)
      : el("p", { class: "muted", text: search.value ? "No canned answer matches." : "No canned answers yet." }),
    el("button", { type: "button", onclick: () => body.replaceChildren(answerForm(null)) }, "Add canned answer"));
  };
  const answerForm = (answer) => {
    const name = el("input", { id: "answer-name", value: answer?.name || "", required: true });
    const value = el("textarea", { id: "answer-value", rows: 3, required: true });
    value.value = answer?.value || "";
    return el("form", { class: "inline-form", onsubmit: async (event) => {
      event.preventDefault();
      try {
        const sent = { name: name.value, value: value.value };
        if (answer) await api.patch(`${path}/${answer.id}`, sent);
        else await api.post(path, sent);
        error.textContent = "";
        announce(`${sent.name} saved`);
        show();
      } catch (refused) {
        error.textContent = reason(refused);
      }
    } }, el("label", { for: "answer-name", text: "Name" }), name,
    el("label", { for: "answer-value", text: "Answer (mustache: {{contact.first_name}}…)" }), value,
    el("div", { class: "buttons" }, el("button", { type: "submit", class: "primary" }, "Save canned answer"),
      el("button", { type: "button", onclick: show }, "Cancel")));
  };
  search.addEventListener("input", show);
  await show();
  return el("section", { class: "section", "aria-labelledby": "answers-title" },
    el("h3", { id: "answers-title", text: "Canned answers" }),
    el("label", { for: "answer-search", text: "Search canned answers" }), search, body, error);
}

export async function dispositionsSection(account, ctx) {
  const path = `/api/whatsapp/accounts/${account.id}/dispositions`;
  const holder = el("div");
  const error = el("p", { class: "error", role: "alert" });
  const show = async () => {
    const { rows } = await api.get(`${path}?limit=1000`);
    const byParent = (parent) => rows.filter((d) => d.parent_id === parent);
    const tree = (parent) => {
      const children = byParent(parent);
      if (!children.length) return null;
      const rename = (d) => el("button", { type: "button", "aria-label": `Rename disposition ${d.name}`, onclick: (click) => {
        const input = el("input", { "aria-label": `New name of ${d.name}`, value: d.name });
        const form = el("form", { class: "buttons", onsubmit: async (event) => {
          event.preventDefault();
          try {
            await api.patch(`${path}/${d.id}`, { name: input.value });
            announce(`Renamed ${input.value}`);
            show();
          } catch (refused) { error.textContent = reason(refused); }
        } }, input, el("button", { type: "submit" }, "Save name"));
        click.currentTarget.replaceWith(form);
        input.focus();
      } }, "Rename");
      return el("ul", { class: "tree" }, children.map((d) => el("li", {},
        el("span", { text: `${d.name} ` }), rename(d),
        el("button", { type: "button", class: "danger", "aria-label": `Delete disposition ${d.name}`, onclick: async () => {
          if (!(await ctx.confirm(`Delete the disposition ${d.name}?`))) return;
          try {
            await api.delete(`${path}/${d.id}`);
            announce(`${d.name} deleted`);
            show();
          } catch (refused) { error.textContent = refused.message; }
        } }, "Delete"),
        tree(d.id))));
    };
    const name = el("input", { id: "disposition-name", required: true });
    const parent = el("select", { id: "disposition-parent" }, el("option", { value: "", text: "None (level 1)" }),
      rows.filter((d) => d.level < 3).map((d) => el("option", { value: d.id, text: `${d.name} (level ${d.level})` })));
    const add = el("form", { class: "inline-form", onsubmit: async (event) => {
      event.preventDefault();
      const above = rows.find((d) => String(d.id) === parent.value);
      try {
        await api.post(path, { name: name.value, level: above ? above.level + 1 : 1, parent_id: above ? above.id : null });
        error.textContent = "";
        announce(`${name.value} added`);
        show();
      } catch (refused) {
        error.textContent = reason(refused);
      }
    } }, el("label", { for: "disposition-name", text: "Disposition name" }), name,
    el("label", { for: "disposition-parent", text: "Below" }), parent,
    el("button", { type: "submit" }, "Add disposition"));
    holder.replaceChildren(tree(null) || el("p", { class: "muted", text: "No dispositions yet." }), add);
  };
  await show();
  return el("section", { class: "section", "aria-labelledby": "dispositions-title" },
    el("h3", { id: "dispositions-title", text: "Dispositions" }), holder, error);
}
