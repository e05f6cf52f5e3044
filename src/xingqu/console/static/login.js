"use strict";
XQ.start(() => {
  XQ.$("#login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const key = XQ.$("#key").value.trim();
    const res = await fetch("/v1/keys/me", { headers: { Authorization: `Bearer ${key}` } });
    if (!res.ok) {
      XQ.flash(XQ.T("login.bad"));
      return;
    }
    localStorage.setItem(XQ.KEY, key);
    location.href = XQ.landing(await res.json());
  });
  document.body.dataset.ready = "1";
  window.xqReadyMs = performance.now();
});
