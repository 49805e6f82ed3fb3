// The screens beside the chat: /wallet, /account[/tab], /admin[/tab]. One <section id="screen">
// takes the chat's place; the app's router asks `show(path)` first and falls back to the chat.

import { $ } from "../ui/dom.js";
import { screenFromPath } from "../lib/money.js";
import { WalletScreen } from "../wallet/wallet.js";
import { AccountScreen } from "../account/account.js";
import { AdminScreen } from "../admin/admin.js";

export class Screens {
  /** ctx: {api, getUser, go(path), setToken(token), logout(), announce(text)} */
  constructor(ctx) {
    this.ctx = { ...ctx, config: () => this.config() };
    this.root = $("#screen");
    this.current = null;
    this.kinds = { wallet: WalletScreen, account: AccountScreen, admin: AdminScreen };
    this.configPromise = null;
    // Links to the screens (and back to the chat) route in place.
    document.addEventListener("click", (e) => {
      const a = e.target.closest("a[href]");
      if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      const url = new URL(a.href, location.href);
      if (url.origin !== location.origin || a.target || a.hasAttribute("download")) return;
      if (!screenFromPath(url.pathname) && !(a.dataset.route === "chat" && url.pathname === "/")) return;
      e.preventDefault();
      ctx.go(url.pathname + url.search);
    });
  }

  /** The public settings (`GET /api/config`), fetched once. */
  config() {
    if (!this.configPromise) {
      this.configPromise = fetch("/api/config").then((r) => r.json()).then((j) => j.data || {}).catch(() => {
        this.configPromise = null;
        return {};
      });
    }
    return this.configPromise;
  }

  /** Show the screen for `pathname` if it is one; true when it was. */
  show(pathname, search = location.search) {
    const where = screenFromPath(pathname);
    if (!where) return false;
    const Kind = this.kinds[where.screen];
    if (!(this.current instanceof Kind)) {
      if (this.current) this.current.destroy();
      this.current = new Kind(this.ctx, this.root);
    }
    $("#main").hidden = true;
    this.root.hidden = false;
    document.body.dataset.screen = where.screen;
    this.current.open(where.tab, new URLSearchParams(search));
    return true;
  }

  hide() {
    if (this.current) this.current.destroy();
    this.current = null;
    this.root.replaceChildren();
    this.root.hidden = true;
    delete document.body.dataset.screen;
    $("#main").hidden = false;
  }

  /** A new user snapshot was taken (the app keeps the newest): the open screen redraws it. */
  userChanged(user) {
    for (const link of [$("#admin-link"), $("#admin-side")]) if (link) link.hidden = !(user && user.role === "admin");
    if (this.current && this.current.userChanged) this.current.userChanged(user);
  }

  reset() {
    this.hide();
    this.configPromise = null;
  }
}
