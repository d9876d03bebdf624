// chinwag's web client: plain JavaScript, no build step, nothing loaded
// from elsewhere. It speaks the WebSocket protocol of docs/websocket.md:
// the native requests and frames as JSON.
"use strict";

const $ = (id) => document.getElementById(id);
const PAGE = 50;
const MUTED_FOR_GOOD = 2 ** 53; // u64::MAX reads as a larger number in JS
const BROADCAST = "*";

// ------------------------------------------------------------ the connection

/** One WebSocket, its requests by rid, its greeting and login. */
class Connection {
  constructor(handlers) {
    this.handlers = handlers;
    this.pending = new Map();
    this.nextRid = 1;
    this.ws = null;
  }

  open(login) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/ws`);
    this.ws = ws;
    ws.onopen = async () => {
      try {
        const welcome = await this.request("hello", { version: 1, client: "chinwag-web/1" });
        this.heartbeat(welcome.heartbeat_secs);
        const registered = await this.request("register", {
          name: login.name, password: login.password, take_offline: true, multi_session: true,
        });
        this.handlers.registered(registered);
      } catch (error) {
        this.handlers.refused(error);
      }
    };
    ws.onmessage = (e) => this.receive(JSON.parse(e.data));
    ws.onclose = (e) => {
      clearInterval(this.pinger);
      for (const { reject } of this.pending.values()) reject({ code: 0, message: "disconnected" });
      this.pending.clear();
      if (this.ws === ws) this.handlers.closed(e.code, e.reason);
    };
  }

  heartbeat(secs) {
    clearInterval(this.pinger);
    const every = Math.max(1, (secs || 30) * 0.8) * 1000;
    this.pinger = setInterval(() => this.request("ping").catch(() => {}), every);
  }

  receive(msg) {
    if (msg.rid && this.pending.has(msg.rid)) {
      const { resolve, reject } = this.pending.get(msg.rid);
      this.pending.delete(msg.rid);
      if (msg.type === "error") reject(msg.body);
      else resolve(msg.body);
      return;
    }
    this.handlers.event(msg);
  }

  /** Sends a request; resolves with the reply's body, rejects with an error's. */
  request(type, body) {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject({ code: 0, message: "not connected" });
        return;
      }
      const rid = this.nextRid++;
      this.pending.set(rid, { resolve, reject });
      const msg = body === undefined ? { rid, type } : { rid, type, body };
      this.ws.send(JSON.stringify(msg));
    });
  }

  close() {
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, "bye");
  }
}

// ------------------------------------------------------------ the model

/** Name keys: names compare without regard to case. */
const key = (name) => name.toLowerCase();

const state = {
  me: null,            // as registered
  account: false,
  admin: false,
  muted: null,         // server-wide mute: until (ms) or MUTED_FOR_GOOD
  login: null,         // {name, password}, kept in memory for reconnects
  convs: new Map(),    // key -> conversation
  current: null,       // key of the open conversation
  online: new Map(),   // key -> name
  lastId: 0,           // newest message id seen (for catch-up)
  reconnectDelay: 1000,
  everConnected: false,
  final: null,         // a reason not to reconnect (kicked, banned)
  notify: false,
  markers: new Map(),  // conversation key -> newest id read (accounts)
};

function conv(k, init) {
  let c = state.convs.get(k);
  if (!c) {
    c = {
      key: k, name: init.name, room: init.room || false, messages: [], ids: new Set(),
      unread: 0, mentions: 0, topic: "", role: "none", members: null,
      complete: false, loaded: false, muted: null, loading: false,
    };
    state.convs.set(k, c);
  }
  return c;
}

function convOf(m) {
  if (m.kind === "room") return conv(key(m.to), { name: m.to, room: true });
  if (m.kind === "broadcast") return conv(BROADCAST, { name: "Everyone" });
  const other = key(m.from) === key(state.me) ? m.to : m.from;
  return conv(key(other), { name: other });
}

const mentions = (text) =>
  state.me && new RegExp(`(^|[^\\p{L}\\p{N}_])@?${escapeRe(state.me)}($|[^\\p{L}\\p{N}_])`, "iu").test(text);
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Adds messages (live, offline or from history) to their conversations. */
function addMessages(list, { live = false } = {}) {
  const touched = new Set();
  for (const m of list) {
    const c = convOf(m);
    if (c.ids.has(m.id)) continue;
    c.ids.add(m.id);
    c.messages.push(m);
    state.lastId = Math.max(state.lastId, m.id);
    touched.add(c);
    if (live && key(m.from) !== key(state.me)) {
      const mentioned = c.key !== BROADCAST && (m.kind === "direct" || mentions(m.text));
      const looking = c.key === state.current && !document.hidden;
      if (!looking) {
        c.unread++;
        if (mentioned && m.kind !== "direct") c.mentions++;
      }
      if (mentioned && (document.hidden || !looking)) notifyAbout(m, c);
    }
  }
  for (const c of touched) c.messages.sort((a, b) => a.id - b.id);
  const open = state.convs.get(state.current);
  if (open && touched.has(open) && !document.hidden) markRead(open);
  renderSidebar();
  if (touched.has(state.convs.get(state.current))) renderMessages({ stick: live });
}

// ------------------------------------------------------------ the socket's handlers

const conn = new Connection({
  registered(r) {
    state.me = r.name;
    state.admin = r.role === "admin";
    state.muted = r.muted ? r.muted : null;
    state.reconnectDelay = 1000;
    const again = state.everConnected;
    state.everConnected = true;
    showChat();
    setConnection("online", "connected");
    afterLogin(again);
  },
  refused(error) {
    const message = error && error.message ? error.message : "could not log in";
    if (!state.everConnected) {
      state.final = message;
      conn.close();
      showLogin(message);
    } else {
      // Refused on a reconnect (the old session may still hold a guest's
      // name): close, and the retry comes as after any drop.
      setConnection("offline", message);
      if (conn.ws) conn.ws.close();
    }
  },
  closed(code, reason) {
    if (state.final || code === 4001 || code === 4002) {
      state.final = state.final || reason || "disconnected";
      setConnection("offline", state.final);
      if (!state.everConnected) showLogin(state.final);
      else setBanner(`Disconnected: ${state.final}`);
      return;
    }
    if (code === 1000 && reason === "logged out") return;
    const wait = state.reconnectDelay;
    state.reconnectDelay = Math.min(wait * 2, 15000);
    setConnection("offline", `offline, retrying in ${Math.round(wait / 1000)} s`);
    setTimeout(() => {
      setConnection("connecting", "reconnecting…");
      conn.open(state.login);
    }, wait);
  },
  event(msg) { onEvent(msg.type, msg.body); },
});

async function afterLogin(again) {
  try {
    const [rooms, users] = await Promise.all([
      conn.request("rooms", {}), conn.request("get_all_user", {}),
    ]);
    state.online = new Map(users.map((u) => [key(u.name), u.name]));
    const mine = new Set();
    for (const r of rooms) {
      if (r.role === "none") continue;
      const c = conv(key(r.room), { name: r.room, room: true });
      c.topic = r.topic;
      c.role = r.role;
      mine.add(c.key);
    }
    // Rooms this page was in and the server forgot (a guest's, after a
    // restart): joined again.
    for (const c of state.convs.values()) {
      if (c.room && c.joined && !mine.has(c.key)) {
        await joinRoom(c.name, { open: false }).catch(() => {});
      }
    }
    for (const k of mine) state.convs.get(k).joined = true;
    renderSidebar();
    if (again) await catchUp();
    else {
      await loadRecent();
      await unreadFromMarkers();
    }
    if (state.current) openConversation(state.current);
  } catch (error) {
    console.warn("after login", error);
  }
}

/** The first screen: the newest page of each conversation. */
async function loadRecent() {
  const reads = [conn.request("history", { dst: state.account ? "@me" : BROADCAST, limit: PAGE })];
  for (const c of state.convs.values()) {
    if (c.room) reads.push(conn.request("history", { dst: c.name, limit: PAGE }));
  }
  const pages = await Promise.allSettled(reads);
  for (const p of pages) if (p.status === "fulfilled") addMessages(p.value);
  if (!state.current) {
    const first = [...state.convs.values()].find((c) => c.room) || state.convs.get(BROADCAST);
    if (first) openConversation(first.key);
  }
}

/** An account's unread counts at login: what came after each read marker
 * (kept by the server, so a conversation read in the terminal is read here
 * too). */
async function unreadFromMarkers() {
  if (!state.account) return;
  const markers = await conn.request("read_markers", {}).catch(() => []);
  for (const m of markers) state.markers.set(key(m.conversation), m.id);
  for (const c of state.convs.values()) {
    const read = state.markers.get(c.key);
    if (read === undefined || c.key === state.current) continue;
    c.unread = c.messages.filter((m) => !m.system && m.id > read && key(m.from) !== key(state.me)).length;
  }
  renderSidebar();
}

/** Tells the server (for an account) that `c` is read up to its newest message. */
function markRead(c) {
  if (!state.account) return;
  const newest = c.messages.filter((m) => !m.system && !m.pending && Number.isInteger(m.id)).at(-1);
  if (!newest || newest.id <= (state.markers.get(c.key) || 0)) return;
  state.markers.set(c.key, newest.id);
  const conversation = c.key === BROADCAST ? BROADCAST : c.name;
  conn.request("mark_read", { conversation, id: newest.id }).catch(() => {});
}

/** After a reconnect: everything since the newest message seen. */
async function catchUp() {
  const after = state.lastId;
  const conversations = [state.account ? "@me" : BROADCAST];
  for (const c of state.convs.values()) if (c.room && c.joined) conversations.push(c.name);
  for (const dst of conversations) {
    let before = 0;
    for (let i = 0; i < 20; i++) {
      const page = await conn.request("history", { dst, after, before, limit: PAGE }).catch(() => []);
      addMessages(page, { live: true });
      if (page.length < PAGE) break;
      before = page[page.length - 1].id;
    }
  }
}

function onEvent(type, b) {
  switch (type) {
    case "message":
      // Client tags alone (a typing notification): not stored, nothing to
      // show yet; their id is outside the stored ones' (protocol.md 2.5).
      if (b.text) addMessages([b], { live: true });
      break;
    case "redacted":
      onRedacted(b);
      break;
    case "notice":
      onNotice(b);
      break;
    case "room_notice":
      onRoomNotice(b);
      break;
    case "user_update":
      onUserUpdate(b);
      break;
    case "error":
      // An error the server raised on its own: it closes the connection
      // next; say why meanwhile.
      setBanner(b.message);
      if (b.code === 304) state.final = b.message;
      break;
    default:
      break;
  }
}

/** A message was deleted: it gives way to "message deleted" where shown. */
function onRedacted(r) {
  for (const c of state.convs.values()) {
    const m = c.messages.find((m) => m.id === r.id);
    if (m) {
      m.text = "";
      m.redacted = r.actor;
      if (c.key === state.current) renderMessages();
    }
  }
}

function onNotice(n) {
  switch (n.kind) {
    case "joined":
      state.online.set(key(n.subject), n.subject);
      renderSidebar();
      break;
    case "left":
      state.online.delete(key(n.subject));
      renderSidebar();
      break;
    case "kicked":
      state.final = `kicked by ${n.actor || "the server"}${n.text ? `: ${n.text}` : ""}`;
      setBanner(`You were ${state.final}`);
      break;
    case "banned":
      state.final = `banned by ${n.actor || "the server"}${n.text ? `: ${n.text}` : ""}`;
      setBanner(`You were ${state.final}`);
      break;
    case "muted":
      state.muted = n.until;
      setBanner(`You were muted by ${n.actor} ${untilText(n.until)}${n.text ? ` (${n.text})` : ""}`);
      renderComposer();
      break;
    case "unmuted":
      state.muted = null;
      setBanner(n.actor ? `${n.actor} lifted your mute` : "Your mute ran out");
      renderComposer();
      break;
    case "shutdown":
      setConnection("connecting", "the server is restarting…");
      break;
    case "catch-up":
      catchUpFrom(n.until);
      break;
    default:
      break;
  }
}

// A user changed its name, away message or real name (USER_UPDATE).
function onUserUpdate(u) {
  if (!u.old_name) return;
  // A rename: the online list follows it; the rooms' member lists are
  // asked again, and a direct conversation with the old name says so.
  state.online.delete(key(u.old_name));
  state.online.set(key(u.name), u.name);
  if (state.me && key(u.old_name) === key(state.me)) state.me = u.name;
  const c = state.convs.get(key(u.old_name));
  if (c && !c.room) {
    c.messages.push({ system: true, ts: u.ts, text: `${u.old_name} is now known as ${u.name}`, id: (c.messages.at(-1)?.id ?? 0) + 0.001 });
  }
  for (const room of state.convs.values()) if (room.room && room.members) refreshMembers(room);
  renderSidebar();
  if (c && state.current === c.key) renderMessages({ stick: true });
}

async function catchUpFrom(until) {
  let before = 0;
  for (let i = 0; i < 20; i++) {
    const page = await conn.request("history", { dst: "@me", after: until, before, limit: PAGE }).catch(() => []);
    addMessages(page, { live: true });
    if (page.length < PAGE) return;
    before = page[page.length - 1].id;
  }
}

function onRoomNotice(n) {
  const c = conv(key(n.room), { name: n.room, room: true });
  const me = state.me && key(n.subject) === key(state.me);
  let line = null;
  switch (n.kind) {
    case "room-joined": line = `${n.subject} joined`; break;
    case "room-left": line = `${n.subject} left${n.text ? ` (${n.text})` : ""}`; break;
    case "room-topic":
      c.topic = n.text;
      line = n.text ? `${n.actor} set the topic: ${n.text}` : `${n.actor} cleared the topic`;
      break;
    case "room-kicked":
      line = `${n.subject} was put out by ${n.actor}${n.text ? `: ${n.text}` : ""}`;
      if (me) { c.joined = false; c.role = "none"; }
      break;
    case "room-muted":
      line = `${n.subject} was muted by ${n.actor} ${untilText(n.until)}${n.text ? ` (${n.text})` : ""}`;
      if (me) c.muted = n.until;
      break;
    case "room-unmuted":
      line = `${n.subject} may talk again`;
      if (me) c.muted = null;
      break;
    case "room-role": {
      const role = ["none", "member", "operator", "owner"][n.until] || "member";
      line = `${n.subject} is now ${role === "operator" ? "an operator" : `the ${role}`}`;
      if (me) c.role = role;
      break;
    }
    case "room-mode": line = `${n.actor} changed the room's mode`; break;
    case "room-invited": line = `${n.actor} invited ${n.subject}`; break;
    default: break;
  }
  if (line) c.messages.push({ system: true, ts: n.ts, text: line, id: (c.messages.at(-1)?.id ?? 0) + 0.001 });
  if (c.members) refreshMembers(c);
  renderSidebar();
  if (state.current === c.key) { renderHeader(); renderMessages({ stick: true }); renderComposer(); }
}

