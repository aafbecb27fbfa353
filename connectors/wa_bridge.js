// Page side of the Playwright engine. Injected with context.add_init_script after wa-js.
// It waits for window.WPP, registers one listener per WPP.on event, turns Wids and MsgKeys into
// strings (they must never be shipped to Python, docs/whatsapp-web.md) and forwards plain
// objects to the binding `__waEmit`. It also exposes `window.__waCommands` for the engine's
// commands, so that every Wid/MsgKey conversion lives in this one file.
(() => {
  if (window.top !== window || window.__waBridge) return;
  window.__waBridge = { attached: false };

  // The engine exposes the binding while the page loads (it saves ~200 ms of every start), so
  // the first events (a QR, an early message) may come before the binding can take them: until
  // `__waEmit` exists AND the engine has set `__waEmitReady` (Playwright drops calls that come
  // before its exposeBinding has returned), queue them and flush in order; while anything is
  // queued, later events queue behind it. Bounded: the engine fails such a start within seconds.
  const bound = () => typeof window.__waEmit === 'function' && window.__waEmitReady === true;
  const pending = [];
  let flushTimer = null;
  let flushTicks = 0;
  const FLUSH_EVERY_MS = 10;
  const FLUSH_GIVE_UP_TICKS = 3000; // 30 s
  const send = (event) => {
    try {
      window.__waEmit(event);
    } catch (e) {
      // The binding is gone while the page closes; nothing to report to.
    }
  };
  const flush = () => {
    const ready = bound();
    if (!ready && ++flushTicks < FLUSH_GIVE_UP_TICKS) return;
    clearInterval(flushTimer);
    flushTimer = null;
    flushTicks = 0;
    const queued = pending.splice(0);
    if (ready) queued.forEach(send);
  };
  const emit = (kind, data) => {
    const event = { kind, ...(data || {}) };
    if (pending.length === 0 && bound()) {
      send(event);
      return;
    }
    pending.push(event);
    if (flushTimer === null) flushTimer = setInterval(flush, FLUSH_EVERY_MS);
  };

  const str = (value) => {
    if (value === null || value === undefined) return null;
    if (typeof value === 'string') return value;
    if (typeof value._serialized === 'string') return value._serialized;
    return String(value);
  };

  // A MsgKey-like value as {id, serialized, remote, fromMe}. A string is a serialized key:
  // `<fromMe>_<remote>_<id>[_<participant>]`.
  const key = (value) => {
    if (value === null || value === undefined) return null;
    if (typeof value === 'string') {
      const parts = value.split('_');
      return {
        id: parts.length >= 3 ? parts[2] : value,
        serialized: value,
        remote: parts.length >= 3 ? parts[1] : null,
        fromMe: parts[0] === 'true',
      };
    }
    return {
      id: value.id,
      serialized: str(value),
      remote: str(value.remote),
      fromMe: !!value.fromMe,
    };
  };

  const phoneOf = (wid) => {
    const s = str(wid);
    if (!s || !s.endsWith('@c.us')) return null;
    return s.split('@')[0].split(':')[0];
  };

  // The phone WhatsApp gives for a contact: the user part of a @c.us id, or for a @lid id the
  // contact's `phoneNumber` (never digits parsed from the LID).
  const senderPhone = (msg, chatId, isGroup, fromMe) => {
    const who = isGroup ? str(msg.author) : chatId;
    if (who && who.endsWith('@c.us')) return phoneOf(who);
    const contact = msg.senderObj || null;
    if (contact && !fromMe && contact.phoneNumber) return phoneOf(contact.phoneNumber);
    if (!isGroup && msg.chat && msg.chat.contact && msg.chat.contact.phoneNumber) {
      return phoneOf(msg.chat.contact.phoneNumber);
    }
    return null;
  };

  const TEXT_TYPES = new Set(['chat', 'vcard']);

  // The group's subject, null when WhatsApp Web has not loaded it. A Msg's derived `chat` is the
  // ChatModel from the ChatStore (else WPP.chat.get(chatId) returns it, or undefined). wa-js's
  // own group.setSubject writes the new subject to the chat's `name` and `formattedTitle`; the
  // chat's `groupMetadata.subject` holds it too. Never throws: a missing name must not cost the
  // message itself.
  const groupSubject = (msg, chatId) => {
    try {
      const chat = msg.chat || WPP.chat.get(chatId) || null;
      if (!chat) return null;
      const meta = chat.groupMetadata || null;
      for (const value of [chat.name, meta && meta.subject, chat.formattedTitle]) {
        if (typeof value === 'string' && value.trim()) return value.trim();
      }
    } catch (e) {
      // Models not loaded yet, or shaped differently: the group stays unnamed for now.
    }
    return null;
  };

  // wa-js fires chat.new_message on the MsgStore add, with `type: 'ciphertext'` while the
  // message is still encrypted, and again once it is decrypted (chat/events/
  // registerNewMessageEvent.ts: 'add' then 'change:type'). The first is not a message: wait for
  // the second; after CIPHERTEXT_WAIT_MS without it, one "could not decrypt" message instead
  // (whatsapp-web.js waits 15 s the same way).
  const cipherWaits = new Map();
  const cipherWaitMs = () => window.__waBridgeCiphertextWaitMs || 15000;
  // Notification and system types are not messages a person wrote (enums/MSG_TYPE.ts; WPPConnect
  // drops `isNotification` ones): told to the engine as ignored, never posted to GHL.
  const NOT_MESSAGES = new Set([
    'e2e_notification',
    'notification',
    'notification_template',
    'gp2',
    'broadcast_notification',
    'call_log',
    'protocol',
    'revoked',
    'debug',
    'newsletter_notification',
  ]);
  const onNewMessage = (msg) => {
    const serialized = key(msg.id).serialized;
    if (msg.type === 'ciphertext') {
      if (cipherWaits.has(serialized)) return;
      const timer = setTimeout(() => {
        cipherWaits.delete(serialized);
        if (msg.type !== 'ciphertext') return; // decrypted meanwhile: its own emission came
        emit('message', { message: { ...serializeMsg(msg), type: 'undecryptable' } });
      }, cipherWaitMs());
      cipherWaits.set(serialized, timer);
      return;
    }
    const waiting = cipherWaits.get(serialized);
    if (waiting !== undefined) {
      clearTimeout(waiting);
      cipherWaits.delete(serialized);
    }
    if (msg.isNotification || NOT_MESSAGES.has(msg.type)) {
      emit('ignored', { id: key(msg.id).id, chat_id: str(msg.from), type: msg.type || 'unknown' });
      return;
    }
    const message = serializeMsg(msg);
    // A LID chat (or a group author) whose message carries no phone: WhatsApp Web may still
    // hold the LID's phone number (contact/functions/getPnLidEntry.ts, its LID <-> PN cache).
    // That lookup is async, so messages go out through one chain: their order never changes.
    const lid = message.is_group ? message.author : message.chat_id;
    if (!message.sender_phone && !message.from_me && lid && lid.endsWith('@lid')) {
      ordered = ordered.then(async () => {
        try {
          const entry = await WPP.contact.getPnLidEntry(lid);
          message.sender_phone = phoneOf(entry && entry.phoneNumber);
        } catch (e) {
          // No mapping known: the message goes without a phone, as before.
        }
        emit('message', { message });
      });
      return;
    }
    ordered = ordered.then(() => emit('message', { message }));
  };
  let ordered = Promise.resolve();

  const serializeMsg = (msg) => {
    const k = key(msg.id);
    const chatId = k.remote || (k.fromMe ? str(msg.to) : str(msg.from));
    const isGroup = !!msg.isGroupMsg || (chatId || '').endsWith('@g.us');
    const quoted = msg.quotedMsgId ? key(msg.quotedMsgId) : null;
    return {
      id: k.id,
      serialized_id: k.serialized,
      chat_id: chatId,
      from_me: k.fromMe,
      type: msg.type || 'unknown',
      body: TEXT_TYPES.has(msg.type) && typeof msg.body === 'string' ? msg.body : null,
      caption: typeof msg.caption === 'string' ? msg.caption : null,
      mimetype: msg.mimetype || null,
      filename: msg.filename || null,
      size: typeof msg.size === 'number' ? msg.size : null,
      t: typeof msg.t === 'number' ? msg.t : Math.floor(Date.now() / 1000),
      is_group: isGroup,
      author: isGroup ? str(msg.author) : null,
      notify_name: msg.notifyName || null,
      quoted_id: quoted ? quoted.id : null,
      sender_phone: senderPhone(msg, chatId, isGroup, k.fromMe),
      chat_name: isGroup ? groupSubject(msg, chatId) : null,
      details: messageDetails(msg),
    };
  };

  // -- Issue 16: what a message carries beyond its text, and the events that are not messages.
  // Fields read from whatsapp/models/MsgModel.ts (wa-js 4.6.0) as wa-js's own senders fill them:
  // location `{lat, lng, loc: "name\naddress", clientUrl}` (chat/functions/
  // sendLocationMessage.ts); a vcard's body is the card and multi_vcard has `vcardList:
  // [{displayName, vcard}]` (sendVCardContactMessage.ts); a poll is `poll_creation` with
  // `pollName` and `pollOptions: [{name, localId}]` (sendCreatePollMessage.ts); `isViewOnce`,
  // `isForwarded`, and `quotedMsg` (the quoted message's fields). Never throws.
  const textOf = (value) => (typeof value === 'string' && value ? value : null);
  const messageDetails = (msg) => {
    const out = {};
    try {
      if (msg.isForwarded) out.forwarded = true;
      if (msg.isViewOnce) out.view_once = true;
      if (msg.type === 'location') {
        out.location = {
          lat: typeof msg.lat === 'number' ? msg.lat : null,
          lng: typeof msg.lng === 'number' ? msg.lng : null,
          loc: textOf(msg.loc),
          url: textOf(msg.clientUrl),
        };
      } else if (msg.type === 'vcard') {
        out.vcards = [textOf(msg.body)].filter(Boolean);
      } else if (msg.type === 'multi_vcard') {
        out.vcards = (msg.vcardList || []).map((c) => textOf(c && c.vcard)).filter(Boolean);
      } else if (msg.type === 'poll_creation') {
        out.poll = {
          name: textOf(msg.pollName),
          options: (msg.pollOptions || []).map((o) => textOf(o && o.name)).filter(Boolean),
        };
      }
      const quoted = msg.quotedMsg;
      if (quoted) {
        out.quoted_text = quoted.type === 'chat' ? textOf(quoted.body) : textOf(quoted.caption);
      }
    } catch (e) {
      // A model shaped differently: the message still goes, with what was read.
    }
    return out;
  };

  const attachEventKinds = (on) => {
    // chat/events/registerReactionsEvent.ts: `{id, msgId, reactionText ('' = removed), read,
    // sender, orphan, orphanReason, timestamp}`; the chat is the reacted message's remote.
    on('chat.new_reaction', (ev) => {
      const reaction = key(ev.id);
      const parent = key(ev.msgId);
      if (!reaction || !parent) return;
      emit('reaction', {
        id: reaction.id,
        from_me: reaction.fromMe,
        chat_id: parent.remote,
        message_id: parent.id,
        text: typeof ev.reactionText === 'string' ? ev.reactionText : '',
        sender: str(ev.sender),
      });
    });
    // chat/events/registerEditedMessageEvent.ts: `{chat: msg.to, id: msg.id.toString(), msg}`
    // on MsgStore 'change:latestEditMsgKey'. `chat` is our own id for an inbound message
    // (wa-js audit §4), so the chat comes from the key's remote.
    on('chat.msg_edited', (ev) => {
      const msg = ev.msg || {};
      const original = key(ev.id || msg.id);
      if (!original) return;
      const edit = msg.latestEditMsgKey ? key(msg.latestEditMsgKey) : null;
      emit('edited', {
        message_id: original.id,
        chat_id: original.remote || str(msg.from),
        from_me: original.fromMe,
        edit_id: edit ? edit.id : null,
        text: msg.type === 'chat' ? textOf(msg.body) : textOf(msg.caption),
        is_group: (original.remote || '').endsWith('@g.us'),
        author: str(msg.author),
        notify_name: msg.notifyName || null,
      });
    });
    // chat/events/registerUnreadCountEvent.ts: `{chat: ChatModel, unreadCount,
    // previousUnreadCount}` on ChatStore 'change:unreadCount', debounced 50 ms across all chats
    // (one timer: the last change wins). 0 after unread messages = read on the phone.
    on('chat.unread_count_changed', (ev) => {
      if (ev.unreadCount === 0 && ev.previousUnreadCount !== 0 && ev.chat) {
        emit('chat_read', { chat_id: str(ev.chat.id) });
      }
    });
    // call/events/registerIncomingCallEvent.ts: `{id, isGroup, isVideo, offerTime, sender,
    // peerJid}`; `sender` is the caller's wid without a device.
    on('call.incoming_call', (call) => {
      emit('call', {
        id: String(call.id),
        chat_id: str(call.sender),
        is_video: !!call.isVideo,
        is_group: !!call.isGroup,
      });
    });
  };

  const own = () => {
    try {
      return str(WPP.conn.getMyUserId());
    } catch (e) {
      return null;
    }
  };

  // Connected needs both the login and the main screen; the order of the two events varies
  // (main_ready also fires on the QR screen), so check the state on each and retry briefly
  // until the own id is readable.
  let connectedSent = false;
  const tryConnected = (attempts) => {
    if (connectedSent) return;
    const conn = WPP.conn;
    if (conn.isAuthenticated() && conn.isMainReady() && own()) {
      connectedSent = true;
      emit('connected', { wid: own() });
    } else if (attempts > 0 && conn.isAuthenticated()) {
      setTimeout(() => tryConnected(attempts - 1), 250);
    }
  };

  const sendQr = (code) => {
    if (code && code.fullCode) emit('qr', { code: code.fullCode });
  };

  const checkState = () => {
    if (WPP.conn.isAuthenticated()) {
      tryConnected(40);
    } else {
      // conn/functions/getAuthCode.ts: async (Promise<AuthCode | null>).
      Promise.resolve(WPP.conn.getAuthCode()).then(sendQr, () => {});
    }
  };

  const attach = () => {
    const on = (name, cb) =>
      WPP.on(name, (payload) => {
        try {
          cb(payload);
        } catch (e) {
          emit('error', { where: name, message: String(e && e.stack ? e.stack : e) });
        }
      });
    on('conn.auth_code_change', (code) => sendQr(code));
    on('conn.qrcode_idle', () => emit('qr_idle'));
    on('conn.link_code_change', (code) => emit('pairing_code', { code: String(code) }));
    // The active code needs a manual refresh (conn/events/eventTypes.ts): asked for at once.
    on('conn.link_code_expired', () => {
      Promise.resolve(WPP.conn.refreshLinkDeviceCode()).then(
        (code) => emit('pairing_code', { code: String(code) }),
        (e) => emit('error', { where: 'refreshLinkDeviceCode', message: String(e) }),
      );
    });
    on('conn.link_code_error', (e) => emit('error', { where: 'link_code', message: String(e) }));
    on('conn.authenticated', () => tryConnected(40));
    on('conn.main_ready', () => tryConnected(40));
    // whatsapp/enums/LogoutReason.ts (user_initiated, account_locked, client_version_outdated,
    // storage_quota_exceeded, ...): why WhatsApp logged this device out, when it says.
    let logoutReason = null;
    on('conn.logout_reason', (reason) => {
      logoutReason = String(reason);
    });
    on('conn.logout', () => {
      connectedSent = false;
      emit('logged_out', { reason: logoutReason || 'logout' });
    });
    on('conn.require_auth', () => {
      connectedSent = false;
      emit('logged_out', { reason: logoutReason || 'require_auth' });
    });
    on('chat.new_message', (msg) => onNewMessage(msg));
    // conn/events/eventTypes.ts: WhatsApp Web asks to be updated (its build is too old for the
    // server); the number may stop working until the page loads a newer one.
    on('conn.needs_update', () =>
      emit('wa_problem', { problem: 'needs_update: WhatsApp Web asks for an update' }),
    );
    // WhatsApp's own connection (conn/events/registerStreamModeChangeEvent.ts: the current mode
    // at registration, then every change). CONFLICT ("open on another computer") is taken over
    // through WhatsApp Web's Socket.takeover() (whatsapp/models/SocketModel.d.ts), as
    // whatsapp-web.js's takeoverOnConflict does.
    on('conn.stream_mode_changed', (mode) => {
      emit('stream', { mode: String(mode) });
      const options = window.__waBridgeOptions || {};
      if (String(mode) === 'CONFLICT' && options.takeoverOnConflict !== false) {
        try {
          WPP.whatsapp.Socket.takeover();
        } catch (e) {
          emit('error', { where: 'takeover', message: String(e) });
        }
      }
    });
    // The rest of WhatsApp's connection (connectors/_health.py reads them together):
    // conn/events/registerStreamEvent.ts (Stream 'change:info', whatsapp/enums/StreamInfo.ts),
    // registerOnlineEvent.ts (NetworkStatus 'change:online', a boolean), and
    // registerBackendEventBusEvents.ts (every BackendEventBus trigger, its name first; WPP.on's
    // listener gets the name as its first argument). Of the backend's many names only those
    // that tell the number's health go to the engine.
    on('conn.stream_info_changed', (info) => emit('stream_info', { info: String(info) }));
    on('conn.online', (online) => emit('online', { online: online !== false }));
    const HEALTH_BACKEND_EVENTS = new Set([
      'account_temporarily_banned',
      'storage_initialization_error',
    ]);
    on('conn.backend_event', (name) => {
      if (HEALTH_BACKEND_EVENTS.has(String(name))) emit('backend', { event: String(name) });
    });
    // chat/events/registerAckMessageEvent.ts: ack 1 from the MsgStore (no sender), and each
    // receipt (ack >= 2) of our own messages; in a group one event per participant, who is
    // `sender` (the receipt's participant).
    on('chat.msg_ack_change', (ev) =>
      emit('ack', {
        ack: ev.ack,
        chat_id: str(ev.chat),
        ids: (ev.ids || []).map((k) => key(k).id),
        sender: str(ev.sender),
      }),
    );
    on('chat.msg_revoke', (ev) => {
      const ref = key(ev.refId);
      if (ref) {
        emit('revoked', { message_id: ref.id, chat_id: ref.remote || str(ev.from), from_me: ref.fromMe });
      }
    });
    attachEventKinds(on);
    // loader/index.ts never replays `ready` to a listener added after it: check first.
    const whenReady = (cb) => (WPP.isReady ? cb() : WPP.loader.onReady(cb));
    whenReady(checkState);
    // conn/functions/setKeepAlive.ts: keeps WhatsApp Web acting as a focused, active tab (a
    // headless page in the background is otherwise treated as idle); WPPConnect sets it too.
    whenReady(() => {
      Promise.resolve(WPP.conn.setKeepAlive(true)).catch((e) =>
        emit('error', { where: 'setKeepAlive', message: String(e) }),
      );
    });
    window.__waBridge.attached = true;
  };

  const fileType = (mimetype) => {
    if (/^(image|video|audio)\//.test(mimetype)) return 'auto-detect';
    return 'document';
  };

  // wa-js takes `messageId` as a whole MsgKey (`true_<chat id>_<id>`), fromMe, whose remote must
  // equal the chat's own id (checked in wa-js's prepareRawMessage). The chat's id can differ from
  // what we were given (e.g. a contact migrated to a LID), so ask WPP.chat.find for it.
  const reservedKey = async (chatId, messageId) => {
    const chat = await WPP.chat.find(chatId);
    return `true_${str(chat.id)}_${messageId}`;
  };

  // wa-js's send result (chat/functions/sendRawMessage.ts, enums/SendMsgResult.ts):
  // `sendMsgResult` is `{messageSendResult: 'OK' | 'ERROR_NETWORK' | 'ERROR_EXPIRED' |
  // 'ERROR_CANCELLED' | 'ERROR_UPLOAD' | 'ERROR_UNKNOWN'}` or null. An ERROR_* is a send that
  // did not happen, whatever the id says.
  const sent = (result, messageId) => {
    const serialized = str(result.id);
    const outcome = result.sendMsgResult && result.sendMsgResult.messageSendResult;
    const failed = typeof outcome === 'string' && outcome.startsWith('ERROR') ? outcome : null;
    return { id: key(serialized).id || messageId, serialized_id: serialized, error: failed };
  };

  // Who a group message goes to: the group's participants as the page knows them at the send
  // (group/functions/getParticipants.ts: the GroupMetadata's ParticipantModels), without us.
  // Their receipts come one by one (chat.msg_ack_change with `sender`); null when unknown.
  const recipients = async (chatId) => {
    if (!String(chatId).endsWith('@g.us')) return null;
    try {
      // Ourselves, by phone (getMyUserId) and by LID (conn/functions/getMyUserLid.ts): a group
      // may list its members either way.
      const mine = new Set([own()]);
      try {
        mine.add(str(WPP.conn.getMyUserLid()));
      } catch (e) {
        // No LID known for this account.
      }
      const ids = (await WPP.group.getParticipants(chatId)).map((p) => str(p && p.id));
      return ids.filter((id) => id && !mine.has(id));
    } catch (e) {
      return null;
    }
  };
  const withRecipients = async (answer, chatId) =>
    answer.error ? answer : { ...answer, recipients: await recipients(chatId) };

  // wa-js's defaults (chat/defaultSendMessageOptions.ts) suit a phone, not a CRM: markIsRead
  // marks the chat read on the phone before every send, linkPreview fetches every URL through
  // wa-js's third-party preview servers (util/linkPreview.ts), detectMentioned turns "@all" into
  // a mention of everyone (prepareRawMessage.ts). Every send turns them off.
  const SEND_OPTIONS = { linkPreview: false, markIsRead: false, detectMentioned: false };

  window.__waCommands = {
    async sendText(chatId, text, messageId) {
      const result = await WPP.chat.sendTextMessage(chatId, text, {
        ...SEND_OPTIONS,
        createChat: true,
        messageId: await reservedKey(chatId, messageId),
      });
      return withRecipients(sent(result, messageId), chatId);
    },
    async sendFile(chatId, dataUrl, opts) {
      const result = await WPP.chat.sendFileMessage(chatId, dataUrl, {
        ...SEND_OPTIONS,
        // chat/functions/sendFileMessage.ts: `type: 'audio', isPtt: true` sends a voice note
        // (PTT) instead of an audio file (issue 16).
        type: opts.voice ? 'audio' : fileType(opts.mimetype),
        isPtt: opts.voice ? true : undefined,
        caption: opts.caption || undefined,
        filename: opts.filename,
        mimetype: opts.mimetype,
        createChat: true,
        messageId: await reservedKey(chatId, opts.messageId),
      });
      return withRecipients(sent(result, opts.messageId), chatId);
    },
    async download(serializedId) {
      const blob = await WPP.chat.downloadMedia(serializedId);
      return { dataUrl: await WPP.util.blobToBase64(blob), mimetype: blob.type || null };
    },
    async resolve(phone) {
      const found = await WPP.contact.queryWidExists(phone);
      if (!found) return null;
      return { wid: str(found.wid), lid: str(found.lid) };
    },
    // conn/functions/linkDeviceCodeLifecycle.ts: the managed flow. A repeat for the same
    // phone reuses the active code; new codes come through conn.link_code_change when WhatsApp
    // asks for a refresh (genLinkDeviceCodeForPhoneNumber made a new code on every click).
    async pairingCode(phone) {
      return await WPP.conn.startLinkDeviceCodeForPhoneNumber(phone, true);
    },
    // chat/functions/markIsRead.ts: async, sends the read receipts (sendSeen) of the chat.
    async markRead(chatId) {
      const result = await WPP.chat.markIsRead(chatId);
      return { chat_id: str(result && result.wid), unread: result ? result.unreadCount : null };
    },
    // chat/functions/markIsComposing.ts: `markIsComposing(chatId, duration?)`, async; "typing…"
    // for `duration` ms, then paused.
    async composing(chatId, ms) {
      await WPP.chat.markIsComposing(chatId, ms);
      return true;
    },
    // call/functions/reject.ts: `reject(callId?)`, async; throws call_not_found once it ended.
    async rejectCall(callId) {
      return await WPP.call.reject(callId);
    },
    async logout() {
      if (!WPP.conn.isAuthenticated()) return false;
      return await WPP.conn.logout();
    },
    // Messages that reached WhatsApp Web without reaching us: chat.new_message fires only for
    // adds wa-js saw after its hook (loader onInjected) while this page lived, so whatever came
    // while the app, the browser or the page was down, or before the hook, is only in the
    // stores. Every chat active since `since` (epoch seconds; ChatModel.t is its last activity)
    // is read back (WPP.chat.list, chat/functions/list.ts; WPP.chat.getMessages,
    // chat/functions/getMessages.ts) and its messages since then go the new-message way
    // (ciphertext wait, system types ignored); the app's store drops what it already has.
    // `starts` holds a chat's own start (its newest stored message), `since` is for the others.
    async catchUp(since, maxChats, perChat, starts) {
      const chats = await WPP.chat.list({ count: maxChats });
      let seen = 0;
      for (const chat of chats) {
        const chatId = str(chat.id);
        if (!chatId || chatId === 'status@broadcast' || chatId.endsWith('@newsletter')) continue;
        const from = starts && typeof starts[chatId] === 'number' ? starts[chatId] : since;
        if (typeof chat.t === 'number' && chat.t < from) continue;
        const msgs = await WPP.chat.getMessages(chatId, { count: perChat });
        for (const msg of msgs) {
          if (typeof msg.t !== 'number' || msg.t < from) continue;
          onNewMessage(msg);
          seen += 1;
        }
      }
      return seen;
    },
  };

  const timer = setInterval(() => {
    if (window.WPP && typeof window.WPP.on === 'function' && window.WPP.loader) {
      clearInterval(timer);
      attach();
    }
  }, 50);
})();
