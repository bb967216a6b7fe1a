// orakgaraki web UI: one ES module, no build step. Views are rendered into
// <main id="view"> from the URL hash (#/record, #/r/<id>, #/mine, #/admin,
// #/signin). Every request goes to this service's own API with the bearer token
// kept in localStorage; live status and alerts arrive over EventSource.

const STEPS = ["PENDING", "UPLOADED", "QUEUED", "PROCESSING", "COMPLETED"];
const STEP_TEXT = {
  PENDING: "Waiting for the upload",
  UPLOADED: "Uploaded",
  QUEUED: "Queued for analysis",
  PROCESSING: "Analysing",
  COMPLETED: "Done",
};
const NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
const KEY_LOW = 36; // C2
const KEY_HIGH = 84; // C6

// ---------------------------------------------------------------- utilities

/** Creates an element: el("a", {href: "#"}, "text", child…). */
function el(tag, attrs = {}, ...children) {
  const svg = ["svg", "g", "rect", "line", "polyline", "circle", "text", "title", "path"].includes(tag);
  const node = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.setAttribute("class", v);
    else if (k === "text") node.textContent = v;
    else if (!svg && k in node && typeof v !== "string") node[k] = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

const $ = (sel, root = document) => root.querySelector(sel);

function toast(message, ms = 4000) {
  const t = $("#toast");
  t.textContent = message;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), ms);
}

function midiOf(hz) {
  return 69 + 12 * Math.log2(hz / 440);
}

function noteOf(midi) {
  const m = Math.round(midi);
  return NOTE_NAMES[((m % 12) + 12) % 12] + (Math.floor(m / 12) - 1);
}

function hzOf(midi) {
  return 440 * Math.pow(2, (midi - 69) / 12);
}

const fmt = (x, digits = 1) => (x === null || x === undefined || Number.isNaN(x) ? "—" : Number(x).toFixed(digits));

function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function when(iso) {
  try {
    return new Date(iso).toLocaleString();
  } catch {
    return iso;
  }
}

// ---------------------------------------------------------------- session

const session = {
  get token() {
    return localStorage.getItem("orak.token") || "";
  },
  set token(t) {
    if (t) localStorage.setItem("orak.token", t);
    else localStorage.removeItem("orak.token");
  },
  /** The token's claims (not verified here: the server does that). */
  get claims() {
    const t = this.token;
    if (!t) return null;
    try {
      const part = t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const json = decodeURIComponent(
        atob(part)
          .split("")
          .map((c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0"))
          .join(""),
      );
      const c = JSON.parse(json);
      if (c.exp && c.exp * 1000 < Date.now()) return null;
      return c;
    } catch {
      return null;
    }
  },
  get admin() {
    return this.claims?.role === "admin";
  },
};

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Calls the API; resolves with the JSON body (or null), rejects with ApiError. */
async function api(method, path, body) {
  const headers = {};
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let r;
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, "The service cannot be reached. Check your connection and try again.");
  }
  const text = await r.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!r.ok) {
    if (r.status === 401 && path !== "/api/dev/token" && path !== "/api/session/link") {
      session.token = "";
      location.hash = "#/signin";
    }
    const msg = data?.error?.message || `${r.status} ${r.statusText}`;
    throw new ApiError(r.status, msg);
  }
  return data;
}

/** A URL that opens `scope` ("status", "audio", "alerts") for a minute: bearer
 * tokens never go in URLs, so an EventSource or an <audio> element gets a ticket. */
async function ticketUrl(scope, recordId) {
  const body = recordId ? { scope, record_id: recordId } : { scope };
  return (await api("POST", "/api/tickets", body)).url;
}

/** Uploads handed from the record page to the status page: record id → {ticket, file}. */
const uploads = new Map();

// ---------------------------------------------------------------- routing

const views = { signin: signInView, record: recordView, r: resultView, mine: mineView, admin: adminView };
let cleanup = [];

function route() {
  for (const f of cleanup) f();
  cleanup = [];
  const [name, arg] = location.hash.replace(/^#\/?/, "").split("/");
  const signedIn = !!session.claims;
  $("#nav").hidden = !signedIn;
  $("#who").hidden = !signedIn;
  $("#nav-admin").hidden = !session.admin;
  if (signedIn) $("#who-name").textContent = `${session.claims.sub}${session.admin ? " (admin)" : ""}`;
  const wanted = signedIn ? name || "record" : "signin";
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.nav === (wanted === "r" ? "record" : wanted)) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const view = $("#view");
  view.replaceChildren();
  (views[wanted] || recordView)(view, arg);
}

// ---------------------------------------------------------------- sign in

