// doser dashboard, an ES module (strict, scoped): hash routes, live status over WS /ws,
// commands over the same socket (HTTP while it is down), the rest over the HTTP API.
// Text from the API always goes into the DOM as text: el() never sets innerHTML.
// ---- DOM helpers
/** The element with this id, or else this data-testid (index.html names each once). */
const $ = (id) => document.getElementById(id) || document.querySelector(`[data-testid="${id}"]`);
const setText = (id, text) => { $(id).textContent = text; };
const SVG_NS = "http://www.w3.org/2000/svg";

/** An element: props (class, testid, on<event>, DOM properties, other attributes) and
    children (nodes or strings, strings become text nodes). */
function el(tag, props = {}, ...kids) {
  const node = document.createElement(tag);
  setProps(node, props);
  node.append(...kids.flat().filter((k) => k != null && k !== false));
  return node;
}

function setProps(node, props) {
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === "class") node.setAttribute("class", value);
    else if (key === "testid") node.dataset.testid = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node && !(node instanceof SVGElement)) node[key] = value;
    else node.setAttribute(key, value);
  }
}

function svg(tag, attrs = {}, ...kids) {
  const node = document.createElementNS(SVG_NS, tag);
  setProps(node, attrs);
  node.append(...kids.filter((k) => k != null));
  return node;
}

const fmt = (value, digits = 2) =>
  value == null || !Number.isFinite(Number(value)) ? "—" : Number(value).toFixed(digits);
