// Drives the web UI in a real browser (Debian's Chromium through playwright-core):
// sign in, upload a reference recording and watch every status step, see the range
// on the keyboard and the pitch plot, get song recommendations and dislike one,
// voices like mine, my recordings (public toggle), a microphone recording
// (Chromium's fake device, WebM/Opus), a phone-sized screen, and the admin page
// with a live alert. Checks that no page logs a console error and that every
// control has an accessible name. Screenshots of each page go to the artifacts dir.
//
//   node tests/ui/flow.mjs   (tests/web_ui.rs runs it against a fresh service)
//
// Environment: ORAK_BASE (the service), ORAK_AUDIO (a WAV to upload),
// ORAK_WEBHOOK_SECRET (to post a test alert), ORAK_SIGNIN_LINK (the one-time
// sign-in link the service logged), ORAK_ADMIN_TOKEN (from `orakgaraki token
// --admin`, pasted on the admin's sign-in), TEST_UI_ARTIFACTS (screenshot dir),
// CHROMIUM (default /usr/bin/chromium).

import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const base = process.env.ORAK_BASE;
const audio = process.env.ORAK_AUDIO;
const secret = process.env.ORAK_WEBHOOK_SECRET;
const signInLink = process.env.ORAK_SIGNIN_LINK;
const adminTokenGiven = process.env.ORAK_ADMIN_TOKEN;
const out = process.env.TEST_UI_ARTIFACTS || "ui-artifacts";
if (!base || !audio || !secret || !signInLink || !adminTokenGiven) {
  console.error("ORAK_BASE, ORAK_AUDIO, ORAK_WEBHOOK_SECRET, ORAK_SIGNIN_LINK and ORAK_ADMIN_TOKEN must be set");
  process.exit(2);
}
mkdirSync(out, { recursive: true });