async function signInView(view, code) {
  view.append(el("h1", {}, "Sign in"));
  let config = { dev_sign_in: false, sign_in_link: false };
  try {
    config = await api("GET", "/api/ui/config");
  } catch {
    /* the paste form still works */
  }
  const error = el("p", { class: "error", role: "alert" });
  // A name, then a user token from `path` (the one-time link, or sign-in by name).
  function nameForm(label, intro, path, extra) {
    const name = el("input", { type: "text", id: "signin-name", name: "user", autocomplete: "username", required: true, maxlength: 64 });
    return el(
      "form",
      {
        class: "card",
        "aria-label": label,
        onsubmit: async (e) => {
          e.preventDefault();
          error.textContent = "";
          try {
            const r = await api("POST", path, { ...extra, user: name.value.trim() });
            session.token = r.token;
            location.hash = "#/record";
            route();
          } catch (err) {
            error.textContent = err.message;
          }
        },
      },
      el("h2", {}, label),
      el("p", { class: "muted" }, intro),
      el("label", { for: "signin-name" }, "Your name"),
      name,
      el("p", {}, el("button", { type: "submit", id: "signin-submit" }, "Sign in")),
    );
  }
  if (code && config.sign_in_link) {
    view.append(nameForm("Sign in with this machine's link", "The link from the service's log works once. Pick the name your recordings are kept under.", "/api/session/link", { code }));
  } else if (config.dev_sign_in) {
    view.append(nameForm("Sign in as a name", "This service runs on one machine, where anyone on it may pick a name.", "/api/dev/token", {}));
  } else if (config.sign_in_link) {
    view.append(el("p", { class: "card muted", id: "signin-link-hint" }, "Open the sign-in link the service printed in its log when it started (it works once; each use prints the next one)."));
  }
  const token = el("textarea", { id: "signin-token", spellcheck: "false", autocomplete: "off" });
  view.append(
    el(
      "form",
      {
        class: "card",
        "aria-label": "Sign in with a token",
        onsubmit: (e) => {
          e.preventDefault();
          session.token = token.value.trim();
          if (!session.claims) {
            session.token = "";
            error.textContent = "That is not a valid, unexpired token.";
            return;
          }
          location.hash = "#/record";
          route();
        },
      },
      el("h2", {}, "Sign in with a token"),
      el("p", { class: "muted" }, "Paste a token from your administrator (or from `orakgaraki token --user NAME`)."),
      el("label", { for: "signin-token" }, "Token"),
      token,
      el("p", {}, el("button", { type: "submit", id: "signin-token-submit", class: $("#signin-name") ? "secondary" : "" }, "Use this token")),
    ),
    error,
  );
  $("#signin-name")?.focus();
}

// ---------------------------------------------------------------- record / upload

function recordView(view) {
  view.append(el("h1", {}, "Record or upload your voice"));
  let chosen = null; // a File
  const preview = el("audio", { controls: true, hidden: true, "aria-label": "Preview of your recording" });
  const chosenText = el("p", { class: "muted", id: "chosen" }, "Nothing chosen yet.");
  const uploadBtn = el("button", { type: "button", id: "upload", disabled: true }, "Upload and analyse");
  const error = el("p", { class: "error", role: "alert", id: "upload-error" });

  function choose(file) {
    chosen = file;
    chosenText.textContent = `${file.name} — ${bytes(file.size)}`;
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
    uploadBtn.disabled = false;
    error.textContent = "";
  }

  // Microphone (MediaRecorder: WebM/Opus where the browser has it; the server decodes it).
  const recBtn = el("button", { type: "button", id: "record-toggle" }, "Start recording");
  const recState = el("span", { class: "muted", id: "record-state" });
  let recorder = null;
  let timer = null;
  recBtn.addEventListener("click", async () => {
    if (recorder) {
      recorder.stop();
      return;
    }
    if (!navigator.mediaDevices?.getUserMedia || typeof MediaRecorder === "undefined") {
      error.textContent = "This browser cannot record. Choose a file instead.";
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (e) {
      error.textContent = "The microphone is not available (permission denied or no device). Choose a file instead.";
      return;
    }
    const type = ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/mp4"].find((t) => MediaRecorder.isTypeSupported(t)) || "";
    recorder = new MediaRecorder(stream, type ? { mimeType: type } : {});
    const chunks = [];
    const started = Date.now();
    recorder.ondataavailable = (e) => e.data.size && chunks.push(e.data);
    recorder.onstop = () => {
      clearInterval(timer);
      stream.getTracks().forEach((t) => t.stop());
      const mime = recorder.mimeType || type || "audio/webm";
      const ext = mime.includes("ogg") ? "ogg" : mime.includes("mp4") ? "m4a" : "webm";
      const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-");
      choose(new File(chunks, `recording-${stamp}.${ext}`, { type: mime.split(";")[0] }));
      recorder = null;
      recBtn.textContent = "Start recording";
      recState.replaceChildren(`Recorded ${((Date.now() - started) / 1000).toFixed(1)} s.`);
    };
    recorder.start(250);
    recBtn.textContent = "Stop recording";
    timer = setInterval(() => {
      recState.replaceChildren(el("span", { class: "rec-dot", "aria-hidden": "true" }), ` Recording… ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }, 250);
  });
  cleanup.push(() => {
    clearInterval(timer);
    if (recorder && recorder.state !== "inactive") recorder.stop();
  });

  const file = el("input", {
    type: "file",
    id: "file-input",
    accept: "audio/*,.wav,.flac,.mp3,.ogg,.oga,.opus,.m4a,.aac,.webm",
    onchange: (e) => e.target.files[0] && choose(e.target.files[0]),
  });

  async function upload() {
    if (!chosen) return;
    uploadBtn.disabled = true;
    error.textContent = "";
    try {
      const ticket = await api("POST", "/api/records/presigned-url", {
        filename: chosen.name,
        size: chosen.size,
        content_type: chosen.type || "application/octet-stream",
      });
      // The status page sends the bytes, so every step shows there as it happens.
      uploads.set(ticket.record_id, { ticket, file: chosen });
      location.hash = `#/r/${ticket.record_id}`;
    } catch (e) {
      error.textContent = `The upload could not start: ${e.message}`;
      uploadBtn.disabled = false;
    }
  }
  uploadBtn.addEventListener("click", upload);

  view.append(
    el(
      "div",
      { class: "grid two" },
      el(
        "section",
        { class: "card", "aria-labelledby": "mic-h" },
        el("h2", { id: "mic-h" }, "Record from the microphone"),
        el("p", { class: "muted" }, "Sing a scale from your lowest to your highest comfortable note, or a song you like. 20–60 seconds is plenty."),
        el("div", { class: "row" }, recBtn, recState),
      ),
      el(
        "section",
        { class: "card", "aria-labelledby": "file-h" },
        el("h2", { id: "file-h" }, "Or choose a file"),
        el("label", { for: "file-input" }, "Audio file (WAV, FLAC, MP3, Ogg, Opus, M4A, WebM)"),
        file,
      ),
    ),
    el(
      "section",
      { class: "card", "aria-labelledby": "up-h" },
      el("h2", { id: "up-h" }, "Upload"),
      chosenText,
      preview,
      el("p", { class: "row" }, uploadBtn),
      error,
    ),
  );
}

/** The upload of a file handed over by the record page: a progress bar in bytes,
 *  and on failure the reason and a retry (the same signed URL while it is valid). */
function uploadPanel(id) {
  const job = uploads.get(id);
  uploads.delete(id);
  if (!job) return { node: null, start: () => {} };
  const progress = el("progress", { id: "upload-progress", max: 100, value: 0, "aria-label": "Upload progress" });
  const text = el("p", { class: "muted", id: "upload-progress-text" }, `Uploading ${job.file.name}…`);
  const error = el("p", { class: "error", role: "alert", id: "upload-error" });
  const retry = el("button", { type: "button", class: "secondary", id: "upload-retry", hidden: true }, "Retry the upload");
  let done = false;
  async function send() {
    retry.hidden = true;
    error.textContent = "";
    if (Date.parse(job.ticket.expires_at) < Date.now() + 30_000) {
      error.textContent = "The upload link expired. Go back to Record and upload the file again.";
      return;
    }
    try {
      await put({ ...job.ticket, file: job.file }, (sent, total) => {
        progress.value = total ? (100 * sent) / total : 0;
        text.textContent = `${bytes(sent)} of ${bytes(total)} sent`;
      });
      done = true;
      text.textContent = `Uploaded ${bytes(job.file.size)}.`;
    } catch (e) {
      error.textContent = `The upload failed: ${e.message}. Nothing is lost: retry when you are ready.`;
      retry.hidden = false;
    }
  }
  retry.addEventListener("click", send);
  const leaving = (e) => {
    if (!done) e.preventDefault();
  };
  window.addEventListener("beforeunload", leaving);
  cleanup.push(() => window.removeEventListener("beforeunload", leaving));
  let started = false;
  const start = () => {
    if (!started) {
      started = true;
      send();
    }
  };
  return { node: el("div", { id: "upload-panel" }, progress, text, error, retry), start };
}

/** PUTs the file to the presigned URL, reporting bytes sent. */
function put(ticket, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(ticket.method || "PUT", ticket.upload_url);
    for (const [k, v] of Object.entries(ticket.headers || {})) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : ticket.file.size);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(ticket.file.size, ticket.file.size);
        resolve();
      } else {
        let msg = `${xhr.status} ${xhr.statusText}`;
        try {
          msg = JSON.parse(xhr.responseText).error.message || msg;
        } catch {
          /* not our JSON */
        }
        reject(new Error(msg));
      }
    };
    xhr.onerror = () => reject(new Error("the connection broke off"));
    xhr.ontimeout = () => reject(new Error("the upload timed out"));
    xhr.send(ticket.file);
  });
}

