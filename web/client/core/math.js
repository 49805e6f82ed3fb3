// A markdown-it plugin for TeX math: `$…$` and `\(…\)` inline, `$$…$$` and `\[…\]` as blocks.
// Math inside code spans and fences is left alone (markdown-it parses those first).

function inlineMath(state, silent) {
  const src = state.src;
  const start = state.pos;
  let open;
  let close;
  if (src.startsWith("\\(", start)) {
    open = "\\(";
    close = "\\)";
  } else if (src[start] === "$" && src[start + 1] !== "$") {
    open = "$";
    close = "$";
    if (/\s/.test(src[start + 1] || " ")) return false; // "$ 5" is money, not math
  } else if (src.startsWith("$$", start)) {
    open = "$$";
    close = "$$";
  } else {
    return false;
  }
  const from = start + open.length;
  let end = src.indexOf(close, from);
  while (end > 0 && src[end - 1] === "\\") end = src.indexOf(close, end + 1);
  if (end < 0 || end === from) return false;
  if (close === "$" && (/\s/.test(src[end - 1]) || /\d/.test(src[end + 1] || ""))) return false;
  if (!silent) {
    const token = state.push("math_inline", "math", 0);
    token.content = src.slice(from, end);
    token.markup = open;
  }
  state.pos = end + close.length;
  return true;
}

function blockMath(state, startLine, endLine, silent) {
  const first = state.src.slice(state.bMarks[startLine] + state.tShift[startLine], state.eMarks[startLine]);
  const open = first.startsWith("$$") ? "$$" : first.startsWith("\\[") ? "\\[" : null;
  if (!open) return false;
  const close = open === "$$" ? "$$" : "\\]";
  let body = first.slice(open.length);
  let line = startLine;
  let found = false;
  if (body.trimEnd().endsWith(close)) {
    body = body.trimEnd().slice(0, -close.length);
    found = true;
  }
  while (!found && ++line < endLine) {
    const text = state.src.slice(state.bMarks[line] + state.tShift[line], state.eMarks[line]);
    if (text.trimEnd().endsWith(close)) {
      body += `\n${text.trimEnd().slice(0, -close.length)}`;
      found = true;
    } else {
      body += `\n${text}`;
    }
  }
  if (!found) return false;
  if (silent) return true;
  const token = state.push("math_block", "math", 0);
  token.block = true;
  token.content = body.trim();
  token.map = [startLine, line + 1];
  state.line = line + 1;
  return true;
}

export function mathPlugin(md, { render }) {
  md.inline.ruler.after("escape", "math_inline", inlineMath);
  md.block.ruler.after("blockquote", "math_block", blockMath, { alt: ["paragraph", "reference", "blockquote", "list"] });
  md.renderer.rules.math_inline = (tokens, idx) => render(tokens[idx].content, false);
  md.renderer.rules.math_block = (tokens, idx) => `<div class="math-block">${render(tokens[idx].content, true)}</div>\n`;
}