const results = [];
const problems = [];
// Set while a step drops a request on purpose (its console line is expected).
let droppingUploads = false;
async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push([name, true]);
    console.log(`ok - ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.push([name, false]);
    console.log(`not ok - ${name}: ${e.stack || e}`);
  }
}
function check(cond, message) {
  if (!cond) throw new Error(message);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"],
});

/** A page that records console errors, failed requests and uncaught exceptions. */
async function open(context, label) {
  const page = await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error" && !(droppingUploads && m.text().includes("ERR_CONNECTION_RESET"))) {
      problems.push(`${label}: console error: ${m.text()}`);
    }
  });
  page.on("pageerror", (e) => problems.push(`${label}: uncaught: ${e.message}`));
  page.on("requestfailed", (r) => {
    // An EventSource or a media request closed by navigation is not a failure.
    const f = r.failure()?.errorText || "";
    // Aborted by navigation, or the upload the retry step drops on purpose.
    if (!f.includes("ERR_ABORTED") && !(droppingUploads && f.includes("ERR_CONNECTION_RESET"))) {
      problems.push(`${label}: request failed: ${r.url()} ${f}`);
    }
  });
  return page;
}

/** Every control on the page has an accessible name. */
async function labelled(page, where) {
  const unnamed = await page.evaluate(() => {
    const name = (n) => {
      if (n.getAttribute("aria-label")) return n.getAttribute("aria-label");
      const by = n.getAttribute("aria-labelledby");
      if (by) return by.split(" ").map((id) => document.getElementById(id)?.textContent || "").join(" ");
      if (n.labels && n.labels.length) return [...n.labels].map((l) => l.textContent).join(" ");
      if (n.tagName === "BUTTON" || n.tagName === "A") return n.textContent;
      return n.getAttribute("title") || "";
    };
    return [...document.querySelectorAll("button, input, select, textarea, audio[controls], a[href], progress, [role=meter]")]
      .filter((n) => n.offsetParent !== null || n.tagName === "AUDIO")
      .filter((n) => !name(n).trim())
      .map((n) => n.outerHTML.slice(0, 120));
  });
  check(unnamed.length === 0, `${where}: controls without an accessible name: ${unnamed.join(" | ")}`);
}

async function noSideways(page, where) {
  const { sw, w } = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, w: window.innerWidth }));
  check(sw <= w + 1, `${where}: the page is ${sw}px wide on a ${w}px screen`);
}

/** Waits until the status steps have seen COMPLETED (or FAILED); returns what they saw. */
async function waitDone(page) {
  await page.waitForFunction(() => /COMPLETED|FAILED/.test(document.querySelector("#steps")?.dataset.seen || ""), null, { timeout: 180_000 });
  return page.$eval("#steps", (s) => s.dataset.seen.split(" "));
}

/** Waits (through the API) until a record reaches `status`. */
async function waitStatus(token, id, status) {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const r = await (await fetch(`${base}/api/records/${id}`, { headers: { Authorization: `Bearer ${token}` } })).json();
    if (r.status === status) return r;
    await new Promise((ok) => setTimeout(ok, 200));
  }
  throw new Error(`record ${id} never became ${status}`);
}

/** Uploads the reference recording as "doomed.wav" and waits for it to fail. */
async function deadLetter(token) {
  const bytes = readFileSync(audio);
  const auth = { Authorization: `Bearer ${token}` };
  const ticket = await (
    await fetch(`${base}/api/records/presigned-url`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/json" },
      body: JSON.stringify({ filename: "doomed.wav", size: bytes.length, content_type: "audio/wav" }),
    })
  ).json();
  const put = await fetch(ticket.upload_url, { method: "PUT", headers: ticket.headers, body: bytes });
  check(put.ok, `upload of the doomed recording (${put.status})`);
  await waitStatus(token, ticket.record_id, "FAILED");
  return ticket.record_id;
}

const desktop = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await open(desktop, "desktop");
let recordId = null;
let token = null;

await step("sign in with the one-time link", async () => {
  // Without the link the page offers only the token form and says where the link is.
  await page.goto(base + "/");
  await page.waitForSelector("#signin-link-hint");
  check(!(await page.isVisible("#signin-name")), "no sign-in by name without the link");
  await page.goto(signInLink);
  await page.waitForSelector("#signin-name");
  check(!(await page.isVisible("#nav")), "no navigation before signing in");
  await labelled(page, "sign-in");
  await page.screenshot({ path: join(out, "01-sign-in.png") });
  await page.fill("#signin-name", "playwright");
  await page.click("#signin-submit");
  await page.waitForSelector("#file-input", { state: "attached" });
  check((await page.textContent("#who-name")).includes("playwright"), "the header names the user");
  token = await page.evaluate(() => localStorage.getItem("orak.token"));
  check(token && token.split(".").length === 3, "a token is kept");
  check(JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).role !== "admin", "a user's token");
  await labelled(page, "record page");
  await page.screenshot({ path: join(out, "02-record.png") });
});

await step("upload a reference recording and see every status step", async () => {
  await page.setInputFiles("#file-input", audio);
  await page.waitForFunction(() => !document.querySelector("#upload").disabled);
  await page.click("#upload");
  await page.waitForURL(/#\/r\//);
  recordId = page.url().split("#/r/")[1];
  const seen = await waitDone(page);
  for (const s of ["PENDING", "UPLOADED", "QUEUED", "PROCESSING", "COMPLETED"]) check(seen.includes(s), `status ${s} was shown (saw ${seen.join(", ")})`);
  check(seen.indexOf("PENDING") < seen.indexOf("COMPLETED"), "in order");
  const progress = await page.$eval("#upload-progress", (p) => p.value);
  check(progress === 100, `upload progress reached 100% (${progress})`);
  check((await page.textContent("#upload-progress-text")).startsWith("Uploaded"), "upload finished text");
  check(!(await page.isVisible("#upload-retry")), "no retry button after a good upload");
  const done = await page.$$eval("#steps li.done", (l) => l.length);
  check(done === 5, `all five steps done (${done})`);
});

await step("the range on the keyboard and a non-empty pitch plot", async () => {
  await page.waitForSelector("#keyboard");
  const inRange = await page.$$eval("#keyboard rect.in-range", (r) => r.length);
  const comfort = await page.$$eval("#keyboard rect.comfort", (r) => r.length);
  check(inRange > 0 && comfort > 0 && comfort <= inRange, `keys marked: range ${inRange}, comfortable ${comfort}`);
  const api = await page.evaluate(async ([id, t]) => (await fetch(`/api/records/${id}`, { headers: { Authorization: `Bearer ${t}` } })).json(), [recordId, token]);
  const labels = await page.$$eval("#keyboard text.range-label", (t) => t.map((x) => x.textContent));
  check(labels.includes(api.analysis.pitch.low_note) && labels.includes(api.analysis.pitch.high_note), `range labels ${labels} match ${api.analysis.pitch.low_note}–${api.analysis.pitch.high_note}`);
  const points = await page.$$eval("#pitch-plot polyline", (ps) => ps.reduce((n, p) => n + p.getAttribute("points").split(" ").length, 0));
  check(points > 10, `pitch plot has ${points} points`);
  await page.hover("#keyboard rect.comfort");
  check((await page.$$eval("#keyboard rect.comfort title", (t) => t.length)) > 0, "keys have hover text");
  await page.waitForSelector("#timbre-chart rect.bar");
  // The README's picture: range, keyboard, pitch and loudness in one screen.
  await page.$eval("#range", (e) => e.scrollIntoView());
  await page.mouse.move(0, 0);
  await page.screenshot({ path: join(out, "00-result-screen.png") });
});

await step("songs that fit, and a dislike that removes one", async () => {
  await page.waitForSelector("#song-list li[data-song-id]", { timeout: 30_000 });
  const before = await page.$$eval("#song-list li[data-song-id]", (l) => l.map((x) => x.dataset.songId));
  check(before.length > 1, `${before.length} songs recommended`);
  await labelled(page, "result page");
  await page.screenshot({ path: join(out, "03-result.png"), fullPage: true });
  const first = before[0];
  await page.click(`#song-list li[data-song-id="${first}"] button.dislike`);
  await page.waitForFunction((id) => !document.querySelector(`#song-list li[data-song-id="${id}"]`), first);
  const after = await page.$$eval("#song-list li[data-song-id]", (l) => l.map((x) => x.dataset.songId));
  check(!after.includes(first) && after.length > 0, `song ${first} gone, ${after.length} left`);
  await page.screenshot({ path: join(out, "04-after-dislike.png"), fullPage: true });
});