const untilText = (until) =>
  !until || until >= MUTED_FOR_GOOD ? "until lifted" : `until ${new Date(until).toLocaleString()}`;

// ------------------------------------------------------------ notifications

function notifyAbout(m, c) {
  if (!state.notify || !("Notification" in window) || Notification.permission !== "granted") return;
  const title = m.kind === "direct" ? m.from : `${m.from} in ${c.name}`;
  const n = new Notification(title, { body: m.text.slice(0, 200), tag: `chinwag-${c.key}` });
  n.onclick = () => { window.focus(); openConversation(c.key); };
}

async function enableNotifications() {
  if (!("Notification" in window)) { setBanner("This browser has no notifications"); return; }
  const permission = await Notification.requestPermission();
  state.notify = permission === "granted";
  setBanner(state.notify ? "Notifications on for direct messages and mentions" : "Notifications were not allowed");
}

// ------------------------------------------------------------ actions

async function joinRoom(name, { open = true, password = "" } = {}) {
  const room = name.startsWith("#") ? name : `#${name}`;
  const [info] = await conn.request("join", { room, password });
  const c = conv(key(info ? info.room : room), { name: info ? info.room : room, room: true });
  c.joined = true;
  if (info) { c.topic = info.topic; c.role = info.role; }
  const page = await conn.request("history", { dst: c.name, limit: PAGE }).catch(() => []);
  addMessages(page);
  if (page.length < PAGE) c.complete = true;
  renderSidebar();
  if (open) openConversation(c.key);
}