const when = (iso) => (iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" }) : "—");
const enc = encodeURIComponent;
/** An input's number, NaN when empty (JSON sends it as null: the API names the field). */
const num = (input) => (input.value.trim() === "" ? NaN : Number(input.value));
const option = (value, text, selected) => el("option", { value, selected }, text);
const labelled = (text, control) => el("label", {}, text, " ", control);
const numberInput = (props) => el("input", { type: "number", step: "any", ...props });
/** A plain (not submitting) button running `handler` under guard(). */
const button = (text, handler, props = {}) =>
  el("button", { type: "button", class: "quiet", ...props, onclick: guard(handler) }, text);

// ---- messages
let messageTimer = 0;

function say(text, kind = "info") {
  const box = $("message");
  box.textContent = text;
  box.className = `message ${kind}`;
  box.dataset.kind = kind;
  clearTimeout(messageTimer);
  if (kind === "info") messageTimer = setTimeout(() => { box.textContent = ""; }, 6000);
}
const fail = (text) => say(text, "error");

/** An API error body ({code, message, rule?, field?}) as one line. */
function describe(error) {
  let text = error.message || error.code || "failed";
  if (error.rule) text += ` (rule: ${error.rule})`;
  if (error.reason && error.reason !== error.message) text += ` (${error.reason})`;
  return error.code ? `${text} [${error.code}]` : text;
}

/** Round trip of a command on the command-result element (tests read data-ms). */
function recordResult(action, ok, text, started) {
  const out = $("command-result");
  out.textContent = text;
  out.dataset.action = action;
  out.dataset.ok = String(ok);
  out.dataset.ms = String(Math.round(performance.now() - started));
}

class ApiError extends Error {
  constructor(status, error) {
    super(error.message || error.code);
    this.status = status;
    this.code = error.code;
  }
}

/** Run an async handler; API errors are already on screen, anything else goes there. */
const guard = (fn) => (...args) =>
  Promise.resolve().then(() => fn(...args)).catch((e) => {
    if (!(e instanceof ApiError)) fail(`Error: ${e.message}`);
  });

// ---- token
const TOKEN_KEY = "doser.token";
const REFUSED = "The token was refused — enter the token printed at the daemon's first start (var/http_token)";

function token() {
  try { return localStorage.getItem(TOKEN_KEY) || ""; } catch { return ""; }
}

function askToken(refused) {
  $("token-error").hidden = !refused;
  $("token-dialog").hidden = false;
  $("token-backdrop").hidden = false;
  $("token-input").value = "";
  $("token-input").focus();
}

function closeTokenDialog() {
  $("token-dialog").hidden = true;
  $("token-backdrop").hidden = true;
}

/** Check the typed token with the daemon (POST /api/auth/check changes nothing) and keep
    it only if accepted: an EMERGENCY STOP must never go out with a mistyped token. */
async function saveToken(event) {
  event.preventDefault();
  const value = $("token-input").value.trim();
  if (!value) return;
  let checked = true;
  try {
    const response = await fetch("/api/auth/check", {
      method: "POST", headers: { Authorization: `Bearer ${value}` },
    });
    if (response.status === 401) { tokenRefused(); return; }
  } catch { checked = false; } // daemon unreachable: keep it, it is judged at the first command
  try { localStorage.setItem(TOKEN_KEY, value); } catch { fail("This browser does not keep the token (storage blocked)"); }
  $("token-error").hidden = true;
  closeTokenDialog();
  say(checked ? "Token accepted" : "Token saved; the daemon could not check it (offline)");
}

function tokenRefused() {
  fail(REFUSED);
  askToken(true);
}

/** The token, or null after asking for it. */
function needToken() {
  const value = token();
  if (value) return value;
  fail("Enter the API token first");
  askToken(false);
  return null;
}

// ---- HTTP API
/** Call the API; mutating calls carry the token and record their round trip under
    `action`. Throws ApiError after showing it (401 reopens the token dialog). */
async function api(method, path, { body, action, quiet } = {}) {
  const mutating = method !== "GET";
  const headers = {};
  if (mutating) {
    const value = needToken();
    if (!value) throw new ApiError(0, { code: "no_token", message: "no token" });
    headers.Authorization = `Bearer ${value}`;
  }
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const label = action || `${method} ${path}`;
  const started = performance.now();
  let response;
  let data = null;
  try {
    response = await fetch(path, { method, headers, cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    data = text ? JSON.parse(text) : null;
  } catch (e) {
    return refuse(mutating, label, started, quiet, 0, { code: "network", message: `${method} ${path}: ${e.message}` });
  }
  if (!response.ok) {
    const error = (data && data.error) || { code: `http_${response.status}`, message: `${response.status} ${response.statusText}` };
    return refuse(mutating, label, started, quiet, response.status, error);
  }
  if (mutating) recordResult(label, true, "ok", started);
  return data;
}

/** A POST recording its round trip under `action`. */
const post = (path, action, body) => api("POST", path, { body, action });

function refuse(mutating, label, started, quiet, status, error) {
  if (mutating) recordResult(label, false, error.message || error.code, started);
  if (status === 401) tokenRefused();
  else if (!quiet) fail(describe(error));
  throw new ApiError(status, error);
}

// ---- WS /ws
const ws = { socket: null, delay: 500, nextId: 1, pending: new Map(), timer: 0, lastMessage: 0 };
const STALE_MS = 5000; // no status for this long (1 Hz when idle): the link is dead
const COMMAND_TIMEOUT_MS = 10000;

function connect() {
  clearTimeout(ws.timer);
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  let socket;
  try { socket = new WebSocket(`${scheme}${location.host}/ws`); } catch { reconnectLater(); return; }
  ws.socket = socket;
  socket.onopen = () => { ws.delay = 500; ws.lastMessage = Date.now(); setOnline(true); };
  socket.onmessage = (event) => { ws.lastMessage = Date.now(); onMessage(event.data); };
  socket.onclose = () => drop(socket);
}

function drop(socket) {
  if (ws.socket !== socket) return;
  ws.socket = null;
  setOnline(false);
  for (const id of [...ws.pending.keys()]) {
    settle(id, { ok: false, error: { code: "disconnected", message: "the connection dropped before the result came" } });
  }
  try { socket.close(); } catch { /* already closed */ }
  reconnectLater();
}

function reconnectLater() {
  clearTimeout(ws.timer);
  ws.timer = setTimeout(connect, ws.delay);
  ws.delay = Math.min(ws.delay * 2, 5000);
}

function watchLink() {
  const socket = ws.socket;
  if (socket && socket.readyState === WebSocket.OPEN && Date.now() - ws.lastMessage > STALE_MS) drop(socket);
}

function onMessage(raw) {
  let message;
  try { message = JSON.parse(raw); } catch { fail("The daemon sent a message that is not JSON"); return; }
  if (message.type === "status") applyStatus(message.data);
  else if (message.type === "result") settle(message.id, message);
}

/** The same commands over HTTP, for when the socket is down. */
const HTTP_COMMANDS = {
  "emergency-stop": () => ["/api/emergency-stop"],
  "emergency-stop-reset": () => ["/api/emergency-stop/reset"],
  dispense: (c) => [`/api/pump/${enc(c.pump)}/dispense`, { volume: c.volume, flowRate: c.flowRate }],
  stop: (c) => [`/api/pump/${enc(c.pump)}/stop`],
};

/** Send a command; resolves with its result (ok), rejects with ApiError (shown). */
function command(action, params = {}) {
  const value = needToken();
  if (!value) return Promise.reject(new ApiError(0, { code: "no_token", message: "no token" }));
  const socket = ws.socket;
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    const [path, body] = HTTP_COMMANDS[action](params);
    return post(path, action, body || {});
  }
  const id = ws.nextId++;
  const started = performance.now();
  socket.send(JSON.stringify({ type: "command", token: value, id, action, ...params }));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => settle(id, { ok: false, error: { code: "timeout", message: "no answer from the daemon within 10 s" } }), COMMAND_TIMEOUT_MS);
    ws.pending.set(id, { action, started, resolve, reject, timer });
  });
}

function settle(id, message) {
  const pending = ws.pending.get(id);
  if (!pending) return;
  ws.pending.delete(id);
  clearTimeout(pending.timer);
  if (message.ok) {
    recordResult(pending.action, true, "ok", pending.started);
    pending.resolve(message);
    return;
  }
  const error = message.error || { code: "error", message: "the command failed" };
  recordResult(pending.action, false, error.message || error.code, pending.started);
  if (error.code === "unauthorized") tokenRefused();
  else fail(describe(error));
  pending.reject(new ApiError(0, error));
}

/** The e-stop: over the socket; again over HTTP when the socket lost it (idempotent). */
async function emergencyStop() {
  try {
    await command("emergency-stop");
  } catch (e) {
    if (e.code !== "disconnected" && e.code !== "timeout") throw e;
    await post("/api/emergency-stop", "emergency-stop");
  }
}

// ---- live status
let status = null;
let pumpSignature = "";
const views = { dash: new Map(), manual: new Map() };

function setOnline(online) {
  const conn = $("connection");
  conn.textContent = online ? "online" : "offline";
  conn.className = `badge conn ${online ? "online" : "offline"}`;
  document.body.classList.toggle("stale", !online);
}

