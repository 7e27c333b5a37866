/* Rapport web chat widget: one <script> tag on the brand's site, no dependencies.
 *
 *   <script src="https://HUB/widget/rapport.js" data-rasa-url="https://RASA" defer></script>
 *
 * Optional attributes: data-title (panel heading), data-launcher (the button's text),
 * data-bot-name (who the bot is), data-intro (a line shown before the first message). The widget lives in a shadow root, so
 * the page's CSS and the widget's never meet. Message content only ever goes into the page as
 * text nodes (textContent), never as HTML. The session token stays in localStorage, so the
 * conversation survives a reload; new messages (an agent's replies) arrive by long-polling.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.RapportWebChat) return;

  var cfg = script.dataset;
  var scriptUrl = new URL(script.src, location.href);
  var rasaUrl = (cfg.rasaUrl || scriptUrl.origin).replace(/\/+$/, "");
  var api = rasaUrl + "/webhooks/webchat";
  var botName = cfg.botName || "Assistant";
  var title = cfg.title || "Chat with us";
  var launcherText = cfg.launcher || "Chat with us";
  var tokenKey = "rapport.webchat.token:" + rasaUrl;
  var openKey = "rapport.webchat.open:" + rasaUrl;
  var WAIT_S = 20;

  var token = read(localStorage, tokenKey);
  var lastId = 0, unread = 0, busy = false, polling = null, failures = 0;
  var seen = new Set();

  function read(storage, key) { try { return storage.getItem(key); } catch (e) { return null; } }
  function write(storage, key, value) {
    try { value === null ? storage.removeItem(key) : storage.setItem(key, value); } catch (e) { /* private mode */ }
  }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function bubbleIcon() {
    var ns = "http://www.w3.org/2000/svg";
    var icon = document.createElementNS(ns, "svg");
    icon.setAttribute("viewBox", "0 0 24 24");
    icon.setAttribute("aria-hidden", "true");
    icon.setAttribute("focusable", "false");
    icon.setAttribute("class", "rw-icon");
    var path = icon.appendChild(document.createElementNS(ns, "path"));
    path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H10l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z");
    path.setAttribute("fill", "currentColor");
    return icon;
  }
  function srOnly(text) { return el("span", "rw-sr", text); }
  function randomId() {
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  // ---------------------------------------------------------------- the DOM
  var host = el("div");
  host.id = "rapport-webchat";
  var root = host.attachShadow({ mode: "open" });
  var style = el("link");
  style.rel = "stylesheet";
  style.href = new URL("rapport.css", scriptUrl).href;
  root.appendChild(style);

  var launcher = el("button", "rw-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "rw-panel");
  launcher.appendChild(bubbleIcon());
  launcher.appendChild(el("span", "rw-launcher-text", launcherText));
  var badge = launcher.appendChild(el("span", "rw-badge"));
  badge.setAttribute("aria-hidden", "true");
  badge.hidden = true;

  var panel = el("section", "rw-panel");
  panel.id = "rw-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-labelledby", "rw-title");
  var header = panel.appendChild(el("header", "rw-header"));
  var heading = header.appendChild(el("h2", "rw-title", title));
  heading.id = "rw-title";
  var closer = header.appendChild(el("button", "rw-close"));
  closer.type = "button";
  closer.setAttribute("aria-label", "Close chat");
  closer.appendChild(el("span", "", "\u00D7")).setAttribute("aria-hidden", "true");

  var scroller = panel.appendChild(el("div", "rw-scroll"));
  if (cfg.intro) scroller.appendChild(el("p", "rw-intro", cfg.intro));
  var log = scroller.appendChild(el("div", "rw-log"));
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", "Conversation");
  log.tabIndex = 0;
  var typing = scroller.appendChild(el("div", "rw-msg rw-bot rw-typing"));
  typing.hidden = true;
  typing.setAttribute("aria-hidden", "true");
  for (var i = 0; i < 3; i++) typing.appendChild(el("span", "rw-dot"));
  var status = panel.appendChild(el("div", "rw-sr"));
  status.setAttribute("role", "status");

  var form = panel.appendChild(el("form", "rw-form"));
  var label = form.appendChild(el("label", "rw-sr", "Your message"));
  label.htmlFor = "rw-input";
  var input = form.appendChild(el("textarea", "rw-input"));
  input.id = "rw-input";
  input.rows = 1;
  input.maxLength = 4000;
  input.placeholder = "Type your message\u2026";
  input.setAttribute("autocomplete", "off");
  var sendButton = form.appendChild(el("button", "rw-send", "Send"));
  sendButton.type = "submit";

  root.appendChild(launcher);  // first: Tab goes launcher, then into the open panel
  root.appendChild(panel);

  // ---------------------------------------------------------------- the server
  function ChatError(message, status) { this.message = message; this.status = status; }

  function call(method, path, body, signal) {
    var headers = {};
    if (token) headers.Authorization = "Bearer " + token;
    if (body) headers["Content-Type"] = "application/json";
    return fetch(api + path, {
      method: method, headers: headers, body: body ? JSON.stringify(body) : undefined,
      signal: signal, credentials: "omit", cache: "no-store", mode: "cors",
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.status === 401) forgetSession();
        if (!response.ok) throw new ChatError(data.error || "", response.status);
        return data;
      });
    });
  }

  function forgetSession() {
    token = null;
    write(localStorage, tokenKey, null);
    stopPolling();
  }

  function ensureSession() {
    if (token) return Promise.resolve();
    return call("POST", "/session").then(function (data) {
      token = data.token;
      write(localStorage, tokenKey, token);
      lastId = 0;  // a new conversation numbers its messages from 1 again
      seen.clear();
    });
  }

  // ---------------------------------------------------------------- messages
  function appendText(parent, text) {
    // Links become <a> (http and https only); everything else stays text.
    text.split(/(https?:\/\/[^\s<>"]*[^\s<>".,;:!?)\]'])/).forEach(function (part, index) {
      if (index % 2 === 0) {
        if (part) parent.appendChild(document.createTextNode(part));
        return;
      }
      var link = el("a", "", part);
      link.href = part;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      parent.appendChild(link);
    });
  }

  function bubble(role, who) {
    var item = el("div", "rw-msg rw-" + role);
    if (role === "agent") item.appendChild(el("div", "rw-who", who + " \u00B7 customer care"));
    item.appendChild(srOnly(role === "customer" ? "You said: " : (role === "agent" ? who + " (customer care)" : botName) + " said: "));
    return item;
  }

  function render(message) {
    if (seen.has(message.id)) return false;
    seen.add(message.id);
    lastId = Math.max(lastId, message.id);
    var item = bubble(message.role, message.agent || "A colleague");
    if (message.text) appendText(item.appendChild(el("p", "rw-text")), message.text);
    if (message.image && /^https?:\/\//.test(message.image)) {
      var image = item.appendChild(el("img", "rw-image"));
      image.src = message.image;
      image.alt = "Image from " + (message.role === "agent" ? message.agent || "a colleague" : botName);
      image.loading = "lazy";
    }
    if (message.buttons && message.buttons.length) {
      var group = item.appendChild(el("div", "rw-buttons"));
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", "Choose an answer");
      message.buttons.forEach(function (choice) {
        var button = group.appendChild(el("button", "rw-choice", choice.title));
        button.type = "button";
        button.addEventListener("click", function () {
          if (busy) return;
          button.classList.add("rw-chosen");
          send(choice.payload, choice.title);
          input.focus();
        });
      });
    }
    log.appendChild(item);
    return message.role !== "customer";
  }

  function renderAll(messages, countUnread) {
    var fresh = 0;
    (messages || []).forEach(function (message) { if (render(message)) fresh++; });
    // Only the newest message's buttons can still be answered.
    var groups = log.querySelectorAll(".rw-buttons");
    groups.forEach(function (group, index) {
      var live = index === groups.length - 1 && group.parentNode === log.lastElementChild;
      if (!live) disableGroup(group);
    });
    if (fresh && countUnread && panel.hidden) {
      unread += fresh;
      badge.textContent = String(unread);
      badge.hidden = false;
      launcher.setAttribute("aria-label", launcherText + ", " + unread + " new");
    }
    scrollDown();
  }

  function disableGroup(group) {
    group.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
  }

  function scrollDown() { scroller.scrollTop = scroller.scrollHeight; }

  function showTyping(on) {
    typing.hidden = !on;
    status.textContent = on ? botName + " is typing\u2026" : "";
    if (on) scrollDown();
  }

  function notice(text, retry) {
    var item = el("div", "rw-notice");
    item.setAttribute("role", "alert");
    item.appendChild(el("span", "", text));
    if (retry) {
      var again = item.appendChild(el("button", "rw-retry", "Try again"));
      again.type = "button";
      again.addEventListener("click", function () { item.remove(); retry(); });
    }
    log.appendChild(item);
    scrollDown();
    return item;
  }

  function explain(error) {
    if (error instanceof ChatError && error.status >= 400 && error.status < 500 && error.message) {
      return "Sorry, I couldn't send that: " + error.message + ".";
    }
    return "Sorry, that didn't go through. Please check your connection and try again.";
  }

  // ---------------------------------------------------------------- sending
  function send(message, shownAs, clientId) {
    if (busy) return;
    busy = true;
    clientId = clientId || randomId();
    sendButton.disabled = true;
    log.querySelectorAll(".rw-buttons").forEach(disableGroup);
    var pending = bubble("customer");
    pending.classList.add("rw-pending");
    pending.appendChild(el("p", "rw-text", shownAs || message));
    log.appendChild(pending);
    showTyping(true);
    stopPolling();
    var hadSession = Boolean(token);
    function post() {
      return ensureSession().then(function () {
        return call("POST", "/message", { message: message, title: shownAs, client_id: clientId, after: lastId });
      });
    }
    post()
      .catch(function (error) {
        if (!(error instanceof ChatError && error.status === 401 && hadSession)) throw error;
        notice("Your previous chat had expired, so this is a new conversation.");
        return post();
      })
      .then(function (data) {
        pending.remove();
        renderAll(data.messages, false);
      }, function (error) {
        pending.classList.replace("rw-pending", "rw-failed");
        pending.appendChild(el("span", "rw-failed-note", "Not sent"));
        var retryable = !(error instanceof ChatError) || error.status >= 500 ||
          error.status === 408 || error.status === 429;
        notice(explain(error), retryable ? function () {
          pending.remove();
          send(message, shownAs, clientId);
        } : null);
      })
      .then(function () {
        busy = false;
        sendButton.disabled = false;
        showTyping(false);
        poll();
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text || busy) return;
    input.value = "";
    grow();
    send(text);
    input.focus();
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit"));
    }
  });
  function grow() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 120) + "px";
  }
  input.addEventListener("input", grow);

  // ---------------------------------------------------------------- history and polling
  function loadHistory() {
    return call("GET", "/history?after=" + lastId).then(function (data) {
      renderAll(data.messages, false);
      if (data.more) return loadHistory();
    });
  }

  function stopPolling() {
    if (polling) polling.abort();
    polling = null;
  }

  function poll() {
    if (polling || busy || !token || document.hidden) return;
    var control = polling = new AbortController();
    call("GET", "/history?after=" + lastId + "&wait=" + WAIT_S, null, control.signal)
      .then(function (data) {
        failures = 0;
        renderAll(data.messages, true);
        return 0;
      }, function (error) {
        if (control.signal.aborted) return -1;
        failures++;
        return Math.min(30000, 1000 * Math.pow(2, failures));
      })
      .then(function (delay) {
        if (polling !== control) return;
        polling = null;
        if (delay >= 0) setTimeout(poll, delay);
      });
  }

  document.addEventListener("visibilitychange", function () {
    document.hidden ? stopPolling() : poll();
  });

  // ---------------------------------------------------------------- open and close
  function open() {
    panel.hidden = false;
    host.classList.add("rw-open");
    launcher.setAttribute("aria-expanded", "true");
    unread = 0;
    badge.hidden = true;
    launcher.removeAttribute("aria-label");
    write(sessionStorage, openKey, "1");
    scrollDown();
    input.focus();
  }

  function close() {
    panel.hidden = true;
    host.classList.remove("rw-open");
    launcher.setAttribute("aria-expanded", "false");
    write(sessionStorage, openKey, null);
    launcher.focus();
  }

  launcher.addEventListener("click", function () { panel.hidden ? open() : close(); });
  closer.addEventListener("click", close);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { event.stopPropagation(); close(); }
  });

  function restore() {
    return loadHistory().then(poll, function () {
      if (token) notice("Sorry, I couldn't load our conversation.", restore);
    });
  }

  function start() {
    document.body.appendChild(host);
    if (read(sessionStorage, openKey)) open();
    if (token) restore();
  }

  window.RapportWebChat = { open: open, close: close };
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