/** An action (`/me waves`) in the form every front end carries it
 * (protocol.md 2.4, IRC's CTCP ACTION); `null` for a plain text. */
const ACTION_START = "\u0001ACTION ";
function actionOf(text) {
  return text.startsWith(ACTION_START) && text.endsWith("\u0001") && text.length > ACTION_START.length + 1
    ? text.slice(ACTION_START.length, -1)
    : null;
}

async function send(text) {
  const c = state.convs.get(state.current);
  if (!c || !text.trim()) return;
  if (text.startsWith("/me ") && text.slice(4).trim()) text = `${ACTION_START}${text.slice(4).trim()}\u0001`;
  const local = { id: Number.MAX_SAFE_INTEGER, ts: Date.now(), from: state.me, text, pending: true, kind: "direct" };
  c.messages.push(local);
  renderMessages({ stick: true });
  try {
    let sent;
    if (c.room) sent = await conn.request("room_send", { room: c.name, content: text });
    else if (c.key === BROADCAST) sent = await conn.request("broadcast", { content: text });
    else sent = await conn.request("transfer", { dst: c.name, content: text });
    c.messages.splice(c.messages.indexOf(local), 1);
    const kind = c.room ? "room" : c.key === BROADCAST ? "broadcast" : "direct";
    addMessages([{ id: sent.id, ts: sent.ts, kind, from: state.me, to: c.room || kind === "direct" ? c.name : "", text }]);
  } catch (error) {
    local.pending = false;
    local.failed = error.message || "not sent";
    renderMessages({ stick: true });
  }
}

