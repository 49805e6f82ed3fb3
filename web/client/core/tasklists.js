// GFM task lists for markdown-it: a list item starting with "[ ] " or "[x] " gets a disabled
// checkbox (read-only: answers are not forms).

export function taskListPlugin(md) {
  md.core.ruler.after("inline", "task_lists", (state) => {
    const tokens = state.tokens;
    for (let i = 2; i < tokens.length; i++) {
      const inline = tokens[i];
      if (inline.type !== "inline" || tokens[i - 1].type !== "paragraph_open" || tokens[i - 2].type !== "list_item_open") continue;
      const m = /^\[([ xX])\]\s/.exec(inline.content);
      if (!m || !inline.children.length || inline.children[0].type !== "text") continue;
      const checked = m[1] !== " ";
      inline.children[0].content = inline.children[0].content.slice(m[0].length);
      const box = new state.Token("html_inline", "", 0);
      box.content = `<input type="checkbox" class="task" disabled${checked ? " checked" : ""} aria-label="${checked ? "done" : "not done"}"> `;
      inline.children.unshift(box);
      tokens[i - 2].attrJoin("class", "task-item");
    }
  });
}