function applyStatus(data) {
  if (!data || !Array.isArray(data.pumps)) return;
  const previous = status;
  status = data;
  renderHeader(data);
  ensurePumpViews(data.pumps);
  renderDashboard(data);
  renderManual(data.pumps);
  renderCalibrationRun();
  if (doseSetChanged(previous, data)) onDosesChanged();
}

function renderHeader(data) {
  const state = $("system-state");
  state.textContent = data.state;
  state.className = `badge state ${data.state}`;
  $("estop-latched").hidden = data.state !== "EMERGENCY";
}

const pumps = () => (status ? status.pumps : []);
const pumpName = (id) => (pumps().find((p) => p.id === id) || {}).name || id;
const pumpOptions = (selected) => pumps().map((p) => option(p.id, `${p.id} · ${p.name}`, p.id === selected));

/** Build the per-pump parts once per set of pumps (keeps what the user typed). */
function ensurePumpViews(list) {
  const signature = list.map((p) => `${p.id}\u0000${p.name}`).join("\u0001");
  if (signature === pumpSignature) return;
  pumpSignature = signature;
  views.dash.clear();
  views.manual.clear();
  $("pump-cards").replaceChildren(...list.map((p) => dashCard(p)));
  $("manual-cards").replaceChildren(...list.map((p) => manualCard(p)));
  for (const id of ["weigh-pump", "calibration-pump", "sched-pump"]) {
    const select = $(id);
    select.replaceChildren(...pumpOptions(select.value || (list[0] && list[0].id)));
  }
  if (currentPage === "calibration") guard(loadCalibration)();
}

/** The running dose's progress, 0..100 (0 when none). */
function percentOf(pump) {
  if (!pump.doseId || !pump.requestedVolume) return 0;
  const ratio = (pump.dispensedVolume || 0) / pump.requestedVolume;
  return Math.max(0, Math.min(100, Math.round(ratio * 100)));
}

function doseText(pump) {
  if (!pump.doseId) return "no dose running";
  return `${fmt(pump.dispensedVolume)} / ${fmt(pump.requestedVolume)} ml at ${fmt(pump.flowRate, 1)} ml/min`;
}

function reservoirText(reservoir) {
  if (!reservoir) return "reservoir not tracked";
  const flag = reservoir.empty ? " — EMPTY" : reservoir.low ? " — low" : "";
  return `reservoir ${fmt(reservoir.level, 1)} / ${fmt(reservoir.capacity, 0)} ml (${fmt(reservoir.percent, 0)} %)${flag}`;
}

// ---- dashboard
function dashCard(pump) {
  const id = pump.id;
  const v = {
    state: el("span", { class: "pstate", testid: `pump-state-${id}` }),
    dose: el("div", { class: "muted" }),
    bar: el("div"),
    reservoir: el("span", { testid: `pump-reservoir-${id}` }),
    refill: button("Refilled", () => refill(id), { class: "quiet small" }),
    fault: el("div", { class: "error" }),
  };
  v.progress = el("div", { class: "progress", testid: `pump-progress-${id}`, role: "progressbar",
    "data-percent": "0", "aria-valuemin": "0", "aria-valuemax": "100" }, v.bar);
  views.dash.set(id, v);
  return el("div", { class: "card", testid: `pump-card-${id}` },
    el("div", { class: "pump-head" }, el("h2", {}, pump.name, " ", el("small", {}, `pump ${id}`)), v.state),
    v.dose, v.progress, el("div", { class: "row" }, v.reservoir, v.refill), v.fault);
}

function renderDashboard(data) {
  setText("dash-state", data.state);
  const c = data.controller || {};
  setText("dash-controller", c.connected ? `connected (${c.state})` : `not connected${c.detail ? `: ${c.detail}` : ""}`);
  setText("dash-uptime", uptime(data.uptimeSec));
  renderMqtt(data.mqtt);
  for (const pump of data.pumps) {
    const v = views.dash.get(pump.id);
    if (v) renderPumpCard(v, pump);
  }
  renderScale(data.scale);
}

function renderMqtt(mqtt) {
  setText("mqtt-state", mqtt ? mqtt.state : "disabled");
  $("mqtt-state").title = mqtt ? `${mqtt.failures} failures${mqtt.lastError ? `, last error: ${mqtt.lastError}` : ""}` : "";
  const depth = mqtt && mqtt.outboxDepth != null ? String(mqtt.outboxDepth) : "—";
  setText("outbox-depth", depth);
}

function renderPumpCard(v, pump) {
  v.state.textContent = pump.state;
  v.state.className = `pstate ${pump.state}`;
  const percent = percentOf(pump);
  v.progress.dataset.percent = String(percent);
  v.progress.setAttribute("aria-valuenow", String(percent));
  v.bar.style.width = `${percent}%`;
  v.dose.textContent = doseText(pump);
  v.reservoir.textContent = reservoirText(pump.reservoir);
  v.reservoir.className = pump.reservoir && pump.reservoir.empty ? "empty" : pump.reservoir && pump.reservoir.low ? "low" : "";
  v.refill.hidden = !pump.reservoir;
  v.fault.textContent = pump.fault || "";
}