// ---------------------------------------------------------------- live status and result

async function resultView(view, id) {
  if (!id) return recordView(view);
  const title = el("h1", {}, "Your recording");
  const steps = el(
    "ol",
    { class: "steps", id: "steps", "aria-label": "Processing steps" },
    STEPS.map((s) => el("li", { "data-status": s }, el("span", {}, STEP_TEXT[s], el("span", { class: "note" })), el("span", { class: "when" }))),
  );
  const statusError = el("p", { class: "error", role: "alert", id: "status-error" });
  const result = el("div", { id: "result" });
  const upload = uploadPanel(id);
  view.append(title, el("section", { class: "card", "aria-labelledby": "st-h" }, el("h2", { id: "st-h" }, "Status"), upload.node, steps, statusError), result);
  // The bytes go once the stream is listening, so every step is seen as it happens
  // (or after a few seconds anyway, if the stream cannot connect).
  const fallback = setTimeout(upload.start, 5000);
  cleanup.push(() => clearTimeout(fallback));

  const seen = [];
  function mark(ev) {
    seen.push(ev);
    const idx = STEPS.indexOf(ev.status);
    const items = [...steps.children];
    if (idx >= 0) {
      items.forEach((li, i) => {
        li.classList.toggle("done", i < idx || (i === idx && ev.status === "COMPLETED"));
        li.classList.toggle("current", i === idx && ev.status !== "COMPLETED");
        li.classList.remove("failed");
      });
      const li = items[idx];
      li.classList.add("seen");
      li.querySelector(".when").textContent = new Date().toLocaleTimeString();
      if (ev.status === "PROCESSING" && ev.attempt > 1) li.querySelector(".note").textContent = `attempt ${ev.attempt}`;
    } else if (ev.status === "RETRYING") {
      const li = items[STEPS.indexOf("PROCESSING")];
      li.classList.remove("current");
      li.querySelector(".note").textContent = `Attempt ${ev.attempt} failed (${ev.error || "unknown error"}); trying again shortly.`;
    } else if (ev.status === "FAILED") {
      const li = items[STEPS.indexOf("PROCESSING")];
      li.classList.add("failed");
      li.classList.remove("current");
      statusError.textContent = `The analysis failed after ${ev.attempt} attempt(s): ${ev.error || "unknown error"}. An administrator can look at it; you can also upload the file again.`;
    }
    steps.dataset.seen = seen.map((e) => e.status).join(" ");
  }

  // A ticket opens the stream once: when the service refuses a reconnection
  // (its minute is up), a fresh ticket opens it again — a few times at most.
  let source = null;
  let finished = false;
  let reopened = 0;
  cleanup.push(() => source?.close());
  async function listen() {
    let url;
    try {
      url = await ticketUrl("status", id);
    } catch (e) {
      statusError.textContent = e.message;
      return;
    }
    if (!view.isConnected) return; // navigated away meanwhile
    source = new EventSource(url);
    source.addEventListener("status", (e) => {
      const ev = JSON.parse(e.data);
      mark(ev);
      upload.start();
      if (ev.status === "COMPLETED" || ev.status === "FAILED") {
        finished = true;
        source.close();
        if (ev.status === "COMPLETED") loadResult(id, result, title);
      }
    });
    source.onerror = () => {
      if (finished) return;
      if (source.readyState === EventSource.CLOSED) {
        if (reopened++ < 5) return void listen();
        // Refused again and again (not found, signed out): say so instead of retrying forever.
        api("GET", `/api/records/${encodeURIComponent(id)}`).then(
          () => (statusError.textContent = "The live status stream closed; reload to reconnect."),
          (e) => (statusError.textContent = e.message),
        );
      } else {
        statusError.textContent = "Connection lost; reconnecting…";
        setTimeout(() => statusError.textContent === "Connection lost; reconnecting…" && (statusError.textContent = ""), 4000);
      }
    };
  }
  await listen();
}

