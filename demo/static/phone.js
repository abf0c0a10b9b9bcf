// The customer's phone of `make demo`: pick a demo account and a mobile, write, and watch the
// business's replies arrive with their delivery ticks (polled from the simulator, via /demo/api).
const contactSelect = document.getElementById("contact");
const mobileInput = document.getElementById("mobile");
const thread = document.getElementById("thread");
const errorLine = document.getElementById("error");
const TICKS = { accepted: "🕓", sent: "✓", delivered: "✓✓", read: "✓✓" };
const STATUS_WORDS = { accepted: "sending", sent: "sent", delivered: "delivered", read: "read" };
let contacts = [];
let shown = "";

function current() {
  const contact = contacts[Number(contactSelect.value)];
  return contact ? { account: contact.account_key, mobile: mobileInput.value.trim() } : null;
}

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
  return body;
}

function render(rows) {
  const key = JSON.stringify(rows);
  if (key === shown) return;
  shown = key;
  const atBottom = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 40;
  thread.replaceChildren(...rows.map((message) => {
    const item = document.createElement("li");
    item.className = message.direction + (message.status.startsWith("refused") ? " refused" : "");
    item.textContent = message.text;
    const meta = document.createElement("span");
    meta.className = "meta";
    const time = new Date(message.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    const ticks = document.createElement("span");
    // An agent's reply: Shareline's send as the phone reported it. The customer's own message:
    // delivered once Shareline took the webhook.
    ticks.className = `ticks ${message.direction === "to_customer" ? message.status : ""}`;
    ticks.textContent = ` ${TICKS[message.status] || (message.status === "sending" ? "🕓" : "⚠")}`;
    ticks.title = STATUS_WORDS[message.status] || message.status;
    ticks.setAttribute("aria-label", ticks.title);
    meta.append(time, ticks);
    item.append(meta);
    return item;
  }));
  if (atBottom) thread.scrollTop = thread.scrollHeight;
}

async function refresh() {
  const which = current();
  if (!which || !which.mobile) return;
  try {
    const body = await api(`/demo/api/thread?${new URLSearchParams(which)}`);
    render(body.rows);
    errorLine.textContent = "";
  } catch (error) {
    errorLine.textContent = `Cannot read the thread: ${error.message}`;
  }
}

async function start() {
  contacts = (await api("/demo/api/contacts")).rows;
  contactSelect.replaceChildren(...contacts.map((contact, index) => {
    const option = document.createElement("option");
    option.value = String(index);
    option.textContent = `${contact.account_name} (${contact.provider}, +${contact.business_phone})`;
    return option;
  }));
  const pick = () => {
    mobileInput.value = contacts[Number(contactSelect.value)]?.mobile || "";
    shown = "";
    refresh();
  };
  contactSelect.addEventListener("change", pick);
  mobileInput.addEventListener("change", () => { shown = ""; refresh(); });
  pick();
  setInterval(refresh, 1000);
}

document.getElementById("compose").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("text");
  const which = current();
  if (!which || !input.value.trim()) return;
  try {
    await api("/demo/api/messages", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ...which, text: input.value }),
    });
    input.value = "";
    refresh();
  } catch (error) {
    errorLine.textContent = `Not sent: ${error.message}`;
  }
});

start().catch((error) => { errorLine.textContent = `The demo's simulator does not answer: ${error.message}`; });