function uptime(seconds) {
  const minutes = Math.floor((seconds || 0) / 60);
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

async function refill(id) {
  await post(`/api/pump/${enc(id)}/reservoir`, "refill", {});
  say(`Reservoir of ${pumpName(id)} set to full`);
}

function renderScale(scale) {
  $("scale-card").hidden = !scale;
  if (!scale) return;
  setText("scale-weight", scale.weight == null ? "—" : `${fmt(scale.weight)} g`);
  setText("scale-status", scale.connected ? scale.status || "" : `not connected${scale.detail ? `: ${scale.detail}` : ""}`);
  const run = scale.run;
  setText("weigh-run", run ? weighRunText(run) : "");
  $("weigh-abort").hidden = !run || run.result != null;
  $("weigh-abort").dataset.runId = run ? run.runId : "";
}

function weighRunText(run) {
  const head = `${pumpName(run.pump)} → ${fmt(run.targetGrams)} g: `;
  const r = run.result;
  if (!r) return `${head}${run.phase}, net ${fmt(run.netGrams)} g`;
  const reason = r.reason ? ` (${r.reason})` : "";
  return `${head}${r.outcome}${reason}: ${fmt(r.actualWeight_g)} g, error ${fmt(r.error_g)} g, ${fmt(r.accuracy_percent, 1)} %, ${r.topups} top-ups, ${fmt(r.duration_sec, 1)} s`;
}

async function weigh(event) {
  event.preventDefault();
  const body = { pump: $("weigh-pump").value, targetGrams: num($("weigh-target")) };
  const run = await post("/api/dispense/weight", "dispense-weight", body);
  say(`Dispensing ${fmt(run.targetGrams)} g on ${pumpName(run.pump)} (± ${fmt(run.tolerance)} g)`);
}

async function abortWeigh() {
  await post(`/api/dispense/weight/${enc($("weigh-abort").dataset.runId)}/abort`, "abort-weight");
}

// ---- manual control
function defaultFlow(pump) {
  return String(Math.min(60, pump.maxFlowRate || 60));
}

function manualCard(pump) {
  const id = pump.id;
  const volume = numberInput({ testid: `dose-volume-${id}`, min: "0", placeholder: "ml" });
  const flow = numberInput({ testid: `dose-flow-${id}`, min: "0", value: defaultFlow(pump) });
  const runFlow = numberInput({ testid: `run-flow-${id}`, min: "0", value: defaultFlow(pump) });
  const v = { state: el("span", { class: "pstate" }), dose: el("div", { class: "muted" }) };
  views.manual.set(id, v);
  const doseForm = el("form", { class: "row", onsubmit: guard((e) => dose(e, id, volume, flow)) },
    labelled("Volume (ml)", volume), labelled("Flow (ml/min)", flow),
    el("button", { testid: `dose-start-${id}` }, "Dose"));
  const stop = button(`Stop ${id}`, () => command("stop", { pump: id }), { class: "danger", testid: `pump-stop-${id}` });
  const runForm = el("form", { class: "row", onsubmit: guard((e) => runContinuous(e, id, runFlow)) },
    labelled("Run at (ml/min)", runFlow), el("button", { testid: `run-start-${id}`, class: "quiet" }, "Run"), stop);
  return el("div", { class: "card" },
    el("div", { class: "pump-head" }, el("h2", {}, pump.name, " ", el("small", {}, `pump ${id}`)), v.state),
    v.dose, doseForm, runForm);
}

function renderManual(list) {
  for (const pump of list) {
    const v = views.manual.get(pump.id);
    if (!v) continue;
    v.state.textContent = pump.state;
    v.state.className = `pstate ${pump.state}`;
    v.dose.textContent = pump.fault ? `fault: ${pump.fault}` : doseText(pump);
  }
}

async function dose(event, id, volume, flow) {
  event.preventDefault();
  await command("dispense", { pump: id, volume: num(volume), flowRate: num(flow) });
  say(`Dosing ${volume.value} ml on ${pumpName(id)}`);
}

async function runContinuous(event, id, flow) {
  event.preventDefault();
  await post(`/api/pump/${enc(id)}/start`, "start", { flowRate: num(flow) });
  say(`${pumpName(id)} runs until stopped`);
}

// ---- recipes
const LIVE_RUN = new Set(["starting", "dosing", "waiting", "paused"]);
const recipes = { list: [], run: null, poll: 0, draft: null };

async function enterRecipes() {
  await Promise.all([loadRecipes(), loadLatestRun()]);
}

async function loadRecipes() {
  recipes.list = (await api("GET", "/api/recipes")).recipes;
  renderRecipeRows();
}

function renderRecipeRows() {
  const rows = recipes.list.map(recipeRow);
  if (!rows.length) rows.push(el("tr", {}, el("td", { colSpan: 5, class: "muted" }, "No recipes yet.")));
  $("recipe-rows").replaceChildren(...rows);
}

function recipeRow(recipe) {
  const id = recipe.id;
  const volumes = Object.entries(recipe.volumes_ml || {}).map(([p, ml]) => `${p} ${fmt(ml, 1)} ml`).join(", ");
  return el("tr", { testid: `recipe-row-${id}` },
    el("td", {}, recipe.name, recipe.description ? el("div", { class: "muted desc", title: recipe.description }, recipe.description) : null),
    el("td", { class: "n" }, String(recipe.steps.length)),
    el("td", {}, volumes),
    el("td", { class: "n" }, `${fmt(recipe.estimatedDuration_sec, 0)} s`),
    el("td", {},
      button("Execute", () => executeRecipe(id), { class: "", testid: `recipe-execute-${id}` }),
      button("Edit", () => editRecipe(recipe), { testid: `recipe-edit-${id}` }),
      button("Delete", () => deleteRecipe(recipe), { testid: `recipe-delete-${id}` })));
}

async function deleteRecipe(recipe) {
  await api("DELETE", `/api/recipes/${enc(recipe.id)}`, { action: "delete-recipe" });
  say(`Deleted ${recipe.name}`);
  await loadRecipes();
}

async function executeRecipe(id) {
  const started = await post(`/api/recipe/${enc(id)}/execute`, "execute", {});
  say(`${started.recipeName} started: ${started.steps} steps, about ${fmt(started.estimatedDuration_sec, 0)} s`);
  showRun({ runId: started.runId, recipeName: started.recipeName, state: "starting", step: 1,
    steps: started.steps, stepsCompleted: 0, dispensed_ml: {}, totalVolume_ml: 0 });
}

async function loadLatestRun() {
  const runs = (await api("GET", "/api/recipe-runs?limit=1")).runs;
  if (runs.length) showRun(runs[0]);
}

/** Show a run and keep polling it while it is live and the page is open. */
function showRun(run) {
  recipes.run = run;
  renderRun(run);
  clearTimeout(recipes.poll);
  if (LIVE_RUN.has(run.state) && currentPage === "recipes") recipes.poll = setTimeout(guard(pollRun), 700);
}

async function pollRun() {
  if (!recipes.run || currentPage !== "recipes") return;
  showRun(await api("GET", `/api/recipe-runs/${enc(recipes.run.runId)}`));
}

function renderRun(run) {
  const box = $("recipe-run");
  box.dataset.state = run.state;
  const dispensed = Object.entries(run.dispensed_ml || {}).map(([p, ml]) => `${p} ${fmt(ml)} ml`).join(", ");
  const live = LIVE_RUN.has(run.state);
  const steer = (action, text) =>
    button(text, () => steerRun(action), { class: action === "abort" ? "danger" : "", testid: `recipe-${action}` });
  box.replaceChildren(...[
    el("h2", {}, run.recipeName, " ", el("small", {}, run.startedAt ? when(run.startedAt) : "")),
    el("p", {}, el("strong", { testid: "recipe-run-state" }, run.state), " — ",
      el("span", { testid: "recipe-run-steps" }, `${run.stepsCompleted}/${run.steps} steps completed`),
      live ? ` (step ${run.step})` : "", run.reason ? ` — ${run.reason}` : ""),
    el("p", { class: "muted" }, `Dispensed: ${dispensed || "nothing yet"} (total ${fmt(run.totalVolume_ml)} ml)`),
    live ? el("div", { class: "row" },
      run.state === "paused" ? steer("resume", "Resume") : steer("pause", "Pause"), steer("abort", "Abort")) : "",
  ]);
}

async function steerRun(action) {
  showRun(await post(`/api/recipe-runs/${enc(recipes.run.runId)}/${action}`, `recipe-${action}`));
}

// ---- recipe editor: a plain model (recipes.draft) rendered into inputs
function newDose() {
  const first = pumps()[0];
  return { pump: first ? first.id : "X", volume: 1, flowRate: 10 };
}

function newRecipe() {
  openEditor({ id: null, name: "", description: "", steps: [{ doses: [newDose()], waitSeconds: 0 }] }, "New recipe");
}

function editRecipe(recipe) {
  const copy = JSON.parse(JSON.stringify({ id: recipe.id, name: recipe.name, description: recipe.description || "", steps: recipe.steps }));
  openEditor(copy, `Edit ${recipe.name}`);
}

function openEditor(draft, title) {
  recipes.draft = draft;
  setText("recipe-editor-title", title);
  $("recipe-name").value = draft.name;
  $("recipe-description").value = draft.description;
  $("recipe-editor").hidden = false;
  renderSteps();
  $("recipe-name").focus();
}

function renderSteps() {
  $("recipe-steps").replaceChildren(...recipes.draft.steps.map(stepView));
}

function stepView(step, index) {
  const steps = recipes.draft.steps;
  const wait = numberInput({ min: "0", value: String(step.waitSeconds ?? 0),
    oninput: () => { step.waitSeconds = num(wait); } });
  return el("div", { class: "step" },
    el("h2", {}, `Step ${index + 1}`),
    step.doses.map((d, j) => doseEditor(step, d, j)),
    el("div", { class: "row" },
      button("Add dose", () => { step.doses.push(newDose()); renderSteps(); }),
      labelled("Then wait (s)", wait),
      steps.length > 1 ? button("Remove step", () => { steps.splice(index, 1); renderSteps(); }) : null));
}

function doseEditor(step, dose, index) {
  const pump = el("select", { onchange: () => { dose.pump = pump.value; } }, pumpOptions(dose.pump));
  const volume = numberInput({ min: "0", value: String(dose.volume ?? ""), oninput: () => { dose.volume = num(volume); } });
  const flow = numberInput({ min: "0", value: String(dose.flowRate ?? ""), oninput: () => { dose.flowRate = num(flow); } });
  return el("div", { class: "row" },
    labelled("Pump", pump), labelled("Volume (ml)", volume), labelled("Flow (ml/min)", flow),
    step.doses.length > 1 ? button("Remove", () => { step.doses.splice(index, 1); renderSteps(); }) : null);
}

async function saveRecipe() {
  const draft = recipes.draft;
  const body = { name: $("recipe-name").value.trim(), description: $("recipe-description").value.trim(), steps: draft.steps };
  const saved = draft.id
    ? await api("PUT", `/api/recipes/${enc(draft.id)}`, { body, action: "save-recipe" })
    : await post("/api/recipes", "save-recipe", body);
  $("recipe-editor").hidden = true;
  recipes.draft = null;
  say(`Saved ${saved.name}`);
  await loadRecipes();
}

// ---- history
const DAYS = 7;
const COLORS = ["#2f7de1", "#e0702f", "#2aa36b", "#b446c8", "#c9a400", "#d1335b", "#19a5b8", "#7d7d7d"];
let historyReload = 0;

async function loadHistory() {
  const [history, runs] = await Promise.all([
    api("GET", "/api/history?limit=200"),
    api("GET", "/api/recipe-runs?limit=200"),
  ]);
  const names = new Map(runs.runs.map((r) => [r.runId, r.recipeName]));
  $("history-rows").replaceChildren(...history.doses.map((d) => historyRow(d, names)));
  drawChart(history.doses);
}

function historyRow(dose, recipeNames) {
  const recipe = dose.recipeRunId ? recipeNames.get(dose.recipeRunId) || dose.recipeRunId : "";
  const actual = fmt(dose.actualVolume) + (dose.uncertain ? ` (uncertain, ≤ ${fmt(dose.actualVolumeUpperBound)})` : "");
  const detail = [dose.kind !== "volume" ? dose.kind : "", dose.reason || ""].filter(Boolean).join(": ");
  return el("tr", { testid: "history-row", "data-dose-id": dose.doseId },
    el("td", { title: dose.startedAt }, when(dose.startedAt)),
    el("td", { title: pumpName(dose.pump) }, dose.pump),
    el("td", { class: "n" }, fmt(dose.requestedVolume)),
    el("td", { class: "n" }, actual),
    el("td", { title: dose.recipeStep ? `step ${dose.recipeStep}` : "" }, recipe),
    el("td", { class: `outcome-${dose.outcome}`, title: detail }, dose.outcome));
}

const dayKey = (date) => `${date.getFullYear()}-${date.getMonth() + 1}-${date.getDate()}`;

/** ml per pump per local day over the last DAYS days, from the journal rows. */
function dailyTotals(doses) {
  const days = [];
  const today = new Date();
  for (let i = DAYS - 1; i >= 0; i--) {
    days.push(new Date(today.getFullYear(), today.getMonth(), today.getDate() - i));
  }
  const ids = pumps().map((p) => p.id);
  const totals = new Map(days.map((d) => [dayKey(d), new Map()]));
  for (const dose of doses) {
    const perPump = totals.get(dayKey(new Date(dose.startedAt)));
    if (!perPump || !dose.actualVolume) continue;
    if (!ids.includes(dose.pump)) ids.push(dose.pump);
    perPump.set(dose.pump, (perPump.get(dose.pump) || 0) + dose.actualVolume);
  }
  return { days, ids, totals };
}

/** A round axis maximum (1, 2, 5 × 10^n) at or above `value`. */
function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * power).find((m) => m >= value);
}

