// The students' page: sign in, watch courses, join queues, manage
// enrollments. No framework: the API is small and the page must load fast
// at the rush.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const jitter = (ms) => ms * (0.8 + Math.random() * 0.4);
  // skew: the server's clock minus this device's (ms). The Date header has a
  // 1 s resolution, so one response only bounds it; the bounds of every
  // response are intersected and the estimate is their middle, which
  // settles instead of jumping by up to a second with each response.
  let skew = 0, skewLo = -Infinity, skewHi = Infinity;
  const now = () => Date.now() + skew;
  function clockSeen(date, sent, got) {
    const d = Date.parse(date || "");
    if (isNaN(d)) return;
    // The server stamped [d, d+1000) somewhere between sent and got.
    const lo = d - got, hi = d + 1000 - sent;
    if (Math.max(lo, skewLo) > Math.min(hi, skewHi)) { skewLo = lo; skewHi = hi; } // a clock was reset: start again
    else { skewLo = Math.max(lo, skewLo); skewHi = Math.min(hi, skewHi); }
    skew = (skewLo + skewHi) / 2;
  }
  let epoch = 0; // bumped at sign-out/expiry: stale timers stop
  let courses = new Map(); // id -> course
  let enrolled = new Map(); // courseId -> enrollment
  const queues = new Map(); // courseId -> {st, el, timer}
  const opened = new Set(); // "id@opensAt" of courses seen open
  let busyShown = false;

  class ApiError extends Error {
    constructor(status, code, message) { super(message); this.status = status; this.code = code; }
  }

  // api sends one request. 503/429 and network failures are retried: never
  // before Retry-After, plus an exponential backoff with full jitter so that
  // thousands of pages do not come back in the same second.
  async function api(method, path, body, retries = 8) {
    for (let attempt = 0; ; attempt++) {
      let res;
      const sent = Date.now();
      try {
        res = await fetch(path, {
          method, cache: "no-store", credentials: "same-origin",
          headers: body ? { "Content-Type": "application/json" } : {},
          body: body ? JSON.stringify(body) : undefined,
        });
      } catch (e) {
        if (attempt >= retries) throw new ApiError(0, "network", "offline");
        await backoff(attempt, 0, "The connection failed.");
        continue;
      }
      clockSeen(res.headers.get("Date"), sent, Date.now());
      if ((res.status === 503 || res.status === 429) && attempt < retries) {
        await backoff(attempt, retryAfter(res.headers.get("Retry-After")),
          res.status === 429 ? "Too many requests right now." : "The service is busy.");
        continue;
      }
      if (busyShown) { busyShown = false; notice(""); }
      let data = null;
      if (res.status !== 204) { try { data = await res.json(); } catch (e) { data = null; } }
      if (res.ok) return { status: res.status, data };
      const err = (data && data.error) || {};
      throw new ApiError(res.status, err.code || "http_" + res.status, err.message || "");
    }
  }

  function retryAfter(v) {
    if (!v) return 0;
    const s = Number(v);
    if (!isNaN(s)) return Math.max(0, s * 1000);
    const t = Date.parse(v);
    return isNaN(t) ? 0 : Math.max(0, t - now());
  }

  async function backoff(attempt, after, why) {
    const wait = after + Math.random() * Math.min(30000, 500 * 2 ** attempt);
    busyShown = true;
    notice(why + " Trying again in " + Math.max(1, Math.round(wait / 1000)) + " s…");
    await sleep(wait);
  }

  function notice(text) { const n = $("notice"); n.textContent = text; n.hidden = !text; }
  function alertMsg(text) {
    const a = $("alert");
    a.textContent = text; a.hidden = !text;
  }

  function clock(ms) {
    const s = Math.max(0, Math.ceil(ms / 1000));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(r).padStart(2, "0");
  }
  const hhmm = (t) => new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });

  // explain turns an API error into words for a student; a 401 outside the
  // sign-in form means the session is gone.
  function explain(e, what) {
    if (e.status === 401) { expired(); return null; }
    switch (e.code) {
      case "network": return "You seem to be offline. Check your connection and try again.";
      case "not_open": return what + " is not open yet. See the countdown next to it; the Join button turns on when it opens.";
      case "not_found": return what + ": " + (e.message === "course not found" ? "this course no longer exists." : "nothing to do, " + (e.message || "not found") + ".");
      case "conflict": return what + ": " + e.message + ".";
      case "unavailable": case "overloaded": case "draining":
        return "The service is very busy. We tried several times; please try again in a minute.";
      case "internal": return "Something went wrong on our side. Please try again in a moment.";
      default: return what + ": the request was refused (" + (e.message || e.code) + ").";
    }
  }
  function fail(e, what) { const m = explain(e, what); if (m) alertMsg(m); }

  // ----- sign in / out -----
  function showSignin(info) {
    epoch++;
    for (const q of queues.values()) clearTimeout(q.timer);
    $("app").hidden = true; $("who").hidden = true; $("signin").hidden = false;
    const i = $("signin-info"); i.textContent = info || ""; i.hidden = !info;
    $("password").value = "";
    $("signin-h").focus();
  }
  function expired() {
    alertMsg(""); notice("");
    showSignin("Your session has expired. Please sign in again; your place in any queue is kept.");
  }

  $("signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const err = $("signin-error"), btn = $("signin-btn");
    const studentNo = $("studentNo").value.trim(), password = $("password").value;
    err.hidden = true;
    if (!studentNo || !password) { err.textContent = "Enter your student number and password."; err.hidden = false; return; }
    btn.disabled = true;
    try {
      await api("POST", "/api/login", { studentNo, password });
      sessionStorage.setItem("surge.who", studentNo);
      start();
    } catch (e) {
      err.textContent = e.status === 401 ? "Wrong student number or password." : explain(e, "Sign in");
      err.hidden = false;
    } finally { btn.disabled = false; }
  });

  $("signout").addEventListener("click", async () => {
    try { await api("POST", "/api/logout"); } catch (e) { /* signed out locally anyway */ }
    sessionStorage.clear(); queues.clear(); $("queues").textContent = ""; $("queues-card").hidden = true;
    showSignin("You are signed out.");
  });

  async function start() {
    $("signin").hidden = true; $("app").hidden = false; $("who").hidden = false;
    $("who-name").textContent = "Signed in as " + (sessionStorage.getItem("surge.who") || "student");
    alertMsg("");
    $("courses-h").focus();
    const my = epoch;
    await Promise.all([loadCourses(my), loadEnrollments()]);
    for (const id of JSON.parse(sessionStorage.getItem("surge.queues") || "[]")) watch(id, null);
    coursesLoop(my);
  }

  // ----- courses -----
  async function loadCourses(my) {
    try {
      const { data } = await api("GET", "/api/courses");
      if (my !== epoch) return;
      courses = new Map(data.courses.map((c) => [c.id, c]));
      renderCourses();
      materialCourses();
      $("courses-updated").textContent = "Updated " + hhmm(now()) + ".";
    } catch (e) { fail(e, "Loading courses"); }
  }
  async function coursesLoop(my) {
    while (my === epoch) {
      await sleep(jitter(5000));
      if (my === epoch && document.visibilityState === "visible") await loadCourses(my);
    }
  }

  function renderCourses() {
    const ul = $("courses");
    ul.setAttribute("aria-busy", "false");
    for (const c of courses.values()) {
      let li = ul.querySelector('li[data-course="' + c.id + '"]');
      if (!li) {
        li = document.createElement("li");
        li.dataset.course = c.id;
        li.innerHTML = '<div class="c-main"><span class="c-code"></span> <span class="badge"></span><span class="c-title"></span></div><span class="seats"></span><button type="button" class="join"></button>';
        li.querySelector(".join").addEventListener("click", () => join(c.id));
        ul.append(li);
      }
      li.querySelector(".c-code").textContent = c.code;
      li.querySelector(".c-title").textContent = c.title;
      const seats = li.querySelector(".seats");
      seats.textContent = c.seatsLeft + " of " + c.capacity + " seats left";
      updateCourseRow(c, li);
    }
    for (const li of ul.querySelectorAll("li")) if (!courses.has(Number(li.dataset.course))) li.remove();
  }

  function updateCourseRow(c, li) {
    const badge = li.querySelector(".badge"), btn = li.querySelector(".join");
    // The clock estimate may be up to half a second off: open 0.6 s late
    // so that the server agrees.
    const opens = Date.parse(c.opensAt) + 600, key = c.id + "@" + c.opensAt;
    // Once open, a course stays open: a new clock estimate never takes the
    // Join button back from under a finger.
    if (now() >= opens) opened.add(key);
    const open = opened.has(key);
    const q = queues.get(c.id);
    let label, dis = false;
    if (!open) {
      badge.className = "badge b-soon"; badge.textContent = "Opens in " + clock(opens - now());
      badge.title = "Opens at " + hhmm(opens);
    } else if (c.seatsLeft <= 0) {
      badge.className = "badge b-full"; badge.textContent = "Full"; badge.title = "";
    } else { badge.className = "badge b-open"; badge.textContent = "Open"; badge.title = ""; }
    if (enrolled.has(c.id)) { label = "Enrolled"; dis = true; }
    else if (q && q.st && q.st.state === "full") { label = "On waiting list"; dis = true; }
    else if (q) { label = "In queue"; dis = true; }
    else if (!open) { label = "Not open yet"; dis = true; }
    else label = c.seatsLeft <= 0 ? "Join waiting list" : "Join";
    if (btn.textContent !== label) btn.textContent = label;
    btn.disabled = dis;
    btn.setAttribute("aria-label", label + ": " + c.code);
  }

  // One ticker for countdowns: the course list and the buttons of courses
  // that open now.
  setInterval(() => {
    if ($("app").hidden) return;
    for (const li of $("courses").querySelectorAll("li")) {
      const c = courses.get(Number(li.dataset.course));
      if (c) updateCourseRow(c, li);
    }
  }, 1000);

  // ----- queues -----
  // Join and poll ask the server to wait (it caps the wait) and answer as
  // soon as the state is final. A waiting request holds a connection: at
  // most 3 at once, so other requests keep one (6 per origin over HTTP/1.1).
  let longPolls = 0;
  async function queueCall(method, id) {
    const lp = longPolls < 3;
    if (lp) longPolls++;
    // A join waits briefly: a seat granted at once comes in its answer, and
    // a queued student sees the position within a second.
    const wait = method === "POST" ? 1 : 20;
    try { return await api(method, "/api/courses/" + id + "/queue" + (lp ? "?wait=" + wait : "")); }
    finally { if (lp) longPolls--; }
  }

  function saveQueues() { sessionStorage.setItem("surge.queues", JSON.stringify([...queues.keys()])); }

  async function join(id) {
    const c = courses.get(id);
    alertMsg("");
    if (queues.has(id)) return;
    const q = { st: null, el: null, timer: 0, due: 0 };
    queues.set(id, q); renderQueue(id); refreshRow(id);
    $("queues-h").focus(); // the Join button is now disabled: keep the keyboard in place
    try {
      const { data } = await queueCall("POST", id);
      show(id, data);
    } catch (e) {
      drop(id);
      fail(e, c ? c.code : "This course");
    }
  }

  function watch(id, st) {
    if (!queues.has(id)) queues.set(id, { st, el: null, timer: 0, due: 0 });
    if (st) show(id, st); else poll(id, epoch);
  }

  async function poll(id, my) {
    try {
      const { data } = await queueCall("GET", id);
      if (my === epoch && queues.has(id)) show(id, data);
    } catch (e) {
      if (my !== epoch) return;
      if (e.status === 401) { expired(); return; }
      if (e.status === 404) { drop(id); return; }
      notice("Could not refresh your queue position; trying again.");
      schedule(id, 10000, my);
    }
  }

  function schedule(id, ms, my) {
    const q = queues.get(id);
    if (!q) return;
    clearTimeout(q.timer);
    q.timer = setTimeout(() => poll(id, my), jitter(ms));
  }

  // The server's hint (from the position and the measured admission rate)
  // when given; else the further back, the less often: 1 s to 30 s.
  const pollDelay = (st) => st.pollAfterMs ?? Math.min(30000, 1000 + (st.position || 0) * 25);

  // While queued, the page reads the course's progress counter about every
  // second and asks for its own state only when the counter reached its
  // ticket (its turn may have come) or when the server's poll hint is due.
  // The counter is the same for every student and cached for a second by
  // CloudFront and by the browser (Cache-Control: public, max-age=1), so
  // most reads never reach the app.
  function watchQueue(id, my) {
    const q = queues.get(id);
    if (!q) return;
    clearTimeout(q.timer);
    const left = q.due - Date.now();
    q.timer = setTimeout(() => checkTurn(id, my), left <= 1000 ? Math.max(0, left) : jitter(1000));
  }

  async function checkTurn(id, my) {
    const q = queues.get(id);
    if (my !== epoch || !q || !q.st || q.st.state !== "queued") return;
    if (Date.now() < q.due) {
      const ticket = q.st.ticket;
      let p = null;
      try {
        // The default cache mode: the browser reuses an answer for its max-age.
        const res = await fetch("/api/courses/" + id + "/progress", { credentials: "same-origin" });
        if (res.ok) p = await res.json();
      } catch (e) { p = null; } // the counter only saves requests: without it, the hint decides
      if (my !== epoch || queues.get(id) !== q || !q.st || q.st.state !== "queued") return;
      if (!p || !ticket || p.decidedThrough < ticket) {
        // Everyone still ahead holds a ticket between the counter and ours.
        if (p && ticket && ticket - p.decidedThrough < (q.st.position || Infinity)) {
          q.st = Object.assign({}, q.st, { position: ticket - p.decidedThrough });
          renderQueue(id);
        }
        watchQueue(id, my);
        return;
      }
    }
    poll(id, my);
  }

  function show(id, st) {
    const q = queues.get(id);
    if (!q) return;
    q.st = st;
    if (st.state === "none") { drop(id); return; }
    saveQueues(); renderQueue(id); refreshRow(id);
    if (st.state === "queued") { q.due = Date.now() + pollDelay(st); watchQueue(id, epoch); }
    else if (st.state === "full") schedule(id, 20000, epoch); // a freed seat goes to the lowest waiting ticket
    else if (st.state === "enrolled") { loadEnrollments(); loadCourses(epoch); }
  }

  function drop(id) {
    const q = queues.get(id);
    if (q) { clearTimeout(q.timer); if (q.el) q.el.remove(); }
    queues.delete(id); saveQueues(); refreshRow(id);
    $("queues-card").hidden = queues.size === 0;
  }

  function refreshRow(id) {
    const li = $("courses").querySelector('li[data-course="' + id + '"]'), c = courses.get(id);
    if (li && c) updateCourseRow(c, li);
  }

  function renderQueue(id) {
    const q = queues.get(id), c = courses.get(id), code = c ? c.code : "Course " + id;
    $("queues-card").hidden = false;
    if (!q.el) {
      q.el = document.createElement("li");
      q.el.dataset.course = id;
      q.el.innerHTML = '<div class="q-state"><span class="c-code"></span> <span class="q-pos"></span><span class="q-msg"></span></div><button type="button" class="secondary q-act"></button>';
      q.el.querySelector(".q-act").addEventListener("click", () => queueAction(id));
      $("queues").append(q.el);
    }
    const st = q.st || { state: "joining" };
    let pos, msg, act;
    switch (st.state) {
      case "queued":
        // position is the place in line, 1 for the first.
        pos = "Position " + (st.position || 1);
        msg = (st.position > 1 ? (st.position - 1) + (st.position === 2 ? " student" : " students") + " ahead of you. " : "You are next. ") +
          "Keep this page open; it updates by itself.";
        act = "Leave queue"; break;
      case "full":
        pos = "Waiting list";
        msg = "The course is full. You are on the waiting list (ticket " + st.ticket + "): if a seat is freed, it goes to the lowest ticket.";
        act = "Leave waiting list"; break;
      case "enrolled":
        pos = "Enrolled"; msg = "You have a seat in " + code + ".";
        act = "Dismiss"; break;
      default:
        pos = "Joining…"; msg = ""; act = "";
    }
    q.el.className = st.state === "enrolled" ? "q-ok" : st.state === "full" ? "q-wait" : "";
    q.el.dataset.state = st.state;
    set(q.el.querySelector(".c-code"), code);
    set(q.el.querySelector(".q-pos"), pos);
    set(q.el.querySelector(".q-msg"), msg);
    const b = q.el.querySelector(".q-act");
    set(b, act); b.hidden = !act; b.setAttribute("aria-label", act + ": " + code);
  }
  // set changes text only when it differs, so the live region announces
  // changes, not every poll.
  function set(el, t) { if (el.textContent !== t) el.textContent = t; }

  async function queueAction(id) {
    const q = queues.get(id);
    if (!q || !q.st) return;
    if (q.st.state === "enrolled") { drop(id); $("enr-h").focus(); return; }
    try {
      await api("DELETE", "/api/courses/" + id + "/queue");
      drop(id);
    } catch (e) {
      if (e.status === 404) { drop(id); return; }
      fail(e, "Leaving the queue");
    }
    $("courses-h").focus();
  }

  // ----- enrollments -----
  async function loadEnrollments() {
    try {
      const { data } = await api("GET", "/api/enrollments");
      enrolled = new Map(data.enrollments.map((e) => [e.courseId, e]));
      renderEnrollments();
      for (const id of enrolled.keys()) refreshRow(id);
    } catch (e) { fail(e, "Loading your enrollments"); }
  }

  function renderEnrollments() {
    const ul = $("enrollments");
    ul.textContent = "";
    $("enr-empty").hidden = enrolled.size > 0;
    for (const e of enrolled.values()) {
      const li = document.createElement("li");
      li.dataset.course = e.courseId;
      li.innerHTML = '<div class="c-main"><span class="c-code"></span><span class="c-title"></span></div><button type="button" class="secondary cancel">Cancel</button>';
      li.querySelector(".c-code").textContent = e.code;
      li.querySelector(".c-title").textContent = "Enrolled " + new Date(e.enrolledAt).toLocaleString();
      const b = li.querySelector(".cancel");
      b.setAttribute("aria-label", "Cancel enrollment in " + e.code);
      b.addEventListener("click", () => confirmCancel(li, e));
      ul.append(li);
    }
    for (const c of courses.values()) refreshRow(c.id);
  }

  // Cancelling gives the seat away: ask once, in the page, keyboard first.
  function confirmCancel(li, e) {
    const box = document.createElement("div");
    box.className = "confirm";
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", "Confirm cancellation");
    box.innerHTML = '<span>Give up your seat in <b></b>?</span> <button type="button" class="yes">Yes, cancel</button> <button type="button" class="secondary no">Keep my seat</button>';
    box.querySelector("b").textContent = e.code;
    li.querySelector(".cancel").hidden = true;
    li.append(box);
    box.querySelector(".no").addEventListener("click", () => { box.remove(); const b = li.querySelector(".cancel"); b.hidden = false; b.focus(); });
    box.querySelector(".yes").addEventListener("click", async () => {
      try {
        await api("DELETE", "/api/enrollments/" + e.courseId);
        notice("Your enrollment in " + e.code + " is cancelled.");
      } catch (err) {
        if (err.status !== 404) { fail(err, "Cancelling " + e.code); return; }
      }
      drop(e.courseId);
      await loadEnrollments(); loadCourses(epoch);
      $("enr-h").focus();
    });
    box.querySelector(".no").focus();
  }

  // ----- course materials -----
  // Staff upload straight to S3 with the presigned POST the app issues,
  // then the app records the file; everyone signed in downloads through
  // short-lived signed links. Asked for only when the section is opened:
  // at the rush, signing in costs no extra request.
  const kb = (n) => n < 1048576 ? Math.max(1, Math.round(n / 1024)) + " KB" : (n / 1048576).toFixed(1) + " MB";
  function materialCourses() {
    const sel = $("mat-course"), cur = sel.value;
    const opts = [...courses.values()].map((c) => c.id + ":" + c.code).join();
    if (sel.dataset.opts === opts) return;
    sel.dataset.opts = opts; sel.textContent = "";
    for (const c of courses.values()) sel.append(new Option(c.code + " – " + c.title, c.id));
    if (cur && courses.has(Number(cur))) sel.value = cur;
    loadMaterials();
  }
  async function loadMaterials() {
    const id = $("mat-course").value;
    if (!id || !$("materials").open) return;
    try {
      const { data } = await api("GET", "/api/courses/" + id + "/materials");
      if ($("mat-course").value !== id) return;
      const ul = $("mat-list");
      ul.textContent = "";
      for (const m of data.materials) {
        const li = document.createElement("li"), a = document.createElement("a");
        a.href = m.url; a.textContent = m.filename; a.setAttribute("download", m.filename);
        li.append(a, " ", Object.assign(document.createElement("span"), { className: "hint", textContent: (m.contentType.split("/")[1] || "").toUpperCase() + ", " + kb(m.size) }));
        ul.append(li);
      }
      $("mat-empty").textContent = "No materials for this course yet.";
      $("mat-empty").hidden = data.materials.length > 0;
      $("mat-form").hidden = !data.canUpload;
    } catch (e) {
      if (e.code !== "not_found") { fail(e, "Loading materials"); return; }
      $("mat-empty").textContent = "Course materials are not available here."; $("mat-empty").hidden = false;
    }

  }
  $("mat-course").addEventListener("change", () => { $("mat-status").textContent = ""; loadMaterials(); });
  $("materials").addEventListener("toggle", loadMaterials);
  $("mat-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = $("mat-file").files[0], st = $("mat-status"), id = $("mat-course").value, btn = $("mat-btn");
    if (!f) { st.textContent = "Choose a file first."; return; }
    btn.disabled = true; st.textContent = "Uploading " + f.name + "…";
    try {
      const { data: p } = await api("POST", "/api/courses/" + id + "/materials/uploads", { filename: f.name, contentType: f.type, size: f.size }, 2);
      const fd = new FormData();
      for (const [k, v] of Object.entries(p.fields)) fd.append(k, v);
      fd.append("file", f); // S3 reads no field after the file
      const res = await fetch(p.url, { method: "POST", body: fd, credentials: "omit" });
      if (!res.ok) {
        const m = /<Message>([^<]*)/.exec(await res.text());
        throw new ApiError(res.status, "storage", "storage refused the file" + (m ? ": " + m[1] : ""));
      }
      await api("POST", "/api/courses/" + id + "/materials", { key: p.key }, 2);
      st.textContent = f.name + " is uploaded.";
      $("mat-file").value = "";
      await loadMaterials();
    } catch (e) {
      if (e.status === 401) { expired(); return; }
      st.textContent = "Upload failed: " + (e.message || e.code) + ".";
    } finally { btn.disabled = false; }
  });

  // ----- boot: signed in already? -----
  (async () => {
    try {
      await api("GET", "/api/enrollments");
      start();
    } catch (e) {
      if (e.status === 401) showSignin("");
      else { showSignin(""); fail(e, "Loading"); }
    }
  })();
})();
