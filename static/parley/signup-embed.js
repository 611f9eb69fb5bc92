/* Parley sign-up pop-up. Embed with:
 *   <script src="https://parley.example.com/signup/embed.js" data-form="welcome" async></script>
 * It talks only to the Parley server it came from: no fonts, images or trackers from anywhere else.
 * data-preview="1" shows it at once, without counting, remembering or sending (the admin's live preview).
 *
 * Browse tracking (when the form's "track browsing" is on): for a shopper Parley knows, i.e. one who signed up in
 * this browser or arrived through a tracked link in a text (?parley_id=…, taken out of the address at once), it
 * reports product and collection views to Parley, and only to Parley. Anonymous visitors send nothing. The page is
 * read from window.parleyPage if the store sets it, else Shopify's ShopifyAnalytics.meta, WooCommerce's body
 * classes, or schema.org JSON-LD Product; window.parley.viewed({...}) reports a view explicitly.
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
  var ID_KEY = "parley-id", ID_PARAM = "parley_id";
  var arrived = preview ? null : takeIdentityFromAddress();
  var tracking = false;

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
        if (tracking && result.body.browse_id && !identity()) keepIdentity(result.body.browse_id);
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
  // --- Browse tracking -----------------------------------------------------------------------------------------

  function takeIdentityFromAddress() {
    // Out of the address bar before anyone copies or shares it; the store's own query stays as it was.
    var token = null;
    var kept = location.search.slice(1).split("&").filter(function (part) {
      if (part.split("=")[0] !== ID_PARAM) return part;
      try { token = decodeURIComponent(part.slice(ID_PARAM.length + 1).replace(/\+/g, " ")); } catch (e) { /* bad */ }
      return false;
    });
    if (token === null) return null;
    try {
      history.replaceState(history.state, "", location.pathname + (kept.length ? "?" + kept.join("&") : "") + location.hash);
    } catch (e) { /* a sandboxed page: the address keeps it */ }
    return token;
  }
  function identity() {
    try { return localStorage.getItem(ID_KEY); } catch (e) { return null; }
  }
  function keepIdentity(token) {
    try { if (token) localStorage.setItem(ID_KEY, token); else localStorage.removeItem(ID_KEY); } catch (e) { /* private mode */ }
  }

  function text(node) { return node ? (node.getAttribute("content") || node.textContent || "").trim() : ""; }
  function find(selector) { return document.querySelector(selector); }
  function valueOf(selector) { var node = find(selector); return node ? node.value : ""; }
  function heading() { return text(find("h1")) || text(find("meta[property='og:title']")) || document.title; }
  function pathAfter(word) {
    var match = location.pathname.match(new RegExp("/" + word + "/([^/?#]+)"));
    return match ? decodeURIComponent(match[1]) : "";
  }
  function digits(value) { return value == null ? "" : String(value).replace(/^gid:\/\/shopify\/\w+\//, ""); }

  function jsonLdProduct() {  // schema.org Product, alone, in a list or in an @graph
    var found = null;
    function visit(node) {
      if (found || !node || typeof node !== "object") return;
      if (Array.isArray(node)) { node.forEach(visit); return; }
      var type = node["@type"];
      if (type === "Product" || (Array.isArray(type) && type.indexOf("Product") !== -1)) { found = node; return; }
      visit(node["@graph"]);
    }
    Array.prototype.forEach.call(document.querySelectorAll("script[type='application/ld+json']"), function (script) {
      try { visit(JSON.parse(script.textContent)); } catch (e) { /* not JSON */ }
    });
    if (!found) return null;
    var offer = [].concat(found.offers || [])[0] || {};
    var image = [].concat(found.image || [])[0];
    return {
      kind: "product", product_id: digits(found.productID), sku: found.sku, title: found.name,
      price: offer.price != null ? offer.price : offer.lowPrice,
      image_url: image && typeof image === "object" ? image.url : image
    };
  }

  function detect() {
    var ld = jsonLdProduct() || {};
    var meta = window.ShopifyAnalytics && window.ShopifyAnalytics.meta;
    if (meta && meta.product && meta.product.id) {
      var variants = meta.product.variants || [];
      var chosen = new URLSearchParams(location.search).get("variant") || valueOf("form[action*='/cart/add'] [name=id]");
      var variant = variants.filter(function (v) { return String(v.id) === chosen; })[0] || (variants.length === 1 ? variants[0] : null);
      return {
        kind: "product", platform: "shopify", product_id: digits(meta.product.id), variant_id: variant ? digits(variant.id) : "",
        sku: variant ? variant.sku : "", title: ld.title || heading(),
        price: variant && variant.price != null ? variant.price / 100 : ld.price, image_url: ld.image_url
      };
    }
    if (meta && meta.page && meta.page.pageType === "collection") {
      return { kind: "collection", platform: "shopify", collection: pathAfter("collections") || digits(meta.page.resourceId), title: heading() };
    }
    var body = document.body.className;
    if (/(^|\s)single-product(\s|$)/.test(body)) {
      var post = body.match(/(^|\s)postid-(\d+)/);
      var chosenVariation = valueOf("input.variation_id");
      return {
        kind: "product", platform: "woocommerce", product_id: post ? post[2] : "",
        variant_id: chosenVariation !== "0" ? chosenVariation : "", sku: ld.sku,
        title: text(find(".product_title")) || ld.title || heading(), price: ld.price, image_url: ld.image_url
      };
    }
    if (/(^|\s)tax-product_cat(\s|$)/.test(body)) {
      var terms = (body.match(/(^|\s)term-[^\s]+/g) || []).map(function (c) { return c.trim().slice(5); });
      var named = terms.filter(function (term) { return !/^\d+$/.test(term); })[0];
      return { kind: "collection", platform: "woocommerce", collection: named || terms[0] || pathAfter("product-category"), title: heading() };
    }
    return ld.kind ? ld : null;
  }

  function report(view) {
    var token = identity();
    if (!tracking || !token || !view) return;
    var body = { identity: token, kind: view.collection ? "collection" : "product", url: location.origin + location.pathname + location.search };
    ["kind", "url", "platform", "product_id", "variant_id", "sku", "title", "price", "image_url", "collection"].forEach(function (key) {
      if (view[key] != null && view[key] !== "") body[key] = typeof view[key] === "number" ? view[key] : String(view[key]);
    });
    ["url", "image_url"].forEach(function (key) {  // pages may write them relative to themselves
      try { if (body[key]) body[key] = new URL(body[key], location.href).href; } catch (e) { /* left as it is */ }
    });
    fetch(base + "/browse/" + encodeURIComponent(slug) + "/", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), keepalive: true
    }).then(function (response) {
      if (response.status !== 403 && response.status !== 404) return;
      return response.json().then(function (answer) {  // a forged, expired or forgotten identifier: forget it too
        if (["forged", "expired", "unknown"].indexOf(answer.reason) !== -1) keepIdentity(null);
      });
    }).catch(function () { /* the store's page works on */ });
  }

  function track(config) {
    tracking = !!config.track;
    if (!tracking) { keepIdentity(null); return; }
    if (arrived) keepIdentity(arrived);
    window.parley = window.parley || {};
    window.parley.viewed = function (view) { report(view); };
    function onPage() { report(window.parleyPage || detect()); }
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", onPage);
    else onPage();
  }

  fetch(base + "/signup/" + encodeURIComponent(slug) + "/config.json")
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (config) { if (config) { track(config); arm(config); } })
    .catch(function () { /* the store's page works on without the pop-up */ });
})();