function drawChart(doses) {
  const { days, ids, totals } = dailyTotals(doses);
  const W = 360, H = 180, left = 30, bottom = 22, top = 18;
  const plotH = H - top - bottom;
  const all = [...totals.values()].flatMap((m) => [...m.values()]);
  const max = niceMax(Math.max(0, ...all));
  const groupW = (W - left - 6) / DAYS;
  const barW = Math.max(2, (groupW - 6) / Math.max(1, ids.length));
  const y = (ml) => top + plotH - (ml / max) * plotH;
  const parts = [];
  for (const tick of [0, max / 2, max]) {
    parts.push(svg("line", { x1: left, x2: W - 4, y1: y(tick), y2: y(tick) }),
      svg("text", { x: left - 4, y: y(tick) + 4, "text-anchor": "end" }, `${+tick.toFixed(2)}`));
  }
  days.forEach((day, i) => {
    const x0 = left + i * groupW + 3;
    const perPump = totals.get(dayKey(day));
    ids.forEach((id, j) => {
      const ml = perPump.get(id) || 0;
      if (ml > 0) parts.push(bar(x0 + j * barW, y(ml), barW - 1, y(0) - y(ml), COLORS[j % COLORS.length], id, day, ml));
    });
    parts.push(svg("text", { x: x0 + (groupW - 6) / 2, y: H - 6, "text-anchor": "middle" },
      day.toLocaleDateString(undefined, { weekday: "short", day: "numeric" })));
  });
  parts.push(svg("text", { x: 2, y: 10 }, "ml"));
  if (!all.length) parts.push(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "No doses in the last 7 days"));
  $("history-chart").replaceChildren(...parts);
  $("history-legend").replaceChildren(...ids.map((id, j) =>
    el("span", {}, el("i", { style: `background:${COLORS[j % COLORS.length]}` }), `${id} · ${pumpName(id)}`)));
}

