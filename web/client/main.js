// Entry point (bundled by build.mjs into web/static/dist/app.js and app.css).
import "katex/dist/katex.min.css";
import "./styles/app.css";
import "uplot/dist/uPlot.min.css";
import "./styles/screens.css";
import { boot } from "./app.js";

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
else boot();