async function loadResult(id, root, title) {
  let rec;
  try {
    rec = await api("GET", `/api/records/${encodeURIComponent(id)}`);
  } catch (e) {
    root.append(el("p", { class: "error", role: "alert" }, e.message));
    return;
  }
  title.textContent = rec.filename;
  const a = rec.analysis || {};
  const p = a.pitch || {};
  root.append(
    el(
      "section",
      { class: "card", "aria-labelledby": "range-h", id: "range" },
      el("h2", { id: "range-h" }, "Your vocal range"),
      el(
        "div",
        { class: "stats" },
        stat("Range", p.low_note && p.high_note ? `${p.low_note} – ${p.high_note}` : "—", p.low_hz ? `${fmt(p.low_hz)} – ${fmt(p.high_hz)} Hz` : "no voiced notes found"),
        stat("Comfortable range", p.comfort_low_note ? `${p.comfort_low_note} – ${p.comfort_high_note}` : "—", p.comfort_low_hz ? `${fmt(p.comfort_low_hz)} – ${fmt(p.comfort_high_hz)} Hz` : ""),
        stat("Middle of your voice", p.median_note || "—", p.median_hz ? `${fmt(p.median_hz)} Hz` : ""),
        stat(
          "Singing used",
          p.singing_seconds !== undefined ? `${fmt(p.singing_seconds, 1)} s` : "—",
          p.usable_fraction !== undefined ? `${Math.round(100 * p.usable_fraction)}% of the recording; backing track and stray notes left out` : "",
        ),
      ),
      p.range_warning ? el("p", { class: "warning", role: "note", id: "range-warning" }, p.range_warning) : null,
      keyboard(p),
    ),
    el(
      "div",
      { class: "grid two" },
      el("section", { class: "card", "aria-labelledby": "contour-h" }, el("h2", { id: "contour-h" }, "Pitch over time"), contour(a.pitch_contour, p)),
      el(
        "section",
        { class: "card", "aria-labelledby": "level-h" },
        el("h2", { id: "level-h" }, "Loudness and tempo"),
        el(
          "div",
          { class: "stats" },
          stat("Loudness", a.loudness_lufs != null ? `${fmt(a.loudness_lufs)} LUFS` : "—", "EBU R128, integrated"),
          stat("Tempo", a.tempo_bpm != null ? `${fmt(a.tempo_bpm, 0)} BPM` : "—", `${a.beat_count ?? 0} beats`),
          stat("Peak", a.peak_dbfs != null ? `${fmt(a.peak_dbfs)} dBFS` : "—", "highest sample"),
          stat("Length", `${fmt(a.duration_s)} s`, `${a.sample_rate} Hz, ${a.channels} ch, ${a.format || ""}`),
        ),
        loudnessMeter(a.loudness_lufs),
      ),
    ),
    el("section", { class: "card", "aria-labelledby": "timbre-h" }, el("h2", { id: "timbre-h" }, "Timbre"), el("p", { class: "muted" }, "Mel-frequency cepstral coefficients: the shape of your voice's spectrum (mean ± deviation; hover for values). Coefficient 1 is brightness-like; the rest describe the finer colour."), timbre(a.mfcc)),
  );
  const songs = el("section", { class: "card", "aria-labelledby": "songs-h", id: "songs" }, el("h2", { id: "songs-h" }, "Songs that fit your voice"));
  const voices = el("section", { class: "card", "aria-labelledby": "voices-h", id: "voices" }, el("h2", { id: "voices-h" }, "Voices like yours"));
  root.append(el("div", { class: "grid two" }, songs, voices));
  loadSongs(id, songs);
  loadVoices(id, voices);
}

function stat(label, value, small) {
  return el("div", { class: "stat" }, el("small", {}, label), el("b", {}, value), small ? el("small", {}, small) : null);
}