function bar(x, y, width, height, color, pump, day, ml) {
  return svg("rect", { x, y, width, height, fill: color, "data-pump": pump, "data-day": dayKey(day), "data-ml": ml.toFixed(3) },
    svg("title", {}, `${pump}: ${ml.toFixed(2)} ml on ${day.toLocaleDateString()}`));
}

/** A dose started or ended: refresh the pages that list doses. */
function doseSetChanged(previous, next) {
  const ids = (s) => (s ? s.pumps.map((p) => p.doseId || "").join() : null);
  return previous != null && ids(previous) !== ids(next);
}

function onDosesChanged() {
  if (currentPage !== "history") return;
  clearTimeout(historyReload);
  guard(loadHistory)();
  historyReload = setTimeout(guard(loadHistory), 1500); // the outcome is journaled just after
}

// ---- calibration
const calibration = { runId: null, runPump: null };
const calPump = () => $("calibration-pump").value;

async function loadCalibration() {
  if (!calPump()) return;
  renderCalibration(await api("GET", `/api/pump/${enc(calPump())}/calibration`));
}

function renderCalibration(report) {
  const stored = report.updatedAt ? `, stored ${when(report.updatedAt)}` : "";
  $("calibration-summary").textContent = `${report.pump} · ${pumpName(report.pump)}: source ${report.source}${stored}, ` +
    `${report.valid ? "calibrated" : "NOT calibrated"}, configured ${fmt(report.defaultMlPerMm, 4)} ml/mm`;
  const rows = report.points.map((p) => el("tr", {},
    el("td", { class: "n" }, fmt(p.flowRate, 1)), el("td", { class: "n" }, fmt(p.mlPerMm, 5)),
    el("td", { class: "n" }, fmt(p.predictedMlPerMm, 5)), el("td", { class: "n" }, fmt(p.residualPercent, 2))));
  if (!rows.length) rows.push(el("tr", {}, el("td", { colSpan: 4, class: "muted" }, "No stored points: the configured ml/mm applies.")));
  $("calibration-rows").replaceChildren(...rows);
}