/** The next older page of the open conversation (scrolling up). */
async function loadOlder() {
  const c = state.convs.get(state.current);
  if (!c || c.complete || c.loading) return;
  const oldest = c.messages.find((m) => !m.system && !m.pending);
  if (c.key !== BROADCAST && !c.room && !state.account) { c.complete = true; renderHistoryState(c); return; }
  c.loading = true;
  renderHistoryState(c);
  const scroller = $("scroller");
  const fromBottom = scroller.scrollHeight - scroller.scrollTop;
  try {
    const page = await conn.request("history", { dst: c.key === BROADCAST ? BROADCAST : c.name, before: oldest ? oldest.id : 0, limit: PAGE });
    if (page.length < PAGE) c.complete = true;
    addMessages(page);
  } catch (error) {
    c.complete = true;
  } finally {
    c.loading = false;
    renderHistoryState(c);
    scroller.scrollTop = scroller.scrollHeight - fromBottom;
  }
}

async function refreshMembers(c) {
  try {
    const list = await conn.request("members", { room: c.name });
    c.members = list.members;
    const mine = c.members.find((m) => key(m.name) === key(state.me));
    if (mine) c.role = mine.role;
    if (state.current === c.key) { renderMembers(); renderComposer(); }
  } catch (error) {
    setBanner(error.message);
  }
}

