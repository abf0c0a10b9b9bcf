// Forms on the API's shapes: every control carries the dotted path of the field it edits
// (`transfer.agent_timeout`), so a 422's `fields` land next to the control they name.

import { el } from "../common/util.js";

let serial = 0;

// One labelled control with its help and its error line. `type`: text, number, checkbox,
// select, textarea, secret (write-only: shows whether one is set, empty keeps it), json, readonly.
export function field({ path, label, type = "text", value, options = [], required = false, help = "",
  min, max, set = false, rows = 3 }) {
  const id = `f${++serial}`;
  const error = el("p", { class: "error", id: `${id}-error` });
  const hint = help ? el("p", { class: "muted hint", id: `${id}-help`, text: help }) : null;
  const described = [hint && `${id}-help`, `${id}-error`].filter(Boolean).join(" ");
  const common = { id, "data-path": path, "data-type": type, "aria-describedby": described,
    required: required && type !== "secret" };
  let input;
  if (type === "checkbox") {
    input = el("input", { ...common, type: "checkbox", checked: Boolean(value) });
    return el("div", { class: "field check" }, input, el("label", { for: id, text: label }), hint, error);
  }
  if (type === "select") {
    input = el("select", common, options.map(([optionValue, text]) =>
      el("option", { value: optionValue, text, selected: String(optionValue) === String(value ?? "") })));
  } else if (type === "textarea" || type === "json") {
    input = el("textarea", { ...common, rows });
    input.value = type === "json" ? JSON.stringify(value ?? {}, null, 2) : (value ?? "");
  } else if (type === "secret") {
    input = el("input", { ...common, type: "password", autocomplete: "new-password",
      placeholder: set ? "set: type to replace it" : "", required: required && !set });
  } else {
    input = el("input", { ...common, type: type === "readonly" ? "text" : type, readonly: type === "readonly",
      min, max, value: value ?? "" });
  }
  const status = type === "secret" ? el("span", { class: "muted", text: set ? " (a secret is set)" : " (not set)" }) : null;
  return el("div", { class: "field" }, el("label", { for: id }, label, status), input, hint, error);
}

export function section(legend, ...children) {
  return el("fieldset", { class: "section" }, el("legend", { text: legend }), ...children);
}

// The body the form's controls describe; `only` keeps the paths starting with one of its prefixes.
export function collect(form) {
  const body = {};
  for (const input of form.querySelectorAll("[data-path]")) {
    if (input.closest("[hidden]") || input.disabled) continue;
    const { path, type } = input.dataset;
    let value;
    if (type === "readonly") continue;
    if (type === "checkbox") value = input.checked;
    else if (type === "number") value = input.value === "" ? null : Number(input.value);
    else if (type === "secret") {
      if (input.value === "") continue; // empty keeps the stored secret
      value = input.value;
    } else if (type === "json") {
      try {
        value = JSON.parse(input.value || "{}");
      } catch {
        throw new FormError({ [path]: "is not valid JSON" });
      }
    } else if (type === "select") value = input.value === "" ? null : selectValue(input.value);
    else value = input.value;
    place(body, path.split("."), value);
  }
  return body;
}

const selectValue = (value) => (/^\d+$/.test(value) ? Number(value) : value);

function place(target, [head, ...rest], value) {
  if (!rest.length) {
    target[head] = value;
    return;
  }
  target[head] = target[head] || {};
  place(target[head], rest, value);
}

export class FormError extends Error {
  constructor(fields) {
    super("check the fields marked");
    this.fields = fields;
  }
}

// Show an ApiError (or FormError) on the form: each field's message next to it, the rest on top.
export function showErrors(form, error) {
  const general = form.querySelector(".form-error");
  for (const line of form.querySelectorAll(".field .error")) line.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  if (!error) {
    general.textContent = "";
    return;
  }
  const unplaced = [];
  let first = null;
  for (const [path, why] of Object.entries(error.fields || {})) {
    const input = form.querySelector(`[data-path="${CSS.escape(path)}"]`);
    if (!input) {
      unplaced.push(`${path}: ${why}`);
      continue;
    }
    input.setAttribute("aria-invalid", "true");
    input.closest(".field").querySelector(".error").textContent = why;
    first = first || input;
  }
  general.textContent = unplaced.length ? unplaced.join("; ") : first ? "Check the fields marked." : error.message;
  (first || general).focus?.();
}

// A table of `rows` with `columns` [[header, (row) => cell]], cells text or nodes.
export function table(label, columns, rows) {
  return el("table", { class: "grid", "aria-label": label },
    el("thead", {}, el("tr", {}, columns.map(([header]) => el("th", { scope: "col", text: header })))),
    el("tbody", {}, rows.map((row) => el("tr", {}, columns.map(([, cell]) => el("td", {}, cell(row)))))));
}

export const userName = (user) => user.full_name || user.username;

// What an API refusal says: each field it names with why, else its message.
export const reason = (error) =>
  Object.entries(error.fields || {}).map(([path, why]) => `${path}: ${why}`).join("; ") || error.message;

// Save `blob` as the file `name` (an export, a transcript, a report).
export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = el("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