async function addPoint(event) {
  event.preventDefault();
  const body = { flowRate: num($("cal-add-flow")), mlPerMm: num($("cal-add-mlmm")) };
  renderCalibration(await post(`/api/pump/${enc(calPump())}/calibration`, "calibration-add", body));
  say("Point added");
}

async function runCalibration(event) {
  event.preventDefault();
  const body = { distance: num($("cal-run-distance")), flowRate: num($("cal-run-flow")) };
  const run = await post(`/api/pump/${enc(calPump())}/calibration/run`, "calibration-run", body);
  calibration.runId = run.runId;
  calibration.runPump = run.pump;
  $("cal-run-info").textContent = `${pumpName(run.pump)}: ${fmt(run.distance, 1)} mm at ${fmt(run.feedRate, 0)} mm/min, ` +
    `expect ${fmt(run.expectedVolume)} ml.`;
  setText("cal-run-state", "");
  $("cal-measure-form").hidden = false;
}

/** While a calibration run moves, what flowed so far; then the cue to measure. */
function renderCalibrationRun() {
  const pump = calibration.runId && pumps().find((p) => p.id === calibration.runPump);
  if (!pump) return;
  const moving = pump.doseId != null;
  setText("cal-run-state", moving ? `moving: ${doseText(pump)}` : "the run ended: measure what flowed and record it");
}

async function recordMeasurement(event) {
  event.preventDefault();
  const body = { runId: calibration.runId, measuredVolume: num($("cal-measured")) };
  const report = await post(`/api/pump/${enc(calibration.runPump)}/calibration`, "calibration-record", body);
  renderCalibration(report);
  const m = report.measurement;
  if (m) $("cal-run-info").textContent = `Measured ${fmt(m.measuredVolume)} ml → ${fmt(m.mlPerMm, 5)} ml/mm at ${fmt(m.flowRate, 1)} ml/min; ` +
    `the previous calibration predicted ${fmt(m.predictedVolume)} ml (${fmt(m.residualPercent, 2)} %).`;
  $("cal-measure-form").hidden = true;
  calibration.runId = null;
}

async function deleteCalibration() {
  renderCalibration(await api("DELETE", `/api/pump/${enc(calPump())}/calibration`, { action: "calibration-delete" }));
  say("Stored points forgotten");
}

// ---- schedules
async function loadSchedules() {
  const [list, book] = await Promise.all([api("GET", "/api/schedules"), api("GET", "/api/recipes")]);
  const rows = list.schedules.map(scheduleRow);
  if (!rows.length) rows.push(el("tr", {}, el("td", { colSpan: 7, class: "muted" }, "No schedules yet.")));
  $("schedule-rows").replaceChildren(...rows);
  const select = $("sched-recipe");
  select.replaceChildren(...book.recipes.map((r) => option(r.id, r.name, r.id === select.value)));
}

function targetText(target) {
  if (target.recipe) return `recipe ${target.recipe}`;
  return `${target.pump} (${pumpName(target.pump)}): ${fmt(target.volume)} ml at ${fmt(target.flowRate, 1)} ml/min`;
}

function scheduleRow(s) {
  const id = s.id;
  const enabled = el("input", { type: "checkbox", checked: s.enabled, testid: `schedule-enabled-${id}`,
    onchange: guard(() => setScheduleEnabled(s, enabled.checked)) });
  return el("tr", { testid: `schedule-row-${id}` },
    el("td", {}, s.name),
    el("td", {}, el("code", {}, s.cron), el("div", { class: "muted" }, s.timezone)),
    el("td", {}, targetText(s.target)),
    el("td", {}, when(s.nextRun)),
    el("td", {}, when(s.lastRun)),
    el("td", {}, el("label", {}, enabled, s.enabled ? " on" : " off")),
    el("td", {},
      button("Run now", () => runSchedule(s), { testid: `schedule-run-${id}` }),
      button("Delete", () => deleteSchedule(s), { testid: `schedule-delete-${id}` })));
}

