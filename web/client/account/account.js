// The account: profile, preferences, security, usage and API keys.

import { frame } from "../screens/index.js";

const TABS = [
  { id: "profile", label: "Profile", href: "/account" },
  { id: "usage", label: "Usage", href: "/account/usage" },
];

export class AccountScreen {
  constructor(ctx, root) {
    this.ctx = ctx;
    this.root = root;
  }

  open(tab) {
    const active = TABS.some((t) => t.id === tab) ? tab : "profile";
    const { node } = frame("Account", TABS, active);
    this.root.replaceChildren(node);
    document.title = "Account · AI Pasta";
  }

  destroy() {}
}
