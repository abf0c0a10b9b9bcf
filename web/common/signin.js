// The sign-in both pages share: the form #signin-form in <main id="signin">, shown instead of the
// page's own element (`pageId`); a good password stores the token and calls `onSignedIn`.

import { api, token } from "./api.js";
import { $ } from "./util.js";

export class SignIn {
  constructor(pageId, onSignedIn) {
    this.pageId = pageId;
    $("signin-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      $("signin-error").textContent = "";
      try {
        const answer = await api.post("/api/auth/login", {
          username: $("username").value.trim(), password: $("password").value });
        token.set(answer.access_token);
        $("password").value = "";
        await onSignedIn();
      } catch (error) {
        $("signin-error").textContent = error.status === 401 ? "Wrong username or password." : error.message;
      }
    });
  }

  // Who is signed in (GET /api/agents/me), or null with the sign-in shown.
  async me() {
    if (token.get()) {
      try {
        return await api.get("/api/agents/me");
      } catch {
        /* an expired or revoked token: sign in again */
      }
    }
    this.show();
    return null;
  }

  show(message = "") {
    $(this.pageId).hidden = true;
    $("signin").hidden = false;
    $("signin-error").textContent = message;
    $("username").focus();
  }

  hide() {
    $("signin").hidden = true;
    $(this.pageId).hidden = false;
  }
}