async function setScheduleEnabled(schedule, enabled) {
  const body = { ...schedule, enabled };
  for (const key of ["nextRun", "createdAt", "lastRun", "checkedUntil"]) delete body[key];
  try {
    await api("PUT", `/api/schedules/${enc(schedule.id)}`, { body, action: enabled ? "schedule-enable" : "schedule-disable" });
    say(`${schedule.name} ${enabled ? "enabled" : "disabled"}`);
  } finally {
    await loadSchedules();
  }
}

async function runSchedule(schedule) {
  const run = await post(`/api/schedules/${enc(schedule.id)}/run`, "schedule-run");
  const text = `${schedule.name}: ${run.status}${run.detail ? ` (${run.detail})` : ""}`;
  if (run.status === "started") say(text); else fail(text);
  await loadSchedules();
}

async function deleteSchedule(schedule) {
  await api("DELETE", `/api/schedules/${enc(schedule.id)}`, { action: "schedule-delete" });
  say(`Deleted ${schedule.name}`);
  await loadSchedules();
}

function showScheduleKind() {
  const recipe = $("sched-kind").value === "recipe";
  $("sched-pump-fields").hidden = recipe;
  $("sched-recipe-field").hidden = !recipe;
}

async function saveSchedule(event) {
  event.preventDefault();
  const target = $("sched-kind").value === "recipe"
    ? { recipe: $("sched-recipe").value }
    : { pump: $("sched-pump").value, volume: num($("sched-volume")), flowRate: num($("sched-flow")) };
  const body = { name: $("sched-name").value.trim(), cron: $("sched-cron").value.trim(), target, enabled: true,
    missedRunPolicy: $("sched-policy").value, graceSeconds: num($("sched-grace")) || 0 };
  const zone = $("sched-tz").value.trim();
  if (zone) body.timezone = zone;
  const saved = await post("/api/schedules", "schedule-create", body);
  $("schedule-form").hidden = true;
  say(`Scheduled ${saved.name}: next ${when(saved.nextRun)}`);
  await loadSchedules();
}

// ---- settings
async function loadSettings() {
  const config = await api("GET", "/api/config");
  setText("device-id", config.deviceId);
  $("device-name").value = config.deviceName;
  $("device-location").value = config.location;
  showDeviceName(config.deviceName);
}


async function saveSettings(event) {
  event.preventDefault();
  const body = { deviceName: $("device-name").value.trim(), location: $("device-location").value.trim() };
  const config = await post("/api/config", "settings-save", body);
  showDeviceName(config.deviceName);
  say("Settings saved");
}

function showDeviceName(name) {
  setText("brand", name || "doser");
  document.title = name ? `${name} · doser` : "doser";
}


// ---- router
const PAGES = {
  dashboard: null,
  manual: null,
  recipes: enterRecipes,
  history: loadHistory,
  calibration: loadCalibration,
  schedules: loadSchedules,
  settings: loadSettings,
};
let currentPage = "";

function route() {
  const name = location.hash.replace(/^#\/?/, "").split(/[/?]/)[0];
  currentPage = name in PAGES ? name : "dashboard";
  for (const page of Object.keys(PAGES)) $(`page-${page}`).hidden = page !== currentPage;
  for (const link of document.querySelectorAll(".nav a")) {
    if (link.dataset.page === currentPage) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const enter = PAGES[currentPage];
  if (enter) guard(enter)();
}

// ---- wiring
function on(id, event, handler) {
  $(id).addEventListener(event, handler);
}

function wire() {
  on("estop", "click", guard(emergencyStop));
  on("estop-reset", "click", guard(() => command("emergency-stop-reset")));
  on("token-dialog", "submit", saveToken);
  on("token-cancel", "click", closeTokenDialog);
  on("token-change", "click", () => askToken(false));
  on("message", "click", () => setText("message", ""));
  on("weigh-form", "submit", guard(weigh));
  on("weigh-abort", "click", guard(abortWeigh));
  on("recipe-new", "click", newRecipe);
  on("recipe-add-step", "click", () => { recipes.draft.steps.push({ doses: [newDose()], waitSeconds: 0 }); renderSteps(); });
  on("recipe-save", "click", guard(saveRecipe));
  on("recipe-cancel", "click", () => { $("recipe-editor").hidden = true; });
  on("calibration-pump", "change", guard(loadCalibration));
  on("cal-add-form", "submit", guard(addPoint));
  on("cal-run-form", "submit", guard(runCalibration));
  on("cal-measure-form", "submit", guard(recordMeasurement));
  on("cal-delete", "click", guard(deleteCalibration));
  on("schedule-new", "click", () => { $("schedule-form").hidden = false; showScheduleKind(); $("sched-name").focus(); });
  on("sched-kind", "change", showScheduleKind);
  on("sched-cancel", "click", () => { $("schedule-form").hidden = true; });
  on("schedule-form", "submit", guard(saveSchedule));
  on("settings-form", "submit", guard(saveSettings));
  window.addEventListener("hashchange", route);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && !ws.socket) { ws.delay = 500; connect(); }
  });
}

async function start() {
  wire();
  setOnline(false);
  route();
  connect();
  setInterval(watchLink, 1000);
  if (!token()) askToken(false);
  const [first, config] = await Promise.all([
    api("GET", "/api/status", { quiet: true }).catch(() => null),
    api("GET", "/api/config", { quiet: true }).catch(() => null),
  ]);
  if (first && !status) applyStatus(first);
  if (config) showDeviceName(config.deviceName);
}

start();