/** Runs a request and says what went wrong, if it did. */
async function act(type, body, done) {
  try {
    const reply = await conn.request(type, body);
    if (done) setBanner(done);
    return reply;
  } catch (error) {
    setBanner(error.message || "refused");
    return null;
  }
}

const DURATIONS = [["5 minutes", 300], ["1 hour", 3600], ["1 day", 86400], ["1 week", 604800], ["Until lifted", 0]];

/** A dialog asking for a duration (when `duration`) and a reason. */
function askReason(title, { duration = false } = {}) {
  const body = [];
  if (duration) {
    const select = el("select", { id: "ask-duration" });
    for (const [label, secs] of DURATIONS) select.append(el("option", { value: String(secs) }, label));
    body.push(el("label", {}, "For", select));
  }
  body.push(el("label", {}, "Reason", el("input", { id: "ask-reason", maxlength: "200" })));
  return dialog(title, body).then((ok) => ok && {
    secs: duration ? Number($("ask-duration").value) : 0,
    reason: $("ask-reason").value,
  });
}

function memberMenu(c, member, anchor) {
  const items = [];
  const mod = ["operator", "owner"].includes(c.role);
  const name = member.name;
  const self = key(name) === key(state.me);
  if (!self) items.push(["Message", () => openDirect(name)]);
  if (mod && !self) {
    items.push(["label", `In ${c.name}`]);
    items.push(["Mute…", async () => {
      const a = await askReason(`Mute ${name} in ${c.name}`, { duration: true });
      if (a) await act("room_mute", { room: c.name, user: name, duration_secs: a.secs, reason: a.reason }, `${name} is muted in ${c.name}`);
    }]);
    items.push(["Unmute", () => act("room_unmute", { room: c.name, user: name }, `${name} may talk in ${c.name} again`)]);
    items.push(["Kick from room…", async () => {
      const a = await askReason(`Put ${name} out of ${c.name}`);
      if (a) await act("room_kick", { room: c.name, user: name, reason: a.reason });
    }, "danger"]);
    if (c.role === "owner") {
      items.push(member.role === "operator"
        ? ["Remove operator", () => act("room_op", { room: c.name, user: name, operator: false })]
        : ["Make operator", () => act("room_op", { room: c.name, user: name, operator: true })]);
    }
  }
  if (state.admin && !self) adminItems(name, items);
  showMenu(anchor, items);
}

function adminItems(name, items) {
  items.push(["label", "Server"]);
  items.push(["Mute everywhere…", async () => {
    const a = await askReason(`Mute ${name} on the server`, { duration: true });
    if (a) await act("bantalk", { dst: name, duration_secs: a.secs, reason: a.reason }, `${name} is muted`);
  }]);
  items.push(["Unmute everywhere", () => act("unmute", { dst: name }, `${name} may talk again`)]);
  items.push(["Kick…", async () => {
    const a = await askReason(`Kick ${name} off the server`);
    if (a) await act("kickout", { dst: name, reason: a.reason }, `${name} was kicked`);
  }, "danger"]);
  items.push(["Ban…", async () => {
    const a = await askReason(`Ban ${name}`, { duration: true });
    if (a) await act("ban", { dst: name, duration_secs: a.secs, reason: a.reason }, `${name} is banned`);
  }, "danger"]);
}

