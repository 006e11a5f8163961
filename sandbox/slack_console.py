"""The sandbox's web console: a browser page that looks like a Slack channel.

Served at ``/`` of the Slack stand-in (``kajitori demo`` prints the address). It polls
``/_sandbox/messages`` and draws what each channel shows: the bot's messages with their Block
Kit content (header, section text and fields, context, buttons, dividers), "(edited)" marks,
threads, files, attachments with their colour bars and the ephemerals of the person you act
as. When the sandbox knows the bot's URL, the command box sends a signed slash command and the
buttons send signed clicks through ``/_sandbox/command`` and ``/_sandbox/click``. All text is
inserted as text, never as HTML.

``kajitori demo`` serves the same page with a "Demo" panel of its own actions and links
(:class:`ConsoleAction`, :class:`ConsoleLink`): a button posts to the action's path on the
page's server and shows the answer's ``message``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kajitori · Slack sandbox</title>
<link rel="icon" href="data:,">
<style>
body{margin:0;font:14px/1.45 system-ui,sans-serif;display:flex;height:100vh;color:#1d1c1d}
nav{flex:0 0 220px;box-sizing:border-box;background:#3f0e40;color:#cfc3cf;padding:12px;
overflow:auto;overflow-wrap:anywhere}
nav h1{font-size:16px;color:#fff;margin:0 0 12px}
nav a{display:block;color:inherit;padding:3px 6px;border-radius:4px;cursor:pointer}
nav a.on{background:#1164a3;color:#fff}
nav label{display:block;margin-top:16px}
nav select{width:100%;margin-top:4px}
main{flex:1;display:flex;flex-direction:column;min-width:0}
#log{flex:1;overflow:auto;padding:12px 20px}
.msg{padding:6px 0;border-bottom:1px solid #eee}
.who{font-weight:700}.ts,.edited,.note{color:#777;font-size:12px;margin-left:6px}
.eph{background:#f8f4e8;border-left:3px solid #e8a723;padding-left:8px}
.thread{margin-left:28px;border-left:2px solid #ddd;padding-left:10px}
.header{font-size:17px;font-weight:700;margin:4px 0}
.fields{display:grid;grid-template-columns:1fr 1fr;gap:2px 16px}
.context{color:#616061;font-size:12px}
.text{white-space:pre-wrap;overflow-wrap:anywhere}
button{margin:4px 6px 0 0;padding:4px 10px;border:1px solid #bbb;border-radius:4px;
background:#fff;cursor:pointer}
button.primary{background:#007a5a;color:#fff;border-color:#007a5a}
button.danger{background:#e01e5a;color:#fff;border-color:#e01e5a}
pre{background:#f6f6f6;border:1px solid #e2e2e2;border-radius:4px;padding:6px;margin:4px 0;
max-height:240px;overflow:auto;white-space:pre-wrap}
code{font:12px/1.4 ui-monospace,monospace;color:#c01343;background:#f6f6f6;
border:1px solid #e2e2e2;border-radius:3px;padding:0 3px}
pre code{color:inherit;background:none;border:0;padding:0}
.msg a{color:#1264a3}
form{display:flex;padding:10px 20px;border-top:1px solid #ddd}
form input{flex:1;padding:8px;font:inherit}
#status{padding:0 20px 8px;color:#a00;font-size:12px}
#status.info{color:#1d6b3a}
.att{border-left:4px solid #ddd;padding:2px 0 2px 10px;margin:6px 0}
.att-title{font-weight:700;display:block}
.quote{border-left:4px solid #ddd;padding-left:10px;margin:2px 0}
.field-title{font-weight:700;font-size:13px}
.wide{grid-column:1/-1}
.demo{margin-top:20px;border-top:1px solid #6b3a6c;padding-top:10px}
.demo h2{font-size:14px;color:#fff;margin:0 0 6px}
.demo button{display:block;width:100%;margin:6px 0;text-align:left}
.demo a{color:#cfc3cf;text-decoration:underline}
</style></head><body>
<nav><h1>kajitori sandbox</h1><div id="channels"></div>
<label>acting as<select id="user"></select></label></nav>
<main><div id="log"></div><div id="status"></div>
<form id="cmd"><input id="line" placeholder="a slash command, e.g. /gitops help"
autocomplete="off"></form></main>
<script>
const DEMO = __DEMO__;
let current = null, me = null, directory = null;
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
};
// Slack's markup shown as Slack shows it: <url|label> as label, <@U1> as @name, <#C1|x> as
// #x, <!here> as @here, a date as its fallback text, then the three escaped characters. The
// result is still inserted as text.
function shown(s) {
  if (typeof s !== "string") return s;
  const n = names();
  return s.replace(/<([^<>|]*)(?:[|]([^<>]*))?>/g, (all, target, label) => {
    if (target[0] === "@") return "@" + (n[target.slice(1)] || label || target.slice(1));
    if (target[0] === "#") return "#" + (label || target.slice(1));
    if (target.startsWith("!date^")) return label || "";
    if (target.startsWith("!subteam^")) return label || "@" + target.slice(9);
    if (target[0] === "!") return "@" + (label || target.slice(1));
    return label || target;
  }).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}
const textOf = (t) => emoji(shown((t && typeof t === "object") ? (t.text || "") : (t || "")));
// The emoji kajitori's messages use, drawn as characters; unknown names stay as :name:.
const EMOJI = {white_check_mark: "\\u2705", x: "\\u274c", warning: "\\u26a0\\ufe0f",
  mag: "\\u{1f50d}", information_source: "\\u2139\\ufe0f", hourglass_flowing_sand: "\\u23f3",
  hourglass: "\\u231b", arrows_counterclockwise: "\\u{1f504}", wastebasket: "\\u{1f5d1}\\ufe0f",
  no_entry_sign: "\\u{1f6ab}", no_entry: "\\u26d4", lock: "\\u{1f512}",
  grey_question: "\\u2754", green_heart: "\\u{1f49a}", broken_heart: "\\u{1f494}",
  arrow_heading_up: "\\u2934\\ufe0f", white_circle: "\\u26aa", sparkles: "\\u2728",
  small_blue_diamond: "\\u{1f539}", shield: "\\u{1f6e1}\\ufe0f", scroll: "\\u{1f4dc}",
  scissors: "\\u2702\\ufe0f", rewind: "\\u23ea", raised_hand: "\\u270b",
  point_right: "\\u{1f449}", page_facing_up: "\\u{1f4c4}", large_yellow_circle: "\\u{1f7e1}",
  large_green_circle: "\\u{1f7e2}", red_circle: "\\u{1f534}", heavy_minus_sign: "\\u2796",
  ghost: "\\u{1f47b}", fast_forward: "\\u23e9", double_vertical_bar: "\\u23f8\\ufe0f",
  compass: "\\u{1f9ed}", card_index_dividers: "\\u{1f5c2}\\ufe0f", bar_chart: "\\u{1f4ca}",
  arrow_forward: "\\u25b6\\ufe0f", rocket: "\\u{1f680}", tada: "\\u{1f389}",
  heavy_check_mark: "\\u2714\\ufe0f", rotating_light: "\\u{1f6a8}", eyes: "\\u{1f440}"};
const emoji = (s) => typeof s !== "string" ? s
  : s.replace(/:([a-z0-9_+-]+):/g, (all, name) => EMOJI[name] || all);
// Slack's mrkdwn as DOM nodes (never HTML): ```blocks```, `code`, *bold*, _italic_,
// ~strike~ and <links>; everything else is text as shown() and emoji() make it.
const INLINE = new RegExp([
  "(`[^`\\n]+`)", "(<[^<>]+>)", "(?<![A-Za-z0-9_*])[*]([^*\\n]+)[*](?![A-Za-z0-9_*])",
  "(?<![A-Za-z0-9_])_([^_\\n]+)_(?![A-Za-z0-9_])",
  "(?<![A-Za-z0-9_~])~([^~\\n]+)~(?![A-Za-z0-9_~])"].join("|"), "g");
function inline(s, into) {
  let at = 0;
  for (const m of s.matchAll(INLINE)) {
    if (m.index > at) into.append(emoji(shown(s.slice(at, m.index))));
    at = m.index + m[0].length;
    if (m[1]) into.append(el("code", "", shown(m[1].slice(1, -1))));
    else if (m[2]) {
      const inner = m[2].slice(1, -1), bar = inner.indexOf("|");
      const target = bar < 0 ? inner : inner.slice(0, bar);
      const label = bar < 0 ? "" : inner.slice(bar + 1);
      into.append(/^https?:/.test(target)
        ? safeLink("span", "", emoji(shown(label || target)), target)
        : emoji(shown(m[2])));
    } else {
      const tag = m[3] !== undefined ? "b" : m[4] !== undefined ? "i" : "s";
      const box = el(tag);
      inline(m[3] ?? m[4] ?? m[5], box);
      into.append(box);
    }
  }
  if (at < s.length) into.append(emoji(shown(s.slice(at))));
  return into;
}
function rich(tag, cls, s) {
  const box = el(tag, cls);
  const parts = (typeof s === "string" ? s : "").split(/```/);
  parts.forEach((part, i) => {
    if (i % 2 && i < parts.length - 1) {
      box.append(el("pre", "", shown(part.replace(/^\\n/, "").replace(/\\n$/, ""))));
    } else quoted(i % 2 ? "```" + part : part, box);
  });
  return box;
}
// Text whose "> " lines are drawn as quotes, as Slack draws them.
function quoted(s, into) {
  const lines = s.split("\\n");
  let quote = null;
  lines.forEach((line, i) => {
    const q = /^(&gt;|>) ?/.exec(line);
    if (q) {
      if (!quote) { quote = el("div", "quote"); into.append(quote); }
      else quote.append("\\n");
      inline(line.slice(q[0].length), quote);
      return;
    }
    if (quote) quote = null;
    inline(line + (i < lines.length - 1 ? "\\n" : ""), into);
  });
}
// A text object as Slack draws it: mrkdwn formatted, plain_text as text (with emoji).
const textEl = (tag, cls, t) => (t && typeof t === "object" && t.type === "plain_text")
  ? el(tag, cls, textOf(t)) : rich(tag, cls, (t && typeof t === "object") ? t.text : t);
const names = () => Object.fromEntries((directory ? directory.users : []).map(u => [u.id, u.name]));
function say(text, info) {
  const status = document.getElementById("status");
  status.className = info ? "info" : "";
  status.textContent = text || "";
}
async function post(path, doc) {
  const answer = await fetch(path, {method: "POST", body: JSON.stringify(doc)});
  const body = await answer.json();
  const odd = body.status && body.status !== 200;
  say(body.ok ? (odd ? "bot answered " + body.status : "") : body.error);
  refresh();
}
const COLOURS = {good: "#2eb67d", warning: "#ecb22e", danger: "#e01e5a"};
function colour(c) {
  if (COLOURS[c]) return COLOURS[c];
  if (/^#?[0-9a-fA-F]{6}$/.test(c || "")) return c[0] === "#" ? c : "#" + c;
  return "#dddddd";
}
function safeLink(tag, cls, text, url) {
  const ok = /^https?:[/][/]/.test(url || "");
  const e = el(ok ? "a" : tag, cls, text);
  if (ok) { e.href = url; e.target = "_blank"; e.rel = "noopener"; }
  return e;
}
function attachments(list, ts) {
  const box = el("div");
  for (const a of list || []) {
    const att = el("div", "att");
    att.style.borderLeftColor = colour(a.color);
    if (a.pretext) att.append(rich("div", "text", a.pretext));
    if (a.title) att.append(safeLink("div", "att-title", textOf(a.title), a.title_link));
    if (a.text) att.append(rich("div", "text", a.text));
    if (a.fields && a.fields.length) {
      const f = el("div", "fields");
      for (const x of a.fields) {
        const cell = el("div", x.short ? "" : "wide");
        cell.append(el("div", "field-title", textOf(x.title || "")));
        cell.append(rich("div", "text", x.value || ""));
        f.append(cell);
      }
      att.append(f);
    }
    if (a.blocks) att.append(blocks(a.blocks, ts));
    if (a.footer) att.append(rich("div", "context", a.footer));
    box.append(att);
  }
  return box;
}
function demoPanel() {
  if (!DEMO.actions.length && !DEMO.links.length) return;
  const box = el("div", "demo");
  box.append(el("h2", "", "Demo"));
  for (const a of DEMO.actions) {
    const b = el("button", "", a.label);
    b.id = "demo-" + a.id;
    b.title = a.help;
    b.onclick = async () => {
      say("…", true);
      const answer = await fetch(a.path, {method: "POST"});
      const body = await answer.json();
      say(body.ok ? body.message : body.error, body.ok);
      refresh();
    };
    box.append(b);
  }
  for (const l of DEMO.links) box.append(safeLink("span", "", l.label, l.url));
  document.querySelector("nav").append(box);
}
function blocks(list, ts) {
  const box = el("div");
  for (const b of list || []) {
    if (b.type === "header") box.append(el("div", "header", textOf(b.text)));
    else if (b.type === "section" || b.type === "markdown") {
      if (b.text) box.append(textEl("div", "text", b.type === "markdown" ? b : b.text));
      if (b.fields) {
        const f = el("div", "fields");
        for (const x of b.fields) f.append(textEl("div", "text", x));
        box.append(f);
      }
      if (b.accessory) box.append(elements([b.accessory], ts));
    } else if (b.type === "context") {
      const line = el("div", "context");
      for (const x of b.elements || []) {
        if (x.type === "image") continue;
        if (line.childNodes.length) line.append("  ");
        line.append(textEl("span", "", x));
      }
      box.append(line);
    } else if (b.type === "actions") box.append(elements(b.elements, ts));
    else if (b.type === "divider") box.append(el("hr"));
    else box.append(el("div", "note", "[" + b.type + " block]"));
  }
  return box;
}
function elements(list, ts) {
  const row = el("div");
  for (const e of list || []) {
    if (e.type !== "button") { row.append(el("span", "note", "[" + e.type + "]")); continue; }
    const btn = el("button", e.style || "", textOf(e.text));
    btn.onclick = () => {
      const ask = e.confirm && [e.confirm.title, e.confirm.text].filter(Boolean).map(textOf);
      if (ask && !window.confirm(ask.join("\\n\\n"))) return;
      post("/_sandbox/click", {channel: current, ts: ts, action_id: e.action_id, user_id: me});
    };
    row.append(btn);
  }
  return row;
}
function message(m, cls) {
  const n = names(), box = el("div", "msg " + (cls || ""));
  const head = el("div");
  head.append(el("span", "who", n[m.user] || m.user || "kajitori"));
  head.append(el("span", "ts", new Date(parseFloat(m.ts) * 1000).toLocaleTimeString()));
  if (m.edited) head.append(el("span", "edited", "(edited)"));
  if (m.to) head.append(el("span", "note", "only visible to " + (n[m.to] || m.to)));
  if (m.deleted) head.append(el("span", "note", "This message was deleted."));
  box.append(head);
  if (m.text && !(m.blocks && m.blocks.length)) box.append(rich("div", "text", m.text));
  box.append(blocks(m.blocks, m.ts));
  box.append(attachments(m.attachments, m.ts));
  for (const f of m.files || []) {
    box.append(el("div", "note", "file: " + f.title + " (" + f.size + " bytes)"));
    if (f.content) box.append(el("pre", "", f.content));
  }
  if (m.replies && m.replies.length) {
    const t = el("div", "thread");
    for (const r of m.replies) t.append(message(r));
    box.append(t);
  }
  return box;
}
async function refresh() {
  if (!directory) directory = await (await fetch("/_sandbox/directory")).json();
  const view = await (await fetch("/_sandbox/messages")).json();
  const nav = document.getElementById("channels");
  nav.replaceChildren();
  for (const [id, c] of Object.entries(view.channels)) {
    if (!current) current = id;
    const a = el("a", id === current ? "on" : "", (c.is_im ? "@" : "#") + c.name);
    a.onclick = () => { current = id; refresh(); };
    nav.append(a);
  }
  const log = document.getElementById("log"), ch = view.channels[current];
  const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.replaceChildren();
  for (const m of ch.messages) log.append(message(m));
  for (const e of ch.ephemerals) if (e.to === me && !e.deleted) log.append(message(e, "eph"));
  if (atEnd) log.scrollTop = log.scrollHeight;
}
async function start() {
  directory = await (await fetch("/_sandbox/directory")).json();
  const pick = document.getElementById("user");
  for (const u of directory.users) {
    if (u.is_bot) continue;
    const o = el("option", "", u.real_name); o.value = u.id; pick.append(o);
  }
  me = pick.value;
  pick.onchange = () => { me = pick.value; refresh(); };
  document.getElementById("cmd").onsubmit = (ev) => {
    ev.preventDefault();
    const line = document.getElementById("line").value.trim();
    if (!line) return;
    const space = line.indexOf(" ");
    const command = space < 0 ? line : line.slice(0, space);
    const text = space < 0 ? "" : line.slice(space + 1);
    document.getElementById("line").value = "";
    post("/_sandbox/command", {command, text, user_id: me, channel_id: current});
  };
  demoPanel();
  refresh();
  setInterval(refresh, 1000);
}
start();
</script></body></html>
"""


@dataclass(frozen=True)
class ConsoleAction:
    """A button of the console's "Demo" panel: POSTs to ``path`` on the page's server, which
    answers ``{"ok": true, "message": ...}`` or ``{"ok": false, "error": ...}``."""

    id: str
    label: str
    path: str
    help: str = ""


@dataclass(frozen=True)
class ConsoleLink:
    """A link of the "Demo" panel (opens in a new tab; http(s) only)."""

    label: str
    url: str


def console_page(actions: Sequence[ConsoleAction] = (), links: Sequence[ConsoleLink] = ()) -> bytes:
    """The console's HTML (static; the page fetches everything it shows), with a "Demo"
    panel when ``actions`` or ``links`` are given."""
    demo = {
        "actions": [vars(action) for action in actions],
        "links": [vars(link) for link in links],
    }
    # JSON inside <script>: "<" escaped so no value can close the script element.
    data = json.dumps(demo).replace("<", "\\u003c")
    return _PAGE.replace("__DEMO__", data).encode("utf-8")
