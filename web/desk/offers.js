// Offer cards: one per live offer, a countdown to the server's expires_at, Accept and Reject.
// The tab title counts them; the account's sound (a short WebAudio chime, unlocked by the
// first click of the session) and shake are honoured; a hidden tab gets a desktop notification
// if the agent allowed them.

import { api, interactionPath } from "../common/api.js";
import { $, el, announce } from "../common/util.js";

const TITLE = "Shareline desk";
let audio = null;

document.addEventListener("pointerdown", () => {
  if (!audio && window.AudioContext) audio = new AudioContext();
  if (audio && audio.state === "suspended") audio.resume();
}, { capture: true });

function chime() {
  if (!audio || audio.state !== "running") return false;
  const now = audio.currentTime;
  for (const [offset, pitch] of [[0, 880], [0.18, 1175]]) {
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = pitch;
    gain.gain.setValueAtTime(0.0001, now + offset);
    gain.gain.exponentialRampToValueAtTime(0.25, now + offset + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + offset + 0.3);
    tone.connect(gain).connect(audio.destination);
    tone.start(now + offset);
    tone.stop(now + offset + 0.32);
  }
  return true;
}

export class Offers {
  constructor(onAccepted) {
    this.live = new Map(); // interaction_id -> {offer, card, timer}
    this.onAccepted = onAccepted;
    this.soundsPlayed = 0;
    setInterval(() => this.tick(), 1000);
  }

  clear() {
    for (const id of [...this.live.keys()]) this.remove(id);
  }

  add(offer) {
    this.remove(offer.interaction_id, { quiet: true });
    const expires = Date.parse(offer.expires_at);
    if (expires <= Date.now()) return;
    const countdown = el("span", { class: "countdown" });
    const accept = el("button", { type: "button", class: "primary", text: "Accept",
      onclick: () => this.answer(offer, "accept") });
    const reject = el("button", { type: "button", text: "Reject",
      onclick: () => this.answer(offer, "reject") });
    const who = offer.contact ? (offer.contact.first_name || `+${offer.contact.mobile}`) : "a contact";
    const card = el("article", {
      class: "offer" + (offer.notification?.shake ? " shake" : ""),
      "aria-label": `Offer from ${who}`,
      dataset: { interaction: offer.interaction_id, sound: offer.notification?.sound ? "on" : "off" },
    },
    el("div", { class: "offer-head" },
      el("span", { class: "account-key", text: offer.account_key }),
      offer.queue ? el("span", { class: "muted", text: offer.queue.name }) : null,
      countdown),
    el("p", { class: "offer-text", text: offer.notification?.text || `New conversation from ${who}` }),
    el("p", { class: "error", role: "alert" }),
    el("div", { class: "offer-buttons" }, accept, reject));
    $("offers").append(card);
    this.live.set(offer.interaction_id, { offer, card, countdown, expires });
    this.tick();
    this.title();
    if (offer.notification?.sound && chime()) {
      this.soundsPlayed += 1;
      card.dataset.soundPlayed = "true";
    }
    announce(`New offer: ${offer.notification?.text || who}`);
    if (document.hidden && window.Notification && Notification.permission === "granted") {
      const note = new Notification(`Offer (${offer.account_key})`, {
        body: offer.notification?.text || who, tag: `offer-${offer.interaction_id}` });
      note.onclick = () => { window.focus(); note.close(); };
    }
  }

  remove(id, { quiet = false } = {}) {
    const entry = this.live.get(id);
    if (!entry) return;
    entry.card.remove();
    this.live.delete(id);
    this.title();
    if (!quiet) announce("Offer withdrawn");
  }

  tick() {
    const now = Date.now();
    for (const [id, entry] of this.live) {
      const seconds = Math.ceil((entry.expires - now) / 1000);
      if (seconds <= 0) this.remove(id);
      else entry.countdown.textContent = `${seconds} s`;
    }
  }

  title() {
    document.title = this.live.size ? `(${this.live.size}) ${TITLE}` : TITLE;
  }

  async answer(offer, verb) {
    const entry = this.live.get(offer.interaction_id);
    const buttons = entry ? entry.card.querySelectorAll("button") : [];
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await api.post(interactionPath(offer.interaction_id, `/${verb}`));
      this.remove(offer.interaction_id, { quiet: true });
      if (verb === "accept") this.onAccepted(offer.interaction_id);
    } catch (error) {
      if (error.status === 409) {
        this.remove(offer.interaction_id, { quiet: true });
        announce("That offer was taken or has expired");
      } else if (entry) {
        entry.card.querySelector(".error").textContent = error.message;
        buttons.forEach((b) => { b.disabled = false; });
      }
    }
  }
}
