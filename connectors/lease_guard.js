// A worker's hold on this number, enforced by the page itself (issue 17). The engine sets the
// deadline (epoch ms) after each lease renewal; a worker that stops renewing (paused, cut off
// from the database) has this page leave WhatsApp before another worker may take the number
// over, so one device is never open in two pages at once. The deadline is kept in
// sessionStorage: a reload of the page keeps the last one.
(() => {
  if (window.top !== window || window.__waHold) return;
  const KEY = '__waHoldUntil';
  const stored = (write) => {
    try {
      return write();
    } catch (e) {
      return null; // no storage on this document (about:blank): nothing to keep
    }
  };
  let until = Number(stored(() => sessionStorage.getItem(KEY))) || null;
  window.__waHold = (ms) => {
    until = ms;
    stored(() => sessionStorage.setItem(KEY, String(ms)));
  };
  const timer = setInterval(() => {
    if (until !== null && Date.now() > until) {
      clearInterval(timer);
      stored(() => sessionStorage.removeItem(KEY));
      window.stop();
      location.replace('about:blank');
    }
  }, 200);
})();
