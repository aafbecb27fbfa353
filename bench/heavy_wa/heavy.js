// Bench only: makes the fixture page weigh what a WhatsApp Web page weighs, so memory per
// session is not measured on a page far lighter than the real one (issue 17).
//   ?heapMb=N  a JS heap of about N MB of message-like objects, retained the way WhatsApp
//              Web's stores keep their models in memory;
//   ?idbMb=N   about N MB written once per profile to IndexedDB ("model-storage", WhatsApp
//              Web's database name), as a synced account's message store is.
// The sizes are the bench's arguments; bench_sessions_heavy.py says where its defaults come from.
(function () {
  const query = new URLSearchParams(location.search);
  const heapMb = Number(query.get('heapMb') || 0);
  const idbMb = Number(query.get('idbMb') || 0);

  // Unique flat strings (joined UUIDs): no interning or cons-string sharing shrinks them.
  const body = () => Array.from({ length: 8 }, () => crypto.randomUUID()).join(' ');
  // Sized by an estimate (one byte a character: the strings are ASCII; ~150 bytes for the
  // object and its id); the bench reads the real heap size through the DevTools protocol.
  const models = [];
  let bytes = 0;
  for (let n = 0; bytes < heapMb * 1024 * 1024; n++) {
    const text = body();
    models.push({ id: `false_5511${n}@c.us_${crypto.randomUUID()}`, body: text, t: n, ack: 3 });
    bytes += text.length + 150;
  }
  window.__heavyModels = models;

  if (!idbMb || localStorage.getItem('heavy-idb-written') === String(idbMb)) return;
  const open = indexedDB.open('model-storage', 1);
  open.onupgradeneeded = () => open.result.createObjectStore('message', { keyPath: 'id' });
  open.onsuccess = () => {
    const db = open.result;
    const target = idbMb * 1024 * 1024;
    let written = 0;
    let n = 0;
    const batch = () => {
      const tx = db.transaction('message', 'readwrite');
      const store = tx.objectStore('message');
      for (let k = 0; k < 500 && written < target; k++, n++) {
        const text = body() + body() + body() + body() + body() + body() + body();
        store.put({ id: n, body: text });
        written += text.length; // ASCII: one byte a character, as stored
      }
      tx.oncomplete = () => {
        if (written < target) batch();
        else localStorage.setItem('heavy-idb-written', String(idbMb));
      };
    };
    batch();
  };
})();