function mainMenu(anchor) {
  const items = [];
  items.push(["Everyone (broadcast)", () => { conv(BROADCAST, { name: "Everyone" }); openConversation(BROADCAST); }]);
  if ("Notification" in window && !state.notify) items.push(["Enable notifications", enableNotifications]);
  if (!state.admin) {
    items.push(["Become administrator…", async () => {
      const input = el("input", { id: "ask-password", type: "password", autocomplete: "off" });
      if (await dialog("Administrator password", [el("label", {}, "Password", input)])) {
        const ok = await act("admin", { password: $("ask-password").value }, "You are an administrator now");
        if (ok) state.admin = true;
      }
    }]);
  } else {
    items.push(["Audit log", showAudit]);
  }
  items.push(["Log out", async () => {
    state.final = "logged out";
    await conn.request("logout", {}).catch(() => {});
    conn.close();
    location.reload();
  }, "danger"]);
  showMenu(anchor, items);
}

function convMenu(anchor) {
  const c = state.convs.get(state.current);
  if (!c) return;
  const items = [];
  if (c.room) {
    items.push(["Members", () => toggleMembers(true)]);
    if (["operator", "owner"].includes(c.role)) {
      items.push(["Set topic…", async () => {
        const input = el("input", { id: "ask-topic", value: c.topic, maxlength: "300" });
        if (await dialog(`Topic of ${c.name}`, [el("label", {}, "Topic", input)])) {
          await act("topic", { room: c.name, topic: $("ask-topic").value });
        }
      }]);
    }
    items.push(["Leave room", async () => {
      if (await act("part", { room: c.name, reason: "" })) {
        c.joined = false;
        state.convs.delete(c.key);
        state.current = null;
        renderSidebar();
        showList();
      }
    }, "danger"]);
  } else if (c.key !== BROADCAST && state.admin) {
    adminItems(c.name, items);
  }
  if (items.length) showMenu(anchor, items);
}

async function showAudit() {
  const entries = await act("audit", { before: 0, limit: 50 });
  if (!entries) return;
  const table = el("table", { class: "audit" },
    el("thead", {}, el("tr", {}, ...["When", "Who", "What", "Whom", "Until", "Why"].map((h) => el("th", {}, h)))));
  const tbody = el("tbody");
  for (const e of entries) {
    tbody.append(el("tr", {},
      el("td", {}, new Date(e.ts).toLocaleString()), el("td", {}, e.actor || "server"),
      el("td", {}, e.action), el("td", {}, e.target),
      el("td", {}, e.until ? untilText(e.until).replace("until ", "") : ""), el("td", {}, e.reason)));
  }
  table.append(tbody);
  await dialog("Audit log", [entries.length ? table : el("p", {}, "Nothing yet.")], { cancel: false });
}

function openDirect(name) {
  const c = conv(key(name), { name });
  if (!c.loaded && state.account) {
    c.loaded = true;
    conn.request("history", { dst: name, limit: PAGE }).then((page) => {
      if (page.length < PAGE) c.complete = true;
      addMessages(page);
    }).catch(() => { c.complete = true; });
  } else if (!state.account) {
    c.complete = true;
  }
  openConversation(c.key);
}

// ------------------------------------------------------------ rendering

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function showLogin(error) {
  $("chat").hidden = true;
  $("login").hidden = false;
  $("login-button").disabled = false;
  $("login-error").textContent = error || "";
}

function showChat() {
  $("login").hidden = true;
  $("chat").hidden = false;
  $("me").textContent = state.me + (state.account ? "" : " (guest)");
}

function setConnection(status, text) {
  const node = $("conn");
  node.className = `conn ${status}`;
  $("conn-text").textContent = text;
}

let bannerTimer = null;
function setBanner(text) {
  const node = $("banner");
  node.textContent = text;
  node.hidden = !text;
  clearTimeout(bannerTimer);
  if (text && !state.final) bannerTimer = setTimeout(() => { node.hidden = true; }, 8000);
}

function renderSidebar() {
  const rooms = [], dms = [];
  for (const c of state.convs.values()) {
    if (c.room) { if (c.joined) rooms.push(c); } else dms.push(c);
  }
  rooms.sort((a, b) => a.name.localeCompare(b.name));
  const newest = (c) => c.messages.at(-1)?.id ?? 0;
  dms.sort((a, b) => newest(b) - newest(a));
  fillList($("rooms"), rooms);
  fillList($("dms"), dms);
  const people = $("people");
  people.replaceChildren();
  for (const [k, name] of [...state.online].sort((a, b) => a[1].localeCompare(b[1]))) {
    if (k === key(state.me || "")) continue;
    people.append(el("li", {}, el("button", { type: "button", onclick: () => openDirect(name), title: `Message ${name}` },
      el("span", { class: "dot" }), el("span", { class: "name" }, name))));
  }
  const unread = [...state.convs.values()].reduce((n, c) => n + c.unread, 0);
  document.title = unread ? `(${unread}) chinwag` : "chinwag";
}

