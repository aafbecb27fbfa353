// The demo's fixture page drives itself (ghl_app/demo/phone.py): it reports its state and what
// the app sent through it, and runs what the simulated phone queued (a scan, a customer's text).
(() => {
  'use strict';
  const pageId = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('');
  const run = (fixture, command) => {
    if (command.op === 'scan') fixture.scan(command.phone);
    else if (command.op === 'deliver') fixture.deliver(command.opts);
    else if (command.op === 'ack') fixture.ack(command.ids, command.level);
  };
  const tick = async () => {
    const fixture = window.__fixture;
    try {
      const answer = await fetch('/demo/wa/report', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ page_id: pageId, state: fixture.state(), sent: fixture.sent() }),
      });
      const { commands } = await answer.json();
      for (const command of commands) {
        try {
          run(fixture, command);
        } catch (error) {
          console.warn('demo phone command failed', command.op, String(error));
        }
      }
    } catch (error) {
      // The demo server restarting: try again on the next tick.
    }
    setTimeout(tick, 400);
  };
  setTimeout(tick, 0);
})();