await step("voices like mine", async () => {
  await page.waitForSelector("#voice-list li");
  const text = await page.textContent("#voice-list");
  check(text.trim().length > 0, "the voices section says something");
});

await step("my recordings: listed, and made public", async () => {
  await page.goto(base + "/#/mine");
  await page.waitForSelector(`#my-records tr[data-record-id="${recordId}"]`);
  const row = `#my-records tr[data-record-id="${recordId}"]`;
  check((await page.textContent(row)).includes("COMPLETED"), "status shown");
  await page.check(`${row} input[type=checkbox]`);
  // Before it goes public the owner reads what others will see, and picks a name.
  await page.waitForSelector("#public-dialog");
  const told = await page.textContent("#public-dialog");
  check(told.includes("never see your user name") && told.includes("hear the recording"), `the dialog says what others get: ${told}`);
  await labelled(page, "make-public dialog");
  await page.screenshot({ path: join(out, "05a-make-public.png") });
  await page.fill("#public-name", "Singer P");
  await page.click("#public-confirm");
  await page.waitForFunction(
    async ([id, t]) => {
      const r = await (await fetch(`/api/records/${id}`, { headers: { Authorization: `Bearer ${t}` } })).json();
      return r.visibility === "public" && r.display_name === "Singer P";
    },
    [recordId, token],
  );
  await labelled(page, "my recordings");
  await page.screenshot({ path: join(out, "05-my-recordings.png") });
});

await step("a failed upload says why, offers a retry, and the retry finishes it", async () => {
  await page.goto(base + "/#/record");
  // The network drops the first PUT (in the browser: the service never sees it).
  let dropped = 0;
  droppingUploads = true;
  await page.route("**/objects/audio/**", (route) => (dropped++ === 0 ? route.abort("connectionreset") : route.continue()));
  await page.setInputFiles("#file-input", audio);
  await page.click("#upload");
  await page.waitForSelector("#upload-retry:not([hidden])");
  const why = await page.textContent("#upload-error");
  check(/failed/.test(why) && /retry/i.test(why), `the error says what happened: ${why}`);
  check(await page.isVisible("#upload-retry"), "the retry button shows");
  await page.screenshot({ path: join(out, "05b-upload-failed.png") });
  await page.click("#upload-retry");
  const seen = await waitDone(page);
  check(seen.includes("COMPLETED"), `retried upload analysed: ${seen.join(", ")}`);
  check(!(await page.isVisible("#upload-retry")), "the retry button goes away");
  await page.unroute("**/objects/audio/**");
  droppingUploads = false;
});

