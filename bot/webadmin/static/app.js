/* The admin app's only script: it sends the credential with every request and follows Telegram's theme.
 *
 * Pages are rendered by the server. This script fetches them with an Authorization header (Telegram's
 * initData, or the session a one-time login link opened), swaps the page in, and keeps the address bar
 * and the back button right. Links and forms stay ordinary links and forms, so the keyboard works as
 * everywhere. Telegram passes its launch parameters in the URL fragment (tgWebAppData,
 * tgWebAppThemeParams), where telegram-web-app.js reads them too; they are kept for the session because
 * the fragment is gone after the first navigation.
 */
(function () {
  "use strict";
  var store = window.sessionStorage;
  var tg = window.Telegram && window.Telegram.WebApp;
  var fragment = new URLSearchParams(location.hash.slice(1));
  var COLOR = /^#[0-9a-fA-F]{3,8}$/;

  function remember(key, value) { if (value) { store.setItem(key, value); } return value || store.getItem(key) || ""; }
  var initData = remember("admin.initData", (tg && tg.initData) || fragment.get("tgWebAppData"));

  function parseTheme(text) { try { return JSON.parse(text || "null"); } catch (e) { return null; } }
  function themeNow() {
    if (tg && tg.themeParams && Object.keys(tg.themeParams).length) { return tg.themeParams; }
    var fromUrl = parseTheme(fragment.get("tgWebAppThemeParams"));
    if (fromUrl) { store.setItem("admin.theme", JSON.stringify(fromUrl)); return fromUrl; }
    return parseTheme(store.getItem("admin.theme"));
  }
  function luminance(hex) {
    var h = hex.replace("#", "");
    if (h.length === 3) { h = h[0] + h[0] + h[1] + h[1] + h[2] + h[2]; }
    var n = parseInt(h.slice(0, 6), 16);
    return (0.2126 * (n >> 16 & 255) + 0.7152 * (n >> 8 & 255) + 0.0722 * (n & 255)) / 255;
  }
  function applyTheme() {
    var theme = themeNow() || {};
    var root = document.documentElement;
    Object.keys(theme).forEach(function (key) {
      if (COLOR.test(String(theme[key]))) { root.style.setProperty("--tg-theme-" + key.replace(/_/g, "-"), theme[key]); }
    });
    var scheme = (tg && tg.colorScheme && Object.keys(theme).length && tg.colorScheme) ||
      (COLOR.test(String(theme.bg_color)) ? (luminance(theme.bg_color) < 0.5 ? "dark" : "light") : null) ||
      (window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
    root.setAttribute("data-scheme", scheme);
  }
  applyTheme();
  if (tg) {
    try { tg.ready(); tg.expand(); tg.onEvent("themeChanged", applyTheme); } catch (e) { /* an old client */ }
  }

  function credential() {
    if (initData) { return "tma " + initData; }
    var session = store.getItem("admin.session");
    return session ? "Session " + session : null;
  }

  function focusAfterSwap() {
    var target = document.querySelector("[aria-invalid=true]") || document.querySelector(".error.banner") ||
      document.querySelector(".notice") || document.querySelector("main [autofocus]") ||
      document.querySelector("main h1");
    if (target) { target.focus({ preventScroll: false }); }
  }

  function swap(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    document.title = doc.title;
    document.body.replaceWith(doc.body);
    focusAfterSwap();
    showBackButton();
  }

  // Telegram's own Back button (in its header) goes back a page, except on the first page.
  var depth = 0;
  function showBackButton() {
    if (!tg || !tg.BackButton) { return; }
    try { if (depth > 0) { tg.BackButton.show(); } else { tg.BackButton.hide(); } } catch (e) { /* old client */ }
  }
  if (tg && tg.BackButton) {
    try { tg.BackButton.onClick(function () { history.back(); }); } catch (e) { /* old client */ }
  }

  var loading = false;
  function load(url, options) {
    options = options || {};
    var auth = credential();
    if (!auth) { return Promise.resolve(); }
    var headers = { "Authorization": auth, "Accept": "text/html" };
    if (options.body) { headers["Content-Type"] = "application/x-www-form-urlencoded"; }
    loading = true;
    document.body.setAttribute("aria-busy", "true");
    return fetch(url, { method: options.method || "GET", body: options.body, headers: headers,
                        credentials: "omit", cache: "no-store" })
      .then(function (response) {
        var where = response.headers.get("X-Page-Url");
        return response.text().then(function (html) {
          if (where && options.history !== false) {
            if (options.replace) {
              history.replaceState(null, "", where);
            } else if (where !== location.pathname + location.search) {
              history.pushState(null, "", where);
              depth += 1;
            }
          }
          swap(html);
        });
      })
      .catch(function () {
        var main = document.querySelector("main");
        if (main) {
          var p = document.createElement("p");
          p.className = "error banner"; p.setAttribute("role", "alert"); p.tabIndex = -1;
          p.textContent = "The bot could not be reached; nothing was changed. Try again in a moment.";
          main.prepend(p); p.focus();
        }
      })
      .finally(function () { loading = false; document.body.removeAttribute("aria-busy"); });
  }

  function ownUrl(href) {
    var prefix = document.body.getAttribute("data-prefix") || "/admin";
    try { var url = new URL(href, location.href); } catch (e) { return false; }
    return url.origin === location.origin && url.pathname.indexOf(prefix) === 0 && url.pathname.indexOf(prefix + "/static/") !== 0;
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[href]");
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey ||
        event.altKey || link.target || link.getAttribute("href").charAt(0) === "#" || !ownUrl(link.href)) { return; }
    event.preventDefault();
    load(link.href);
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!ownUrl(form.action)) { return; }
    event.preventDefault();
    if (loading) { return; }
    var data = new FormData(form);
    if (event.submitter && event.submitter.name) { data.append(event.submitter.name, event.submitter.value); }
    var params = new URLSearchParams();
    data.forEach(function (value, key) { params.append(key, typeof value === "string" ? value : ""); });
    if ((form.getAttribute("method") || "get").toLowerCase() === "get") {
      load(form.action.split("?")[0] + "?" + params.toString());
    } else {
      load(form.action, { method: "POST", body: params.toString() });
    }
  });

  document.addEventListener("keydown", function (event) {
    var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName) || event.target.isContentEditable;
    if (event.key === "/" && !typing) {
      var search = document.querySelector("input[type=search]");
      if (search) { event.preventDefault(); search.focus(); search.select(); }
    }
  });

  window.addEventListener("popstate", function () {
    depth = Math.max(0, depth - 1);
    load(location.href, { history: false });
  });

  function start() {
    var token = fragment.get("login");
    if (token) {
      history.replaceState(null, "", location.pathname + location.search);  // the link works once: forget it
      fetch((document.body.getAttribute("data-prefix") || "/admin") + "/login", {
        method: "POST", body: new URLSearchParams({ token: token }).toString(), credentials: "omit",
        headers: { "Content-Type": "application/x-www-form-urlencoded" }
      }).then(function (r) { return r.json(); }).then(function (answer) {
        if (answer.session) { store.setItem("admin.session", answer.session); initData = ""; load(location.href, { replace: true }); }
        else { showShellMessage(answer.error); }
      });
      return;
    }
    if (initData && location.hash.indexOf("tgWebApp") !== -1) { history.replaceState(null, "", location.pathname + location.search); }
    if (document.body.getAttribute("data-page") === "shell") {
      if (credential()) { load(location.href, { replace: true }); }
    }
  }
  function showShellMessage(text) {
    var p = document.querySelector("[data-shell-message]");
    if (p && text) { p.textContent = text; p.className = "error"; }
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