function fillList(list, convs) {
  list.replaceChildren();
  for (const c of convs) {
    const button = el("button", {
      type: "button", class: c.key === state.current ? "active" : "",
      onclick: () => openConversation(c.key), "data-conv": c.key,
    });
    if (!c.room && c.key !== BROADCAST) {
      button.append(el("span", { class: state.online.has(c.key) ? "dot" : "dot off" }));
    }
    button.append(el("span", { class: "name" }, c.name));
    if (c.unread) button.append(el("span", { class: c.mentions || !c.room ? "badge mention" : "badge" }, String(c.unread)));
    list.append(el("li", { class: c.unread ? "unread" : "" }, button));
  }
}

function openConversation(k) {
  const c = state.convs.get(k);
  if (!c) return;
  state.current = k;
  c.unread = 0;
  c.mentions = 0;
  markRead(c);
  $("chat").classList.add("in-conversation");
  renderSidebar();
  renderHeader();
  renderMessages({ stick: true });
  renderComposer();
  if (c.room && !$("members").hidden) refreshMembers(c);
  if (!c.room) toggleMembers(false);
  const scroller = $("scroller");
  if (scroller.scrollHeight <= scroller.clientHeight) loadOlder();
}

function showList() {
  $("chat").classList.remove("in-conversation");
}

function renderHeader() {
  const c = state.convs.get(state.current);
  $("title").textContent = c ? c.name : "chinwag";
  $("topic").textContent = c && c.room ? c.topic : c && state.online.has(c.key) ? "online" : "";
  $("members-button").hidden = !(c && c.room);
  $("conv-menu-button").hidden = !(c && (c.room || state.admin));
}

function dayOf(ts) {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

function dayLabel(ts) {
  const d = new Date(ts);
  const today = new Date();
  const yesterday = new Date(Date.now() - 86400000);
  if (dayOf(ts) === dayOf(today)) return "Today";
  if (dayOf(ts) === dayOf(yesterday)) return "Yesterday";
  return d.toLocaleDateString(undefined, { weekday: "long", year: "numeric", month: "long", day: "numeric" });
}

function renderMessages({ stick = false } = {}) {
  const c = state.convs.get(state.current);
  const list = $("messages");
  const scroller = $("scroller");
  const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
  list.replaceChildren();
  if (!c) return;
  let lastDay = null, lastFrom = null, lastTs = 0;
  for (const m of c.messages) {
    const day = dayOf(m.ts);
    if (day !== lastDay) {
      list.append(el("li", { class: "day" }, dayLabel(m.ts)));
      lastDay = day;
      lastFrom = null;
    }
    if (m.system) {
      list.append(el("li", { class: "system" }, m.text));
      lastFrom = null;
      continue;
    }
    const item = el("li", { "data-id": String(m.id) });
    if (m.pending) item.classList.add("pending");
    if (m.failed) item.classList.add("failed");
    if (key(m.from) !== key(state.me) && m.kind !== "direct" && mentions(m.text)) item.classList.add("mention");
    const time = new Date(m.ts);
    if (m.from !== lastFrom || m.ts - lastTs > 5 * 60000) {
      item.append(el("div", { class: "meta" }, el("span", { class: "from" }, m.from),
        el("time", { datetime: time.toISOString(), title: time.toLocaleString() },
          time.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }))));
    }
    const action = actionOf(m.text);
    if (m.redacted) item.append(el("div", { class: "text redacted" }, `message deleted by ${m.redacted}`));
    else if (action !== null) item.append(el("div", { class: "text action" }, `* ${m.from} ${action}`));
    else if (m.notice) item.append(el("div", { class: "text notice", title: "notice" }, m.text));
    else item.append(el("div", { class: "text" }, m.text));
    if (m.failed) item.append(el("div", { class: "system" }, `not sent: ${m.failed}`));
    list.append(item);
    lastFrom = m.from;
    lastTs = m.ts;
  }
  renderHistoryState(c);
  if (stick && atBottom || stick === "force") scroller.scrollTop = scroller.scrollHeight;
  else if (stick && !atBottom && c.messages.at(-1)?.from === state.me) scroller.scrollTop = scroller.scrollHeight;
}

function renderHistoryState(c) {
  $("history-state").textContent = c.loading ? "Loading older messages…"
    : c.complete ? (c.messages.length ? "The beginning of the conversation" : "No messages yet") : "";
}

function renderComposer() {
  const c = state.convs.get(state.current);
  const now = Date.now();
  const serverMuted = state.muted && state.muted > now;
  const roomMuted = c && c.muted && c.muted > now;
  const disabled = !c || (c.room && !c.joined) || serverMuted || roomMuted;
  $("text").disabled = disabled;
  $("send").disabled = disabled;
  $("text").placeholder = serverMuted ? `You are muted ${untilText(state.muted)}`
    : roomMuted ? `You are muted in ${c.name} ${untilText(c.muted)}`
      : c ? `Message ${c.name}` : "Message";
}

