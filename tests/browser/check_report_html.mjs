// check_report_html.mjs: opens a spanlab report.html in headless Chromium (Debian's
// /usr/bin/chromium driven by playwright-core; no browser is downloaded) and checks:
//   - the page loads offline: no request leaves the file itself, no console error, no page error;
//   - every chart with data is drawn: its canvas holds pixels of every series' colour, and the
//     number of placeholders ("no data: ...") is the one expected;
//   - every number shown with a data-path equals the figure at that path in its results file.
// usage: node check_report_html.mjs REPORT.html SCREENSHOT_DIR EXPECTED_EMPTY RESULTS.json...
//        (RESULTS files in the order given to `spanlab report`: path[0] of a data-path is its number)
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

// playwright-core is pinned in src/report/web/package.json and installed there by scripts/setup.sh.
const webDir = resolve(dirname(fileURLToPath(import.meta.url)), "../../src/report/web");
const { chromium } = createRequire(join(webDir, "package.json"))("playwright-core");

const [reportPath, screenshotDir, expectedEmptyText, ...resultsPaths] = process.argv.slice(2);
if (!reportPath || !screenshotDir || expectedEmptyText === undefined || resultsPaths.length === 0) {
  console.error("usage: node check_report_html.mjs REPORT.html SCREENSHOT_DIR EXPECTED_EMPTY RESULTS.json...");
  process.exit(2);
}
const expectedEmpty = Number(expectedEmptyText);
const results = resultsPaths.map((p) => JSON.parse(readFileSync(p, "utf8")));
const failures = [];
const fail = (message) => failures.push(message);

const userDataDir = mkdtempSync(join(tmpdir(), "spanlab-chromium-"));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.SPANLAB_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
  viewport: { width: 1400, height: 1000 },
});
const started = Date.now();
try {
  const page = context.pages()[0] || (await context.newPage());
  const url = pathToFileURL(resolve(reportPath)).href;
  page.on("console", (message) => { if (message.type() === "error") fail(`console error: ${message.text()}`); });
  page.on("pageerror", (error) => fail(`page error: ${error.message}`));
  await page.route("**/*", (route) => {
    if (route.request().url() === url) return route.continue();
    fail(`request beyond the file (the page must open offline): ${route.request().url()}`);
    return route.abort();
  });
  await page.goto(url, { waitUntil: "load" });
  await page.waitForFunction(() => document.body.hasAttribute("data-charts-drawn"), null, { timeout: 10000 });

  const charts = await page.$$eval("[data-chart]", (cards) => cards.map((card) => ({
    id: card.getAttribute("data-chart"),
    empty: card.getAttribute("data-empty") === "true",
    colors: JSON.parse(card.getAttribute("data-series-colors") || "[]"),
  })));
  const empty = charts.filter((c) => c.empty);
  const drawn = Number(await page.getAttribute("body", "data-charts-drawn"));
  if (drawn !== charts.length - empty.length) fail(`${drawn} charts drawn, ${charts.length - empty.length} have data`);
  if (empty.length !== expectedEmpty) {
    fail(`${empty.length} charts say "no data" (${empty.map((c) => c.id).join(", ")}), expected ${expectedEmpty}`);
  }

  // Pixels: each drawn chart's canvas must hold every series' colour (so the line or bar is there).
  for (const chart of charts.filter((c) => !c.empty)) {
    const counts = await page.$eval(`[data-chart="${chart.id}"] canvas`, (canvas, colors) => {
      const rgb = colors.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
      const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      const found = rgb.map(() => 0);
      let painted = 0;
      for (let i = 0; i < pixels.length; i += 4) {
        if (pixels[i + 3] === 0) continue;
        painted++;
        rgb.forEach((c, k) => {
          if (Math.abs(pixels[i] - c[0]) < 12 && Math.abs(pixels[i + 1] - c[1]) < 12 && Math.abs(pixels[i + 2] - c[2]) < 12) found[k]++;
        });
      }
      return { found, painted, width: canvas.width, height: canvas.height };
    }, chart.colors);
    if (counts.painted === 0) fail(`chart ${chart.id}: blank canvas`);
    counts.found.forEach((n, k) => { if (n < 3) fail(`chart ${chart.id}: series ${k} (${chart.colors[k]}) not drawn (${n} pixels)`); });
    const safe = chart.id.replace(/[^a-zA-Z0-9_.-]+/g, "_");
    await page.locator(`[data-chart="${chart.id}"]`).screenshot({ path: join(screenshotDir, `${safe}.png`) });
  }
  await page.screenshot({ path: join(screenshotDir, "page.png"), fullPage: true });

  // Numbers: what the page shows against the results files.
  const shown = await page.$$eval("[data-path]", (spans) => spans.map((s) => ({
    text: s.textContent, path: JSON.parse(s.getAttribute("data-path")), scale: Number(s.getAttribute("data-scale")),
    divideBy: s.getAttribute("data-divide-by"),
  })));
  let checked = 0;
  for (const item of shown) {
    const [run, ...steps] = item.path;
    let value = results[run - 1];
    let parent = null;
    for (const step of steps) { parent = value; value = value === undefined || value === null ? undefined : value[step]; }
    if (typeof value !== "number") { fail(`${JSON.stringify(item.path)}: no number in the results file`); continue; }
    if (item.divideBy) value /= parent[item.divideBy];
    const expected = value * item.scale;
    const got = Number(item.text);
    const tolerance = Math.max(Math.abs(expected) * 1e-5, 1e-12);
    if (!(Math.abs(got - expected) <= tolerance)) fail(`${JSON.stringify(item.path)}: page shows ${item.text}, the file says ${expected}`);
    checked++;
  }
  if (checked < 20) fail(`only ${checked} numbers carry their source; expected tables of figures`);
  console.log(`${reportPath}: ${charts.length} charts (${empty.length} without data), ${checked} numbers checked against ` +
              `${resultsPaths.length} results file(s) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
if (failures.length) {
  failures.slice(0, 40).forEach((f) => console.error(`FAIL: ${f}`));
  console.error(`${failures.length} problem(s)`);
  process.exit(1);
}