await step("record from the microphone (WebM/Opus) and get it analysed", async () => {
  await page.goto(base + "/#/record");
  await page.click("#record-toggle");
  await page.waitForTimeout(3000);
  await page.click("#record-toggle");
  await page.waitForFunction(() => /recording-.*\.(webm|ogg|m4a)/.test(document.querySelector("#chosen").textContent));
  const name = await page.textContent("#chosen");
  await page.click("#upload");
  await page.waitForURL(/#\/r\//);
  const seen = await waitDone(page);
  check(seen.includes("COMPLETED"), `the microphone recording (${name}) was analysed: ${seen.join(", ")}`);
  await page.waitForSelector("#range");
});

await step("a phone-sized screen", async () => {
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  await phone.addInitScript((t) => localStorage.setItem("orak.token", t), token);
  const p = await open(phone, "phone");
  await p.goto(`${base}/#/r/${recordId}`);
  await p.waitForSelector("#keyboard");
  await p.waitForSelector("#song-list li[data-song-id]");
  await noSideways(p, "result on a phone");
  await p.screenshot({ path: join(out, "06-phone-result.png"), fullPage: true });
  await p.goto(`${base}/#/record`);
  await p.waitForSelector("#record-toggle");
  await noSideways(p, "record page on a phone");
  await p.screenshot({ path: join(out, "07-phone-record.png") });
  await phone.close();
});

await step("admin: dead letters and the live alert stream", async () => {
  const admin = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const p = await open(admin, "admin");
  // Admin tokens come only from `orakgaraki token --admin` on the machine: pasted.
  await p.goto(base + "/");
  await p.waitForSelector("#signin-token");
  await p.fill("#signin-token", adminTokenGiven);
  await p.click("#signin-token-submit");
  await p.waitForSelector("#nav-admin:not([hidden])");
  const adminToken = await p.evaluate(() => localStorage.getItem("orak.token"));
  // A recording that fails every attempt becomes a dead letter (the service runs
  // with a fault hook for files named "doomed…" and no retries).
  const doomed = await deadLetter(adminToken);
  await p.click("#nav-admin");
  const row = `#dead-letters tr[data-record-id="${doomed}"]`;
  await p.waitForSelector(row);
  check((await p.textContent(row)).includes("doomed.wav"), "the dead letter is listed with its file");
  await labelled(p, "admin");
  await p.screenshot({ path: join(out, "08-admin-dead-letter.png"), fullPage: true });
  // Requeue: a fresh attempt (recorded in the audit trail), which fails again here.
  await p.click(`${row} button:has-text("Requeue")`);
  await p.waitForFunction(() => document.querySelector("#toast").textContent.includes("Requeued"));
  const audit = await (await fetch(`${base}/api/admin/dead-letters/audit?record_id=${doomed}`, { headers: { Authorization: `Bearer ${adminToken}` } })).json();
  check(audit.items.some((a) => a.action === "requeue" && a.admin === "ops"), `the requeue is audited: ${JSON.stringify(audit)}`);
  const again = await waitStatus(adminToken, doomed, "FAILED");
  check(again.attempts >= 2, `it was attempted again (${again.attempts} attempts)`);
  await p.reload();
  await p.waitForSelector(row);
  // Discard: gone for good.
  await p.click(`${row} button:has-text("Discard")`);
  await p.waitForSelector(row, { state: "detached" });
  const gone = await fetch(`${base}/api/records/${doomed}`, { headers: { Authorization: `Bearer ${adminToken}` } });
  check(gone.status === 404, `a discarded dead letter is deleted (${gone.status})`);
  await p.waitForSelector("#alert-list");
  // Alertmanager's webhook, as Alertmanager would call it.
  const r = await fetch(`${base}/api/webhook/alertmanager`, {
    method: "POST",
    headers: { Authorization: `Bearer ${secret}`, "Content-Type": "application/json" },
    body: JSON.stringify({
      version: "4",
      status: "firing",
      alerts: [{ status: "firing", labels: { alertname: "UiTestAlert", severity: "warning" }, annotations: { summary: "shown live on the admin page" }, startsAt: new Date().toISOString(), fingerprint: "ui0000000000test" }],
    }),
  });
  check(r.status === 200, `the webhook took the alert (${r.status})`);
  await p.waitForFunction(() => document.querySelector("#alert-list").textContent.includes("UiTestAlert"), null, { timeout: 15_000 });
  await p.screenshot({ path: join(out, "09-admin-alert.png"), fullPage: true });
  await admin.close();
});

await step("my data: download it all, then delete everything", async () => {
  await page.goto(base + "/#/mine");
  await page.waitForSelector("#export-data");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export-data")]);
  const saved = join(out, "export.json");
  await download.saveAs(saved);
  const exported = JSON.parse(readFileSync(saved, "utf8"));
  check(exported.user === "playwright" && exported.records.some((r) => r.id === recordId), `the export holds the recording: ${exported.records.length} records`);
  await page.click("#erase-all");
  check((await page.textContent("#data-status")).includes("Type your user name"), "nothing is erased without the name");
  await labelled(page, "your data");
  await page.screenshot({ path: join(out, "10-your-data.png"), fullPage: true });
  await page.fill("#erase-confirm", "playwright");
  await page.click("#erase-all");
  await page.waitForSelector("#signin-token");
  const left = await (await fetch(`${base}/api/records`, { headers: { Authorization: `Bearer ${token}` } })).json();
  check(left.items.length === 0, `nothing of theirs is left: ${JSON.stringify(left.items.map((r) => r.id))}`);
});

await step("no console errors, failed requests or uncaught exceptions", async () => {
  check(problems.length === 0, problems.join("\n"));
});

await browser.close();
const failed = results.filter(([, ok]) => !ok).length;
console.log(`\nui flow: ${results.length} steps, ${results.length - failed} passed, ${failed} failed; screenshots in ${out}`);
process.exit(failed ? 1 : 0);