function toggleMembers(show) {
  const c = state.convs.get(state.current);
  $("members").hidden = !show;
  if (show && c && c.room) refreshMembers(c);
}

function renderMembers() {
  const c = state.convs.get(state.current);
  const list = $("member-list");
  list.replaceChildren();
  if (!c || !c.members) return;
  const order = { owner: 0, operator: 1, member: 2, none: 3 };
  for (const m of [...c.members].sort((a, b) => order[a.role] - order[b.role] || a.name.localeCompare(b.name))) {
    const muted = m.muted && (m.muted >= MUTED_FOR_GOOD || m.muted > Date.now());
    list.append(el("li", { class: m.online ? "" : "offline" },
      el("span", { class: m.online ? "dot" : "dot off" }),
      el("span", { class: "name" }, m.name),
      el("span", { class: "role" }, [m.role !== "member" ? m.role : "", muted ? "muted" : ""].filter(Boolean).join(", ")),
      el("button", { type: "button", class: "icon", "aria-label": `Actions for ${m.name}`, onclick: (e) => memberMenu(c, m, e.currentTarget) }, "⋯")));
  }
}

// ------------------------------------------------------------ menus and dialogs

function showMenu(anchor, items) {
  const menu = $("menu");
  menu.replaceChildren();
  for (const [label, action, kind] of items) {
    if (label === "label") { menu.append(el("div", { class: "label" }, action)); continue; }
    menu.append(el("button", { type: "button", role: "menuitem", class: kind || "", onclick: () => { hideMenu(); action(); } }, label));
  }
  menu.hidden = false;
  const r = anchor.getBoundingClientRect();
  const width = menu.offsetWidth, height = menu.offsetHeight;
  menu.style.left = `${Math.max(4, Math.min(r.left, innerWidth - width - 4))}px`;
  menu.style.top = `${r.bottom + height + 4 > innerHeight ? Math.max(4, r.top - height - 4) : r.bottom + 4}px`;
}

function hideMenu() { $("menu").hidden = true; }

/** A modal dialog with `body`; resolves true on OK. */
function dialog(title, body, { cancel = true } = {}) {
  const d = $("dialog");
  $("dialog-title").textContent = title;
  $("dialog-body").replaceChildren(...body);
  $("dialog-cancel").hidden = !cancel;
  d.returnValue = "";
  d.showModal();
  const first = d.querySelector("#dialog-body input, #dialog-body select");
  if (first) first.focus();
  return new Promise((resolve) => {
    d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true });
  });
}

// ------------------------------------------------------------ wiring

function start() {
  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const name = $("login-name").value.trim();
    const password = $("login-password").value;
    if (!name) return;
    state.login = { name, password };
    state.account = password !== "";
    state.final = null;
    $("login-button").disabled = true;
    $("login-error").textContent = "";
    setConnection("connecting", "connecting…");
    conn.open(state.login);
  });
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("text").value;
    if (!text.trim()) return;
    $("text").value = "";
    send(text);
  });
  $("text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("join-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = $("join-room").value.trim();
    if (!name) return;
    try {
      await joinRoom(name);
      $("join-room").value = "";
    } catch (error) {
      if (error.code === 308) {
        const input = el("input", { id: "ask-room-password", type: "password" });
        if (await dialog(`Password of ${name}`, [el("label", {}, "Password", input)])) {
          await joinRoom(name, { password: $("ask-room-password").value }).catch((e2) => setBanner(e2.message));
        }
      } else {
        setBanner(error.message || "could not join");
      }
    }
  });
  $("scroller").addEventListener("scroll", () => { if ($("scroller").scrollTop < 60) loadOlder(); });
  $("menu-button").addEventListener("click", (e) => mainMenu(e.currentTarget));
  $("conv-menu-button").addEventListener("click", (e) => convMenu(e.currentTarget));
  $("members-button").addEventListener("click", () => toggleMembers($("members").hidden));
  $("members-close").addEventListener("click", () => toggleMembers(false));
  $("back").addEventListener("click", showList);
  document.addEventListener("click", (e) => {
    if (!$("menu").hidden && !$("menu").contains(e.target) && !e.target.closest("button.icon")) hideMenu();
  });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") hideMenu(); });
  document.addEventListener("visibilitychange", () => {
    const c = state.convs.get(state.current);
    if (!document.hidden && c) { c.unread = 0; c.mentions = 0; markRead(c); renderSidebar(); }
  });
  setInterval(renderComposer, 15000); // mutes run out
}

start();
