// The admin console (role admin; the server refuses everyone else).

import { frame } from "../screens/index.js";

export class AdminScreen {
  constructor(ctx, root) {
    this.ctx = ctx;
    this.root = root;
  }

  open() {
    const { node } = frame("Admin", [], null);
    this.root.replaceChildren(node);
    document.title = "Admin · AI Pasta";
  }

  destroy() {}
}