/** The piano keyboard C2–C6 with the range and the comfortable range marked. */
function keyboard(p) {
  const low = p.low_hz ? midiOf(p.low_hz) : null;
  const high = p.high_hz ? midiOf(p.high_hz) : null;
  const cLow = p.comfort_low_hz ? midiOf(p.comfort_low_hz) : null;
  const cHigh = p.comfort_high_hz ? midiOf(p.comfort_high_hz) : null;
  const median = p.median_hz ? Math.round(midiOf(p.median_hz)) : null;
  const isBlack = (m) => [1, 3, 6, 8, 10].includes(((m % 12) + 12) % 12);
  const whites = [];
  for (let m = KEY_LOW; m <= KEY_HIGH; m++) if (!isBlack(m)) whites.push(m);
  const W = 22;
  const H = 110;
  const svg = el("svg", { class: "chart", id: "keyboard", viewBox: `0 0 ${whites.length * W} ${H + 18}`, role: "img", "aria-label": `Piano keyboard from C2 to C6; your range ${p.low_note || "?"} to ${p.high_note || "?"}, comfortable ${p.comfort_low_note || "?"} to ${p.comfort_high_note || "?"}` });
  const keyClass = (m, base) => {
    let c = base;
    if (low !== null && m >= Math.round(low) && m <= Math.round(high)) c += " in-range";
    if (cLow !== null && m >= Math.round(cLow) && m <= Math.round(cHigh)) c += " comfort";
    return c;
  };
  const title = (m) => el("title", {}, `${noteOf(m)} — ${fmt(hzOf(m))} Hz${m === median ? " (middle of your voice)" : ""}`);
  whites.forEach((m, i) => {
    svg.append(el("rect", { x: i * W, y: 0, width: W, height: H, rx: 3, class: keyClass(m, "key key-white"), "data-note": noteOf(m) }, title(m)));
  });
  whites.forEach((m, i) => {
    if (m < KEY_HIGH && isBlack(m + 1)) {
      svg.append(el("rect", { x: i * W + W * 0.65, y: 0, width: W * 0.7, height: H * 0.62, rx: 2, class: keyClass(m + 1, "key key-black"), "data-note": noteOf(m + 1) }, title(m + 1)));
    }
  });
  const xOf = (m) => {
    const i = whites.indexOf(isBlack(m) ? m - 1 : m);
    return i * W + (isBlack(m) ? W : W / 2);
  };
  whites.forEach((m, i) => {
    if (m % 12 === 0) svg.append(el("text", { x: i * W + W / 2, y: H - 6, "text-anchor": "middle", class: "key-label" }, noteOf(m)));
  });
  for (const [m, label] of [
    [low, p.low_note],
    [high, p.high_note],
  ]) {
    if (m !== null && label) svg.append(el("text", { x: xOf(Math.round(m)), y: H + 14, "text-anchor": "middle", class: "range-label" }, label));
  }
  if (median !== null && median >= KEY_LOW && median <= KEY_HIGH) {
    svg.append(el("circle", { cx: xOf(median), cy: isBlack(median) ? H * 0.5 : H - 22, r: 5, class: "key-marker" }, title(median)));
  }
  const legend = el("p", { class: "muted" }, "Light: your whole range (5th–95th percentile of the notes you sang). Dark: your comfortable range (the middle half). Dot: the middle of your voice.");
  return el("div", {}, svg, legend);
}

/** F0 over time as a line on a note scale, broken where unvoiced; hover for values. */
function contour(c, p) {
  const hz = c?.hz || [];
  const step = c?.step_s || 0;
  const pts = [];
  hz.forEach((f, i) => f && pts.push([i * step, midiOf(f), f]));
  if (!pts.length) return el("p", { class: "muted", id: "contour-empty" }, "No sung or spoken notes were found in this recording.");
  const W = 600;
  const H = 240;
  const L = 40;
  const B = 20;
  let lo = Math.floor(Math.min(...pts.map((q) => q[1]))) - 2;
  let hi = Math.ceil(Math.max(...pts.map((q) => q[1]))) + 2;
  if (hi - lo < 12) {
    const mid = (hi + lo) / 2;
    lo = Math.floor(mid - 6);
    hi = Math.ceil(mid + 6);
  }
  const duration = Math.max(hz.length * step, step);
  const x = (t) => L + ((W - L - 8) * t) / duration;
  const y = (m) => 8 + ((H - B - 8) * (hi - m)) / (hi - lo);
  const svg = el("svg", { class: "chart", id: "pitch-plot", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `Pitch over ${fmt(duration)} seconds, between ${noteOf(lo + 2)} and ${noteOf(hi - 2)}` });
  for (let m = Math.ceil(lo); m <= hi; m++) {
    if (m % 12 === 0 || m % 12 === 7) {
      svg.append(el("line", { x1: L, x2: W - 8, y1: y(m), y2: y(m), class: "grid-line" }), el("text", { x: 2, y: y(m) + 4 }, noteOf(m)));
    }
  }
  for (let t = 0; t <= duration; t += duration > 60 ? 10 : duration > 20 ? 5 : 1) {
    svg.append(el("text", { x: x(t), y: H - 4, "text-anchor": "middle" }, `${t}s`));
  }
  // Runs of voiced frames become one polyline each.
  let run = [];
  const flush = () => {
    if (run.length) svg.append(el("polyline", { class: "contour", points: run.map(([t, m]) => `${x(t).toFixed(1)},${y(m).toFixed(1)}`).join(" ") }));
    run = [];
  };
  hz.forEach((f, i) => (f ? run.push([i * step, midiOf(f)]) : flush()));
  flush();
  const tip = el("div", { class: "tooltip", hidden: true, role: "tooltip" });
  svg.addEventListener("mousemove", (e) => {
    const r = svg.getBoundingClientRect();
    const t = (((e.clientX - r.left) / r.width) * W - L) / ((W - L - 8) / duration);
    let best = null;
    for (const q of pts) if (!best || Math.abs(q[0] - t) < Math.abs(best[0] - t)) best = q;
    if (!best || Math.abs(best[0] - t) > 0.5) {
      tip.hidden = true;
      return;
    }
    tip.textContent = `${fmt(best[0], 2)} s: ${noteOf(best[1])} (${fmt(best[2])} Hz)`;
    tip.style.left = `${e.clientX + 12}px`;
    tip.style.top = `${e.clientY + 12}px`;
    tip.hidden = false;
  });
  svg.addEventListener("mouseleave", () => (tip.hidden = true));
  return el("div", {}, svg, tip, el("p", { class: "muted" }, p.median_note ? `Lines at every C and G. The middle of your voice is ${p.median_note}.` : ""));
}

