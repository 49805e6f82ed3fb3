// Bundle the client: the app's script and stylesheet (with KaTeX's fonts beside them), and the
// mail-link pages' (links.js, links.css: web/static/links.html), into
// web/static/dist/, served by Flask under the strict CSP (no inline script or style).
import * as esbuild from "esbuild";
import { rmSync } from "node:fs";

const outdir = "web/static/dist";
rmSync(outdir, { recursive: true, force: true });
await esbuild.build({
  entryPoints: { app: "web/client/main.js", links: "web/client/links/main.js" },
  bundle: true,
  format: "iife",
  target: ["chrome109", "firefox115", "safari16"],
  minify: true,
  sourcemap: true,
  legalComments: "linked",
  outdir,
  loader: { ".woff2": "file", ".woff": "file", ".ttf": "file" },
  assetNames: "fonts/[name]-[hash]",
  logLevel: "warning",
});
console.log(`built ${outdir}`);
