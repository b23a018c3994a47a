// salgate pages: small enhancements over plain HTML forms (the pages work without this file).
"use strict";

(function () {
  // --- Live SLA countdowns -------------------------------------------------------------
  // Each page part with `data-now` carries the server's clock at render time; countdowns
  // inside it tick from that reading (plus the time since it arrived), so a browser whose
  // clock is off still shows the server's view. Wording matches src/pages/inbox/mod.rs.
  function span(s) {
    s = Math.abs(Math.trunc(s));
    if (s >= 86400) return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
    if (s >= 3600) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
    if (s >= 60) return Math.floor(s / 60) + " min";
    return s + " s";
  }

  function tick() {
    document.querySelectorAll("[data-now]").forEach(function (root) {
      if (!root.dataset.loadedAt) root.dataset.loadedAt = String(Date.now());
      var now = Date.parse(root.dataset.now) + (Date.now() - Number(root.dataset.loadedAt));
      root.querySelectorAll(".sla[data-due]").forEach(function (badge) {
        var due = Date.parse(badge.dataset.due);
        var risk = badge.dataset.risk ? Date.parse(badge.dataset.risk) : null;
        var status = now > due ? "breached" : (risk !== null && now >= risk ? "at_risk" : "on_track");
        badge.classList.remove("sla-on_track", "sla-at_risk", "sla-breached");
        badge.classList.add("sla-" + status);
        var label = badge.querySelector(".sla-status");
        if (label) label.textContent = status === "breached" ? "" : status.replace("_", " ") + " · ";
        var time = badge.querySelector("time.countdown");
        if (time) {
          var left = (due - now) / 1000;
          time.textContent = left >= 0 ? "due in " + span(left) : "breached " + span(left) + " ago";
        }
      });
    });
  }

  // --- Keyboard ------------------------------------------------------------------------
  // j/k move through the inbox rows, Enter opens one, c claims next; on a lead page a and r
  // go to the accept and reject forms. Never while typing in a field.
  var selected = null; // the lead id of the selected row, kept across polls

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("tr.row[data-lead]"));
  }

  function select(row) {
    rows().forEach(function (r) { r.classList.remove("selected"); r.removeAttribute("aria-selected"); });
    if (!row) return;
    row.classList.add("selected");
    row.setAttribute("aria-selected", "true");
    selected = row.dataset.lead;
    row.focus();
  }

  function move(by) {
    var all = rows();
    if (!all.length) return;
    var i = all.findIndex(function (r) { return r.dataset.lead === selected; });
    i = i < 0 ? (by > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, i + by));
    select(all[i]);
  }

  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || el.isContentEditable;
  }

  function focusFirst(selector) {
    var el = document.querySelector(selector);
    if (el) { el.focus(); return true; }
    return false;
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    var handled = true;
    switch (e.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "Enter": {
        var row = e.target.closest ? e.target.closest("tr.row[data-lead]") : null;
        var link = row && row.querySelector("a.lead-link");
        if (link) window.location.href = link.href; else handled = false;
        break;
      }
      case "a": handled = focusFirst("#accept-form input:not([type=hidden])"); break;
      case "r": handled = focusFirst("#reject-form select, #reject-form input:not([type=hidden])"); break;
      case "c": handled = focusFirst("button[data-claim]:not([disabled])"); break;
      default: handled = false;
    }
    if (handled) e.preventDefault();
  });

  // A clicked row is selected too, so j/k continue from it.
  document.addEventListener("click", function (e) {
    var row = e.target.closest && e.target.closest("tr.row[data-lead]");
    if (row) { selected = row.dataset.lead; rows().forEach(function (r) { r.classList.toggle("selected", r === row); }); }
  });

  // After a poll replaced the lists, the same lead stays selected (and focused if it was).
  document.addEventListener("htmx:afterSettle", function () {
    tick();
    if (!selected) return;
    var row = rows().find(function (r) { return r.dataset.lead === selected; });
    if (row) {
      var hadFocus = document.activeElement === document.body;
      row.classList.add("selected");
      row.setAttribute("aria-selected", "true");
      if (hadFocus) row.focus();
    }
  });

  tick();
  setInterval(tick, 1000);
})();