function loudnessMeter(lufs) {
  if (lufs === null || lufs === undefined) return el("p", { class: "muted" }, "Too short or too quiet for an integrated loudness.");
  const pos = Math.min(100, Math.max(0, ((lufs + 50) / 50) * 100));
  const needle = el("div", { class: "needle" });
  needle.style.left = `calc(${pos}% - 2px)`;
  return el(
    "div",
    { title: `${fmt(lufs)} LUFS` },
    el("p", { class: "muted" }, "−50 LUFS (very quiet) to 0 (full scale); streaming services aim at about −14."),
    el("div", { class: "meter", role: "meter", "aria-valuemin": -50, "aria-valuemax": 0, "aria-valuenow": fmt(lufs), "aria-label": "Integrated loudness" }, needle),
  );
}

function timbre(m) {
  const mean = m?.mean || [];
  const std = m?.std || [];
  if (!mean.length) return el("p", { class: "muted" }, "No timbre measurements.");
  const n = Math.min(13, mean.length) - 1; // coefficients 1..12 (0 is overall level)
  const vals = [];
  for (let i = 1; i <= n; i++) vals.push([i, mean[i], std[i] || 0]);
  const ext = Math.max(...vals.map(([, v, s]) => Math.abs(v) + s), 1);
  const W = 600;
  const H = 200;
  const mid = H / 2;
  const bw = (W - 40) / vals.length;
  const y = (v) => mid - (v / ext) * (mid - 16);
  const svg = el("svg", { class: "chart", id: "timbre-chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "MFCC means and deviations, coefficients 1 to 12" });
  svg.append(el("line", { x1: 30, x2: W, y1: mid, y2: mid, class: "grid-line" }));
  vals.forEach(([i, v, s], k) => {
    const x0 = 34 + k * bw;
    const top = Math.min(y(v), mid);
    const label = `MFCC ${i}: mean ${fmt(v, 2)}, deviation ${fmt(s, 2)}`;
    svg.append(
      el("rect", { x: x0 + bw * 0.2, y: top, width: bw * 0.6, height: Math.max(1, Math.abs(y(v) - mid)), class: "bar" }, el("title", {}, label)),
      el("line", { x1: x0 + bw / 2, x2: x0 + bw / 2, y1: y(v - s), y2: y(v + s), class: "whisker" }),
      el("text", { x: x0 + bw / 2, y: H - 2, "text-anchor": "middle" }, String(i)),
      el("rect", { x: x0, y: 0, width: bw, height: H, class: "hit" }, el("title", {}, label)),
    );
  });
  return svg;
}

async function loadSongs(id, root) {
  const list = el("ul", { class: "list", id: "song-list", "aria-label": "Recommended songs" });
  const note = el("p", { class: "muted" }, "Ranked by how well your range covers each song's, and how close its singer's timbre is to yours.");
  root.append(note, list);
  async function refresh() {
    let r;
    try {
      r = await api("POST", "/api/recommendations/songs", { record_id: id, top_n: 10 });
    } catch (e) {
      list.replaceChildren(el("li", { class: "error" }, e.message));
      return;
    }
    if (!r.items.length) {
      list.replaceChildren(el("li", { class: "muted" }, "The song catalog is empty."));
      return;
    }
    list.replaceChildren(
      ...r.items.map((s) => {
        const rs = s.reasons || {};
        const why = [];
        if (rs.range_fit != null) why.push(`range fit ${Math.round(100 * rs.range_fit)}%`);
        if (rs.semitones_above > 0.5) why.push(`${fmt(rs.semitones_above)} semitones above your range`);
        if (rs.semitones_below > 0.5) why.push(`${fmt(rs.semitones_below)} semitones below your range`);
        if (rs.timbre_similarity != null) why.push(`timbre ${Math.round(100 * rs.timbre_similarity)}%`);
        return el(
          "li",
          { "data-song-id": s.song_id },
          el("span", { class: "score", title: "Overall fit" }, `${Math.round(100 * s.score)}%`),
          el("span", { class: "grow" }, el("b", { class: "song-name" }, s.song_name), " — ", s.artist_name, el("br"), el("small", { class: "muted" }, why.join(" · "))),
          el(
            "button",
            {
              type: "button",
              class: "secondary dislike",
              "aria-label": `Dislike ${s.song_name} by ${s.artist_name}`,
              onclick: async (e) => {
                e.target.disabled = true;
                try {
                  await api("POST", "/api/recommendations/dislikes", { song_id: s.song_id });
                  toast(`“${s.song_name}” will not be recommended to you again.`);
                  await refresh();
                } catch (err) {
                  e.target.disabled = false;
                  toast(err.message);
                }
              },
            },
            "Not for me",
          ),
        );
      }),
    );
  }
  await refresh();
}

async function loadVoices(id, root) {
  const list = el("ul", { class: "list", id: "voice-list", "aria-label": "Similar voices" });
  root.append(el("p", { class: "muted" }, "The recordings whose voice embeddings are closest to this one, among yours and other people's public ones."), list);
  let r;
  try {
    r = await api("GET", `/api/records/${encodeURIComponent(id)}/similar?k=10`);
  } catch (e) {
    list.replaceChildren(el("li", { class: e.status === 409 ? "muted" : "error" }, e.status === 409 ? "This recording has no voice embedding (no voice was found in it)." : e.message));
    return;
  }
  if (!r.items.length) {
    list.replaceChildren(el("li", { class: "muted" }, "No other voices to compare with yet. Public recordings from other people appear here."));
    return;
  }
  list.replaceChildren(
    ...r.items.map((v) => {
      const s = v.analysis_summary || {};
      const mine = v.mine;
      const who = mine ? "You" : v.display_name || v.owner || "Someone";
      const playable = mine || v.visibility === "public" || session.admin;
      return el(
        "li",
        { "data-record-id": v.record_id },
        el("span", { class: "score", title: "Similarity" }, `${Math.round(100 * v.score)}%`),
        el("span", { class: "grow" }, el("b", {}, who), ` — ${s.low_note || "?"}–${s.high_note || "?"}, ${fmt(s.duration_s)} s `, el("span", { class: "badge" }, v.visibility)),
        playable ? player(v.record_id, `Play ${mine ? "your" : who === "Someone" ? "this" : who + "'s"} recording`) : null,
      );
    }),
  );
}

/** An <audio> player that asks for its one-record ticket when played. */
function player(recordId, label) {
  const audio = el("audio", { controls: true, preload: "none", "aria-label": label });
  let ready = false;
  audio.addEventListener("play", async () => {
    if (ready) return;
    audio.pause();
    try {
      audio.src = await ticketUrl("audio", recordId);
      ready = true;
      await audio.play();
    } catch (e) {
      toast(e.message);
    }
  });
  return audio;
}

/** "Your data": download everything kept about you, or erase it all and leave. */
function yourData() {
  const me = session.claims?.sub || "";
  const status = el("p", { class: "muted", role: "status", id: "data-status" });
  const download = el("button", { type: "button", class: "secondary", id: "export-data" }, "Download my data");
  download.addEventListener("click", async () => {
    const r = await fetch("/api/me/export", { headers: { Authorization: `Bearer ${session.token}` } });
    if (!r.ok) return (status.textContent = `The export failed (${r.status}).`);
    const a = el("a", { href: URL.createObjectURL(await r.blob()), download: "orakgaraki-export.json" });
    document.body.append(a);
    a.click();
    a.remove();
    status.textContent = "Downloaded: every recording's analysis and voiceprint, and your song choices.";
  });
  const confirmName = el("input", { type: "text", id: "erase-confirm", autocomplete: "off" });
  const erase = el("button", { type: "button", class: "danger", id: "erase-all" }, "Delete everything");
  erase.addEventListener("click", async () => {
    if (confirmName.value.trim() !== me) return (status.textContent = `Type your user name (${me}) first.`);
    try {
      const r = await api("DELETE", `/api/me?confirm=${encodeURIComponent(me)}`);
      session.token = "";
      toast(`Erased: ${r.records} recording(s) and everything else kept about you.`);
      location.hash = "#/signin";
      route();
    } catch (e) {
      status.textContent = e.message;
    }
  });
  return el(
    "section",
    { class: "card", "aria-labelledby": "data-h" },
    el("h2", { id: "data-h" }, "Your data"),
    el("p", {}, download, " every recording's analysis and voiceprint and the songs you turned down, as one file."),
    el("p", {}, "Deleting everything erases your recordings, their audio and voiceprints, and everything else kept about you. It cannot be undone."),
    el("label", { for: "erase-confirm" }, `Type your user name (${me}) to confirm`),
    confirmName,
    el("p", {}, erase),
    status,
  );
}

/** Asks the owner, before a recording goes public, under which name; says exactly
 * what others will see and hear. Resolves with the name ("" for none), or null. */
function askPublic(rec) {
  return new Promise((resolve) => {
    const name = el("input", { type: "text", id: "public-name", maxlength: 64, value: rec.display_name || "" });
    const dialog = el(
      "dialog",
      { id: "public-dialog", "aria-labelledby": "public-h" },
      el("h2", { id: "public-h" }, `Make “${rec.filename}” public?`),
      el("p", {}, "Other people's voice search can then find it. They will hear the recording itself, and see its similarity to their voice, its range (lowest, highest and middle note), its length, loudness and tempo, and the name below."),
      el("p", {}, "They never see your user name, the file's name or your voiceprint (the embedding). You can make it private again at any time."),
      el("label", { for: "public-name" }, "Shown as (optional)"),
      name,
      el(
        "p",
        { class: "row" },
        el("button", { type: "button", id: "public-confirm", onclick: () => { dialog.close(); dialog.remove(); resolve(name.value.trim()); } }, "Make public"),
        el("button", { type: "button", class: "secondary", onclick: () => { dialog.close(); dialog.remove(); resolve(null); } }, "Cancel"),
      ),
    );
    dialog.addEventListener("cancel", () => { dialog.remove(); resolve(null); });
    document.body.append(dialog);
    dialog.showModal();
    name.focus();
  });
}

// ---------------------------------------------------------------- my recordings

function mineView(view) {
  view.append(el("h1", {}, "My recordings"));
  const body = el("tbody");
  const more = el("button", { type: "button", class: "secondary", hidden: true }, "Show more");
  const error = el("p", { class: "error", role: "alert" });
  view.append(
    el(
      "section",
      { class: "card" },
      el("div", { class: "table-wrap" }, el("table", { id: "my-records" }, el("thead", {}, el("tr", {}, el("th", {}, "Recording"), el("th", {}, "Status"), el("th", {}, "Range"), el("th", {}, "Public"), el("th", {}, el("span", { class: "muted" }, "Actions")))), body)),
      more,
      error,
    ),
    yourData(),
  );
  let cursor = null;
  async function page() {
    let r;
    try {
      r = await api("GET", `/api/records?limit=25${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    } catch (e) {
      error.textContent = e.message;
      return;
    }
    if (!r.items.length && !cursor) body.append(el("tr", {}, el("td", { colspan: 5, class: "muted" }, "Nothing yet. ", el("a", { href: "#/record" }, "Record or upload your voice."))));
    for (const rec of r.items) body.append(row(rec));
    cursor = r.next_cursor;
    more.hidden = !cursor;
  }
  function row(rec) {
    const p = rec.analysis?.pitch || {};
    const pub = el("input", {
      type: "checkbox",
      checked: rec.visibility === "public",
      "aria-label": `Make ${rec.filename} public`,
      onchange: async (e) => {
        const box = e.target;
        try {
          let change = { visibility: "private" };
          if (box.checked) {
            const shownAs = await askPublic(rec);
            if (shownAs === null) {
              box.checked = false;
              return;
            }
            change = { visibility: "public", display_name: shownAs };
            rec.display_name = shownAs || null;
          }
          await api("PATCH", `/api/records/${rec.id}`, change);
          toast(box.checked ? `Public${rec.display_name ? ` as “${rec.display_name}”` : " without a name"}: others can find this voice and play it.` : "Private again.");
        } catch (err) {
          box.checked = !box.checked;
          toast(err.message);
        }
      },
    });
    const tr = el(
      "tr",
      { "data-record-id": rec.id },
      el("td", {}, el("a", { href: `#/r/${rec.id}` }, rec.filename), el("br"), el("small", { class: "muted" }, when(rec.created_at), " · ", bytes(rec.size || 0))),
      el("td", {}, el("span", { class: `badge ${rec.status}` }, rec.status), rec.error ? el("small", { class: "error" }, el("br"), rec.error) : null),
      el("td", {}, p.low_note ? `${p.low_note}–${p.high_note}` : "—"),
      el("td", {}, pub),
      el(
        "td",
        {},
        el(
          "button",
          {
            type: "button",
            class: "danger",
            "aria-label": `Delete ${rec.filename}`,
            onclick: async () => {
              if (!confirm(`Delete “${rec.filename}” and its audio? This cannot be undone.`)) return;
              try {
                await api("DELETE", `/api/records/${rec.id}`);
                tr.remove();
                toast("Deleted.");
              } catch (err) {
                toast(err.message);
              }
            },
          },
          "Delete",
        ),
      ),
    );
    return tr;
  }
  more.addEventListener("click", page);
  page();
}

// ---------------------------------------------------------------- admin

async function adminView(view) {
  view.append(el("h1", {}, "Administration"));
  if (!session.admin) {
    view.append(el("p", { class: "error" }, "This page needs an administrator's token."));
    return;
  }
  const dl = el("tbody");
  const dlError = el("p", { class: "error", role: "alert" });
  const alerts = el("ul", { class: "list", id: "alert-list", "aria-label": "Alerts" }, el("li", { class: "muted" }, "No alerts yet."));
  view.append(
    el(
      "section",
      { class: "card", "aria-labelledby": "dl-h" },
      el("h2", { id: "dl-h" }, "Dead letters"),
      el("p", { class: "muted" }, "Recordings whose analysis failed every attempt. Requeue gives one a fresh set of attempts; discard deletes it (an audit row keeps a copy)."),
      el("div", { class: "table-wrap" }, el("table", { id: "dead-letters" }, el("thead", {}, el("tr", {}, el("th", {}, "Recording"), el("th", {}, "Owner"), el("th", {}, "Failed"), el("th", {}, "Error"), el("th", {}, el("span", { class: "muted" }, "Actions")))), dl)),
      dlError,
    ),
    el("section", { class: "card", "aria-labelledby": "al-h" }, el("h2", { id: "al-h" }, "Alerts (live)"), alerts),
  );
  async function loadDeadLetters() {
    let r;
    try {
      r = await api("GET", "/api/admin/dead-letters?limit=50");
    } catch (e) {
      dlError.textContent = e.message;
      return;
    }
    dl.replaceChildren();
    if (!r.items.length) dl.append(el("tr", {}, el("td", { colspan: 5, class: "muted" }, "None. Every recording was analysed.")));
    for (const d of r.items) {
      const act = (label, cls, method, path, done) =>
        el(
          "button",
          {
            type: "button",
            class: cls,
            "aria-label": `${label} ${d.filename}`,
            onclick: async () => {
              try {
                await api(method, path);
                toast(done);
                loadDeadLetters();
              } catch (e) {
                toast(e.message);
              }
            },
          },
          label,
        );
      dl.append(
        el(
          "tr",
          { "data-record-id": d.record_id },
          el("td", {}, d.filename, el("br"), el("small", { class: "muted" }, d.record_id)),
          el("td", {}, d.owner),
          el("td", {}, when(d.failed_at), el("br"), el("small", { class: "muted" }, `${d.attempts} attempts`)),
          el("td", { class: "error" }, d.error || ""),
          el("td", {}, el("div", { class: "row" }, act("Requeue", "secondary", "POST", `/api/admin/dead-letters/${d.record_id}/requeue`, "Requeued."), act("Discard", "danger", "DELETE", `/api/admin/dead-letters/${d.record_id}`, "Discarded."))),
        ),
      );
    }
  }
  loadDeadLetters();
  const byId = new Map();
  let source;
  try {
    const url = await ticketUrl("alerts");
    if (!view.isConnected) return; // navigated away meanwhile
    source = new EventSource(url);
  } catch (e) {
    alerts.replaceChildren(el("li", { class: "error" }, e.message));
    return;
  }
  source.addEventListener("alert", (e) => {
    const a = JSON.parse(e.data);
    const li = el(
      "li",
      { "data-alert-id": a.id },
      el("span", { class: `badge ${a.status}` }, a.status),
      el("span", { class: "grow" }, el("b", {}, a.name), a.severity ? ` (${a.severity})` : "", el("br"), el("small", {}, a.annotations?.summary || ""), el("br"), el("small", { class: "muted" }, `since ${when(a.starts_at)}${a.ends_at ? `, ended ${when(a.ends_at)}` : ""}`)),
    );
    if (byId.has(a.id)) byId.get(a.id).replaceWith(li);
    else {
      if (!byId.size) alerts.replaceChildren();
      alerts.prepend(li);
    }
    byId.set(a.id, li);
  });
  cleanup.push(() => source.close());
}

// ---------------------------------------------------------------- start

window.addEventListener("hashchange", route);
document.addEventListener("DOMContentLoaded", () => {
  $("#sign-out").addEventListener("click", () => {
    session.token = "";
    location.hash = "#/signin";
    route();
  });
  route();
});
