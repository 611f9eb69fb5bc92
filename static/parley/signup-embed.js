/* Parley sign-up pop-up. Embed with:
 *   <script src="https://parley.example.com/signup/embed.js" data-form="welcome" async></script>
 * It talks only to the Parley server it came from: no fonts, images or trackers from anywhere else.
 * data-preview="1" shows it at once, without counting, remembering or sending (the admin's live preview).
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var base = new URL(script.src, location.href).origin;
  var slug = script.getAttribute("data-form");
  var preview = script.getAttribute("data-preview") === "1";
  var inline = script.getAttribute("data-inline") === "1";
  var memoryKey = "parley-signup:" + slug;
  var DAY = 86400000;

  function remembered() {
    try { return JSON.parse(localStorage.getItem(memoryKey) || "{}"); } catch (e) { return {}; }
  }
  function remember(value) {
    if (preview) return;
    try { localStorage.setItem(memoryKey, JSON.stringify(value)); } catch (e) { /* private mode: shown again */ }
  }
  function mayShow(config) {
    if (preview || inline) return true;
    var memory = remembered();
    if (memory.signedUp) return false;
    return !(memory.closedAt && Date.now() - memory.closedAt < config.hide_days * DAY);
  }

  var CSS = [
    ":host{all:initial}",
    ".backdrop{position:fixed;inset:0;background:rgba(0,0,0,.45);display:flex;align-items:center;justify-content:center;z-index:2147483000;font:16px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1a1a1a}",
    ".inline{position:static;background:none;display:block}",
    ".dialog{background:#fff;border-radius:12px;max-width:420px;width:calc(100% - 32px);padding:24px;box-shadow:0 10px 40px rgba(0,0,0,.3);position:relative;box-sizing:border-box;max-height:100%;overflow-y:auto}",
    ".inline .dialog{box-shadow:none;border:1px solid #ddd;margin:0 auto}",
    "h2{font-size:1.5em;margin:0 32px 8px 0;line-height:1.2}",
    "p{margin:0 0 12px}",
    "label{display:block;font-weight:600;margin:10px 0 4px}",
    ".row{display:flex;gap:8px}",
    "select,input[type=tel],input[type=email]{font:inherit;padding:10px;border:1px solid #888;border-radius:6px;box-sizing:border-box;width:100%;background:#fff;color:inherit}",
    ".row select{width:auto}",
    ".consent{display:flex;gap:8px;align-items:flex-start;font-weight:400;font-size:.8em;color:#333}",
    ".consent input{margin-top:3px;flex:none;width:18px;height:18px}",
    "button.submit{font:inherit;font-weight:700;width:100%;margin-top:14px;padding:12px;border:0;border-radius:6px;background:#1d4ed8;color:#fff;cursor:pointer}",
    "button.submit[disabled]{opacity:.6}",
    "button.close{position:absolute;top:8px;right:8px;border:0;background:none;font-size:28px;line-height:1;cursor:pointer;padding:4px 10px;color:#444}",
    "button:focus-visible,input:focus-visible,select:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}",
    ".error{color:#b91c1c;font-size:.9em;margin:6px 0 0}",
    ".done{font-size:1.1em}",
    ".hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}",
    "@media (max-width:520px){.backdrop:not(.inline){align-items:flex-end}.backdrop:not(.inline) .dialog{width:100%;max-width:none;border-radius:12px 12px 0 0}}"
  ].join("");

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  var COUNTRIES = [["US", "+1"], ["CA", "+1"], ["GB", "+44"], ["AU", "+61"], ["NZ", "+64"], ["IE", "+353"],
    ["DE", "+49"], ["FR", "+33"], ["ES", "+34"], ["IT", "+39"], ["NL", "+31"], ["SE", "+46"], ["MX", "+52"]];

  function build(config) {
    var host = el("div", { "data-parley-signup": slug });
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    if (root.adoptedStyleSheets && typeof CSSStyleSheet === "function" && CSSStyleSheet.prototype.replaceSync) {
      var sheet = new CSSStyleSheet();  // not an inline <style>: works under a strict style-src too
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } else {
      root.appendChild(el("style", { text: CSS }));
    }
    var titleId = "parley-title-" + slug;
    var codes = {};
    COUNTRIES.forEach(function (c) { codes[c[0]] = c[1]; });
    codes[config.country] = config.calling_code || codes[config.country] || "";
    var countries = (config.countries || [config.country]).map(function (code) { return [code, codes[code] || ""]; });
    var country = el("select", { name: "country", "aria-label": "Country code" },
      countries.map(function (c) {
        var option = el("option", { value: c[0], text: c[0] + " " + c[1] });
        if (c[0] === config.country) option.setAttribute("selected", "");
        return option;
      }));
    var phone = el("input", { type: "tel", name: "phone", id: "parley-phone", autocomplete: "tel-national",
      inputmode: "tel", required: "", "aria-describedby": "parley-error" });
    var consent = el("input", { type: "checkbox", name: "consent", id: "parley-consent", required: "" });
    var error = el("p", { class: "error", id: "parley-error", role: "alert" });
    var email = config.ask_email ? el("input", { type: "email", name: "email", id: "parley-email", autocomplete: "email" }) : null;
    var answer = null;
    if (config.question) {
      answer = el("select", { name: "answer", id: "parley-answer" }, [el("option", { value: "", text: "—" })]
        .concat(config.question.options.map(function (o) { return el("option", { value: o.value, text: o.label }); })));
    }
    var button = el("button", { type: "submit", class: "submit", text: config.button });
    var close = inline ? null : el("button", { type: "button", class: "close", "aria-label": "Close", text: "×" });
    var form = el("form", { novalidate: "" }, [
      el("label", { for: "parley-phone", text: "Mobile number" }),
      el("div", { class: "row" }, [country, phone]),
      email && el("label", { for: "parley-email", text: "E-mail (optional)" }), email,
      answer && el("label", { for: "parley-answer", text: config.question.text }), answer,
      el("label", { class: "consent", for: "parley-consent" }, [consent, el("span", { text: config.disclosure })]),
      el("div", { class: "hp", "aria-hidden": "true" }, [el("input", { type: "text", name: "website", tabindex: "-1", autocomplete: "off" })]),
      error, button
    ]);
    var dialog = el("div", { class: "dialog", role: inline ? "region" : "dialog", "aria-modal": inline ? null : "true",
      "aria-labelledby": titleId }, [
      close, el("h2", { id: titleId, text: config.headline }), config.offer ? el("p", { text: config.offer }) : null, form
    ].filter(Boolean));
    if (inline) dialog.removeAttribute("aria-modal");
    var backdrop = el("div", { class: "backdrop" + (inline ? " inline" : "") }, [dialog]);
    root.appendChild(backdrop);

    var before = document.activeElement;
    function hide(reason) {
      // Closing the thank-you must not turn a sign-up into a mere close: that one is never shown again.
      if (reason === "closed" && !remembered().signedUp) remember({ closedAt: Date.now() });
      host.remove();
      document.removeEventListener("keydown", onKey, true);
      if (before && before.focus) before.focus();
    }
    function onKey(event) {
      if (event.key === "Escape" && !inline) { event.preventDefault(); hide("closed"); }
      if (event.key === "Tab" && !inline) {  // keep the focus inside the dialog
        var focusable = Array.prototype.filter.call(dialog.querySelectorAll("button,input,select"), function (n) {
          return n.type !== "hidden" && n.tabIndex !== -1 && n.offsetParent !== null;
        });
        var first = focusable[0], last = focusable[focusable.length - 1];
        var active = root.activeElement || document.activeElement;
        if (!focusable.length) return;
        if (focusable.indexOf(active) === -1) { event.preventDefault(); first.focus(); }
        else if (event.shiftKey && active === first) { event.preventDefault(); last.focus(); }
        else if (!event.shiftKey && active === last) { event.preventDefault(); first.focus(); }
      }
    }
    if (close) close.addEventListener("click", function () { hide("closed"); });
    if (!inline) {
      backdrop.addEventListener("click", function (event) { if (event.target === backdrop) hide("closed"); });
      document.addEventListener("keydown", onKey, true);
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      error.textContent = "";
      if (!phone.value.trim()) { error.textContent = "Enter your mobile number."; phone.focus(); return; }
      if (!consent.checked) { error.textContent = "Tick the box to agree to receive our texts."; consent.focus(); return; }
      var number = phone.value.trim();
      button.disabled = true;
      fetch(base + "/signup/" + encodeURIComponent(slug) + "/", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          phone: number, country: country.value, version: config.version, consent: true,
          email: email ? email.value.trim() : "", answer: answer ? answer.value : "",
          website: form.elements.website.value, page_url: location.href
        })
      }).then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      }).then(function (result) {
        button.disabled = false;
        if (!result.ok) {
          error.textContent = result.body.message || result.body.error || "Something went wrong; please try again.";
          return;
        }
        if (result.body.status === "requested" || result.body.status === "already") remember({ signedUp: true });
        form.replaceWith(el("p", { class: "done", role: "status", tabindex: "-1", text: result.body.message }));
        var done = dialog.querySelector(".done");
        if (done) done.focus();
      }).catch(function () {
        button.disabled = false;
        error.textContent = "We could not reach the store; please try again.";
      });
    });
    return { host: host, focus: function () { phone.focus(); } };
  }

  function show(config) {
    var popup = build(config);
    if (inline) script.parentNode.insertBefore(popup.host, script);
    else document.body.appendChild(popup.host);
    if (!inline && !preview) popup.focus();  // the admin's preview must not take the focus from the field being typed in
    if (!preview) {
      var url = base + "/signup/" + encodeURIComponent(slug) + "/seen";
      if (navigator.sendBeacon) navigator.sendBeacon(url);
      else fetch(url, { method: "POST", keepalive: true });
    }
    return popup;
  }

  function arm(config) {
    if (!mayShow(config)) return;
    if (preview || inline) { show(config); return; }
    var shown = false;
    function once() { if (!shown) { shown = true; cleanup(); show(config); } }
    function onScroll() {
      var height = document.documentElement.scrollHeight - innerHeight;
      if (height <= 0 || (scrollY / height) * 100 >= config.trigger_value) once();
    }
    function onLeave(event) { if (!event.relatedTarget && event.clientY <= 0) once(); }
    var timer = null;
    function cleanup() {
      clearTimeout(timer);
      removeEventListener("scroll", onScroll);
      document.removeEventListener("mouseout", onLeave);
    }
    if (config.trigger === "scroll") {
      addEventListener("scroll", onScroll, { passive: true });
      onScroll();  // a page too short to scroll has been read through already
    }
    else if (config.trigger === "exit") {
      document.addEventListener("mouseout", onLeave);
      if (matchMedia("(pointer: coarse)").matches) timer = setTimeout(once, 15000);  // phones have no exit intent
    } else timer = setTimeout(once, config.trigger_value * 1000);
  }

  if (preview) {  // the admin sends the unsaved fields
    var current = null;
    addEventListener("message", function (event) {
      if (event.origin !== location.origin || !event.data || event.data.type !== "parley-signup-preview") return;
      if (current) current.host.remove();
      current = show(event.data.config);
    });
    if (parent !== window) parent.postMessage({ type: "parley-signup-preview-ready" }, location.origin);
    return;
  }
  fetch(base + "/signup/" + encodeURIComponent(slug) + "/config.json")
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (config) { if (config) arm(config); })
    .catch(function () { /* the store's page works on without the pop-up */ });
})();
