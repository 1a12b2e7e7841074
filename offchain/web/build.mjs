// Builds the wallet app: src/app.js (+ ethers from node_modules, reasons.json) -> dist/app.js,
// and copies index.html and style.css. Run from anywhere: `node offchain/web/build.mjs`.
// Everything is bundled locally; the page loads nothing from outside its own origin.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
mkdirSync(dist, { recursive: true });
await build({
  entryPoints: [join(here, "src", "app.js")],
  outfile: join(dist, "app.js"),
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022"],
  legalComments: "linked",
  logLevel: "warning",
});
for (const name of ["index.html", "style.css"]) copyFileSync(join(here, "src", name), join(dist, name));
