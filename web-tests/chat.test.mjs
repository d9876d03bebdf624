// End-to-end tests of the web client: a real chinwagd (built by cargo) and
// Debian's headless Chromium driven by playwright-core. Run by
// scripts/test (which installs chromium and runs `npm ci` here first), or
// by hand: `cargo build --bin chinwagd && cd web-tests && npm ci && npm test`.
//
// Screenshots go to $SCREENSHOT_DIR (default web-tests/out/);
// `SCREENSHOT_DIR=../docs/img npm test` renews the README's.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const CHINWAGD = process.env.CHINWAGD || resolve(here, "../target/debug/chinwagd");
const SHOTS = resolve(here, process.env.SCREENSHOT_DIR || "out");
const ADMIN_PASSWORD = "test-admin-password";
const PATIENCE = 15_000;

let browser;
let server;
const dataDir = mkdtempSync(join(tmpdir(), "chinwag-web-tests-"));

/** Starts chinwagd on `ports` (free ones when 0) and the test's data directory. */
function startServer(ports = { native: 0, web: 0 }) {
  const child = spawn(CHINWAGD, [
    "--listen", `127.0.0.1:${ports.native}`,
    "--web-listen", `127.0.0.1:${ports.web}`,
    "--data", dataDir,
    "--admin-password", ADMIN_PASSWORD,
  ], {
    env: { ...process.env, CHINWAG_RATE_REQUESTS: "0", CHINWAG_RATE_BYTES: "0", CHINWAG_LOG: "info", NO_COLOR: "1" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  return new Promise((ok, fail) => {
    let log = "";
    const timer = setTimeout(() => fail(new Error(`chinwagd did not start:\n${log}`)), PATIENCE);
    child.stderr.on("data", (chunk) => {
      log += chunk.toString();
      const url = log.match(/web listening url=(\S+)/);
      const native = log.match(/chinwagd listening .*addr=127\.0\.0\.1:(\d+)/);
      if (url && native) {
        clearTimeout(timer);
        const web = Number(new URL(url[1]).port);
        ok({ child, url: url[1], ports: { native: Number(native[1]), web } });
      }
    });
    child.on("exit", (code) => fail(new Error(`chinwagd exited with ${code}:\n${log}`)));
  });
}

function stopServer(s) {
  return new Promise((ok) => {
    s.child.once("exit", ok);
    s.child.kill("SIGTERM");
  });
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (server) await stopServer(server);
  rmSync(dataDir, { recursive: true, force: true });
});

/** A page of a fresh browser profile, logged in as `name`. */
async function login(name, password = "", viewport = { width: 1200, height: 760 }, colorScheme = "light") {
  const context = await browser.newContext({ viewport, colorScheme, locale: "en-GB", timezoneId: "UTC" });
  const page = await context.newPage();
  page.setDefaultTimeout(PATIENCE);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  page.on("console", (m) => { if (m.type() === "error") errors.push(new Error(m.text())); });
  page.errors = errors;
  await page.goto(server.url);
  await page.fill("#login-name", name);
  await page.fill("#login-password", password);
  await page.click("#login-button");
  await page.waitForSelector("#conn.online");
  return page;
}

const conversation = (page, name) => page.locator(`.convs button[data-conv="${name.toLowerCase()}"]`);
const messageText = (page, text) => page.locator("#messages li .text", { hasText: text });

async function say(page, text) {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
  await page.locator("#messages li:not(.pending) .text", { hasText: text }).first().waitFor();
}

async function joinRoom(page, room) {
  await page.fill("#join-room", room);
  await page.click("#join-form button");
  await page.waitForFunction((r) => document.getElementById("title").textContent.toLowerCase() === r, room.toLowerCase());
}

test("two users chat, with unread counts, CJK and emoji", async () => {
  const alice = await login("alice", "alice's password");
  const bob = await login("bob");
  // bob finds alice among the people online and writes to her.
  await bob.click("#people button:has-text('alice')");
  await say(bob, "hello alice 👋 你好");
  const badge = conversation(alice, "bob").locator(".badge");
  await badge.waitFor();
  assert.equal(await badge.textContent(), "1");
  await conversation(alice, "bob").click();
  await messageText(alice, "hello alice 👋 你好").waitFor();
  await say(alice, "hi bob! こんにちは 🎉");
  await messageText(bob, "hi bob! こんにちは 🎉").waitFor();
  // An action, as every front end carries it (IRC's /me).
  await alice.fill("#text", "/me waves");
  await alice.press("#text", "Enter");
  await messageText(bob, "* alice waves").waitFor();
  assert.equal(await alice.locator("#messages .day").first().textContent(), "Today");
  assert.ok((await alice.locator("#messages .from").allTextContents()).includes("bob"));
  assert.deepEqual(alice.errors, []);
  await alice.context().close();
  await bob.context().close();
});

test("one account in two browsers: both get its messages, and what one read is read in the other", async () => {
  const first = await login("grace", "grace's password");
  const heidi = await login("heidi");
  await heidi.click("#people button:has-text('grace')");
  await say(heidi, "are you there?");
  await conversation(first, "heidi").locator(".badge").waitFor();
  await conversation(first, "heidi").click();
  await messageText(first, "are you there?").waitFor();
  // She looks elsewhere; heidi writes again: one unread.
  await joinRoom(first, "#elsewhere");
  await heidi.fill("#text", "still there?");
  await heidi.press("#text", "Enter");
  await conversation(first, "heidi").locator(".badge").waitFor();
  // The same account in a second browser: the history, and the one message
  // after what she read in the first (the server's read marker).
  const second = await login("grace", "grace's password");
  const badge = conversation(second, "heidi").locator(".badge");
  await badge.waitFor();
  assert.equal(await badge.textContent(), "1");
  await conversation(second, "heidi").click();
  await messageText(second, "are you there?").waitFor();
  // What one session sends, the other shows too.
  await say(second, "yes, on my laptop");
  await conversation(first, "heidi").click();
  await messageText(first, "yes, on my laptop").waitFor();
  await messageText(heidi, "yes, on my laptop").waitFor();
  for (const page of [first, second, heidi]) await page.context().close();
});

test("a room with three members", async () => {
  const [alice, bob, carol] = [await login("alice", "alice's password"), await login("bob"), await login("carol")];
  await joinRoom(alice, "#general");
  await joinRoom(bob, "#general");
  await joinRoom(carol, "#general");
  await say(alice, "morning, all");
  await say(bob, "hi from bob");
  await say(carol, "carol here ☕");
  for (const page of [alice, bob, carol]) {
    for (const text of ["morning, all", "hi from bob", "carol here ☕"]) await messageText(page, text).waitFor();
  }
  await alice.click("#members-button");
  await alice.waitForFunction(() => document.querySelectorAll("#member-list li").length === 3);
  const roles = await alice.locator("#member-list li").allTextContents();
  assert.ok(roles.some((r) => r.includes("alice") && r.includes("owner")), roles.join(" | "));
  // The moderation menu of the room's owner.
  await alice.click("#member-list li:has-text('bob') button");
  assert.ok(await alice.locator("#menu button", { hasText: "Mute…" }).isVisible());
  await alice.keyboard.press("Escape");
  await alice.screenshot({ path: join(SHOTS, "web-desktop.png") });
  for (const page of [alice, bob, carol]) await page.context().close();
});

test("scrolling up reads the history, page by page", async () => {
  const writer = await login("writer", "writer's password");
  await joinRoom(writer, "#history");
  await writer.evaluate(async () => {
    // The app's own connection: 120 messages, in order.
    for (let i = 1; i <= 120; i++) await conn.request("room_send", { room: "#history", content: `line ${i}` });
  });
  const reader = await login("reader");
  await joinRoom(reader, "#history");
  await messageText(reader, "line 120").waitFor();
  assert.equal(await messageText(reader, /^line 1$/).count(), 0, "only the newest page at first");
  for (let i = 0; i < 10 && (await reader.locator("#history-state").textContent()) !== "The beginning of the conversation"; i++) {
    await reader.locator("#scroller").evaluate((s) => { s.scrollTop = 0; s.dispatchEvent(new Event("scroll")); });
    await reader.waitForTimeout(200);
  }
  await reader.locator("#messages li .text", { hasText: /^line 1$/ }).waitFor();
  assert.equal(await reader.locator("#messages li .text").count(), 120);
  await writer.context().close();
  await reader.context().close();
});

test("a moderator's mute is seen by the muted user", async () => {
  const mod = await login("moderator", "mod's password");
  const loud = await login("loud");
  await joinRoom(mod, "#calm");
  await joinRoom(loud, "#calm");
  await say(loud, "LOUD NOISES");
  await mod.click("#members-button");
  await mod.click("#member-list li:has-text('loud') button");
  await mod.click("#menu button:has-text('Mute…')");
  await mod.selectOption("#ask-duration", "3600");
  await mod.fill("#ask-reason", "take a break");
  await mod.click("#dialog-ok");
  await loud.locator("#messages li.system", { hasText: "loud was muted by moderator" }).waitFor();
  await loud.waitForFunction(() => document.getElementById("text").disabled);
  assert.match(await loud.getAttribute("#text", "placeholder"), /You are muted in #calm until/);
  await mod.context().close();
  await loud.context().close();
});

test("a phone-sized screen shows one column at a time (dark, as the phone asks)", async () => {
  const phone = await login("pocket", "", { width: 390, height: 844 }, "dark");
  const background = await phone.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(background, "rgb(22, 24, 29)", "the dark palette");
  assert.ok(await phone.locator("#sidebar").isVisible(), "the conversation list first");
  await joinRoom(phone, "#general");
  assert.ok(!(await phone.locator("#sidebar").isVisible()), "then the conversation alone");
  await say(phone, "typing on a phone 📱");
  await phone.screenshot({ path: join(SHOTS, "web-phone.png") });
  await phone.click("#back");
  assert.ok(await phone.locator("#sidebar").isVisible());
  await phone.context().close();
});

test("after a server restart the client reconnects and says so", async () => {
  const alice = await login("alice", "alice's password");
  const bob = await login("bob2", "bob's password");
  await stopServer(server);
  await alice.waitForSelector("#conn.offline");
  assert.match(await alice.textContent("#conn-text"), /offline|restarting/);
  server = await startServer(server.ports);
  await alice.waitForSelector("#conn.online", { timeout: 30_000 });
  await bob.waitForSelector("#conn.online", { timeout: 30_000 });
  await bob.click("#people button:has-text('alice')");
  await say(bob, "you are back");
  await conversation(alice, "bob2").click();
  await messageText(alice, "you are back").waitFor();
  await alice.context().close();
  await bob.context().close();
});
