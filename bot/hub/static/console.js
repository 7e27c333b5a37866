/* Rapport agent console: live updates (server-sent events) and forms without page reloads.
   Everything the server sends is HTML it rendered with autoescaping; nothing here builds
   markup from customer text. */
(function () {
  "use strict";

  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";
  var flash = document.getElementById("flash");
  var live = document.getElementById("live");

  function say(text, isError) {
    if (!flash) return;
    flash.textContent = text;
    flash.className = "flash" + (isError ? " error" : "");
    flash.hidden = !text;
    if (text && !isError) setTimeout(function () { if (flash.textContent === text) flash.hidden = true; }, 3000);
  }

  function setLive(on) {
    if (live) { live.className = on ? "live on" : "live"; live.title = on ? "live" : "reconnecting…"; }
  }

  // -- forms: post with fetch, let the live stream show the result ------------------------
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-async")) return;
    event.preventDefault();
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) return;
    var button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Accept": "application/json" }
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.status === 401) { window.location.href = "/login"; return; }
        if (!response.ok) { say(body.error || ("Failed (" + response.status + ")"), true); return; }
        say("");
        var then = form.getAttribute("data-then");
        if (then === "clear") {
          form.querySelectorAll("textarea").forEach(function (t) { t.value = ""; });
          var select = form.querySelector("#canned"); if (select) select.value = "";
          // The live panel may have been redrawn meanwhile: clear the form as it is now.
          document.querySelectorAll('form[action="' + form.getAttribute("action") + '"] textarea')
            .forEach(function (t) { t.value = ""; });
        } else if (then === "open" && body.location) {
          window.location.href = body.location;
        }
      });
    }).catch(function () { say("Not sent: the hub can't be reached.", true); })
      .finally(function () { if (button) button.disabled = false; });
  });

  // Ctrl+Enter sends a reply or a note.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.tagName === "TEXTAREA") {
      var form = event.target.form;
      if (form) { event.preventDefault(); form.requestSubmit(); }
    }
  });

  // Canned responses fill the reply box (the agent can still edit before sending).
  var canned = document.getElementById("canned");
  if (canned) {
    canned.addEventListener("change", function () {
      var option = canned.options[canned.selectedIndex];
      var reply = document.getElementById("reply");
      if (option && option.getAttribute("data-text") && reply && !reply.disabled) {
        reply.value = option.getAttribute("data-text");
        reply.focus();
      }
    });
  }

  // -- live updates ---------------------------------------------------------------------
  function stream(url, handlers) {
    if (!window.EventSource) return;
    var source = new EventSource(url);
    source.onopen = function () { setLive(true); };
    source.onerror = function () { setLive(false); };
    Object.keys(handlers).forEach(function (name) {
      source.addEventListener(name, function (event) { handlers[name](JSON.parse(event.data)); });
    });
    source.addEventListener("bye", function () { source.close(); window.location.href = "/login"; });
    return source;
  }

  var queue = document.getElementById("queue");
  if (queue) {
    var base = document.title.replace(/^\(\d+\) /, "");
    stream(queue.getAttribute("data-stream"), {
      queue: function (data) {
        queue.innerHTML = data.html;
        document.title = (data.waiting ? "(" + data.waiting + ") " : "") + base;
        var count = document.getElementById("waiting-count");
        if (count) count.textContent = data.waiting || "";
      }
    });
  }

  var conversation = document.querySelector(".conversation[data-stream]");
  if (conversation) {
    var transcript = document.getElementById("transcript");
    var panel = document.getElementById("panel");
    var composer = document.getElementById("composer");
    var scrollDown = function () { transcript.scrollTop = transcript.scrollHeight; };
    scrollDown();
    var setComposer = function (canAct, hint) {
      composer.querySelectorAll("textarea, button").forEach(function (el) { el.disabled = !canAct; });
      var reply = document.getElementById("reply");
      if (reply && hint) reply.placeholder = hint;
    };
    stream(conversation.getAttribute("data-stream"), {
      turn: function (data) {
        if (transcript.querySelector('[data-key="' + CSS.escape(data.key) + '"]')) return;
        var holder = document.createElement("ol");
        holder.innerHTML = data.html;
        var item = holder.firstElementChild;
        if (!item) return;
        item.classList.add("fresh");
        transcript.appendChild(item);
        scrollDown();
      },
      panel: function (data) {
        // Redraw, keeping what the agent is typing, where they are, and the scroll position.
        var keyOf = function (el) { return (el.form ? el.form.getAttribute("action") : "") + "|" + el.name; };
        var kept = {}, focused = null, top = panel.scrollTop;
        panel.querySelectorAll("textarea, select").forEach(function (el) { kept[keyOf(el)] = el.value; });
        if (document.activeElement && panel.contains(document.activeElement)) focused = keyOf(document.activeElement);
        panel.innerHTML = data.html;
        var offered = function (el, value) {
          return el.tagName !== "SELECT" ||
            Array.prototype.some.call(el.options, function (o) { return o.value === value; });
        };
        panel.querySelectorAll("textarea, select").forEach(function (el) {
          var key = keyOf(el);
          if (kept[key] !== undefined && offered(el, kept[key])) el.value = kept[key];
          if (key === focused) el.focus();
        });
        panel.scrollTop = top;
        setComposer(data.can_act, data.hint);
      },
      gone: function (data) {
        say(data.message, true);
        setComposer(false, data.message);
      }
    });
  }
})();
