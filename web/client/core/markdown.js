// Markdown to safe DOM: markdown-it (GFM tables, lists, links; raw HTML off) with task lists and
// KaTeX math, highlight.js for code, then DOMPurify over everything. Links open in a new tab
// with rel="noopener noreferrer"; only http(s) and mailto links survive.
//
// The page's CSP has no 'unsafe-inline' for styles, so KaTeX's inline `style` attributes are
// carried as `data-s` and applied through the CSSOM (`applyMathStyles`), which CSP allows.

import MarkdownIt from "markdown-it";
import DOMPurify from "dompurify";
import hljs from "highlight.js/lib/common";
import katex from "katex";
import { mathPlugin } from "./math.js";
import { taskListPlugin } from "./tasklists.js";

function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function renderMath(tex, displayMode) {
  const html = katex.renderToString(tex, { displayMode, throwOnError: false, output: "htmlAndMathml", trust: false });
  return html.replace(/ style="/g, ' data-s="');
}

const md = new MarkdownIt({ html: false, linkify: true, breaks: false, typographer: false });
md.use(mathPlugin, { render: renderMath });
md.use(taskListPlugin);

md.renderer.rules.fence = (tokens, idx) => {
  const token = tokens[idx];
  const lang = (token.info || "").trim().split(/\s+/)[0].toLowerCase();
  const code = token.content;
  let body;
  if (lang && hljs.getLanguage(lang)) body = hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
  else body = escapeHtml(code);
  const label = escapeHtml(lang || "text");
  return (
    `<div class="code-block"><div class="code-head"><span class="code-lang">${label}</span>` +
    `<button type="button" class="copy-code" data-copy="code" aria-label="Copy ${label} code">Copy</button></div>` +
    `<pre><code class="hljs${lang ? ` language-${label}` : ""}">${body}</code></pre></div>`
  );
};

const SAFE_URL = /^(https?:|mailto:|#)/i;

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    const href = node.getAttribute("href") || "";
    if (!SAFE_URL.test(href)) node.removeAttribute("href");
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});

const PURIFY = { ADD_ATTR: ["target", "data-s", "data-copy"], FORBID_TAGS: ["style", "form", "img"], FORBID_ATTR: ["style"] };

/** Sanitised HTML for `text` (markdown). */
export function renderMarkdown(text) {
  return DOMPurify.sanitize(md.render(text || ""), PURIFY);
}

/** Apply KaTeX's carried styles inside `root` (after the HTML is in the page). */
export function applyMathStyles(root) {
  for (const el of root.querySelectorAll("[data-s]")) {
    el.style.cssText = el.dataset.s;
    el.removeAttribute("data-s");
  }
}
