// The demo's own pages in English or Brazilian Portuguese. The choice is kept in localStorage,
// which every demo page shares (one origin): the frame's switch changes all of them at once
// (the `storage` event), without reloading our page, which has its own switch.
(() => {
  'use strict';
  const PT = {
    'DEMO · a fake GoHighLevel and a simulated phone on this computer: nothing here reaches GHL or WhatsApp':
      'DEMONSTRAÇÃO · um GoHighLevel falso e um celular simulado neste computador: nada aqui chega ao GHL nem ao WhatsApp',
    'Demo Agency › Demo sub-account': 'Agência demo › Subconta demo',
    'Sub-account menu': 'Menu da subconta',
    Conversations: 'Conversas',
    Language: 'Idioma',
    'DEMO · simulated phone: nothing here reaches WhatsApp': 'DEMONSTRAÇÃO · celular simulado: nada aqui chega ao WhatsApp',
    'Simulated phone': 'Celular simulado',
    'Link a device (scan the QR)': 'Conectar um aparelho (ler o QR)',
    "This phone's number": 'Número deste celular',
    'Devices waiting for a scan': 'Aparelhos esperando a leitura',
    'No QR code on screen: click "Connect" on a number in the app.':
      'Nenhum QR na tela: clique em "Conectar" em um número no app.',
    'Write as a customer': 'Escrever como cliente',
    'To the linked number': 'Para o número conectado',
    'Customer name': 'Nome do cliente',
    'Customer phone': 'Telefone do cliente',
    Message: 'Mensagem',
    'Send from phone': 'Enviar do celular',
    'Chat on the phone': 'Conversa no celular',
    'Linked-device QR': 'QR de aparelho',
    Scan: 'Ler QR',
    'DEMO · fake GHL Conversations': 'DEMONSTRAÇÃO · Conversas do GHL falso',
    'No conversations yet: send a message from the simulated phone.':
      'Nenhuma conversa ainda: envie uma mensagem do celular simulado.',
    Messages: 'Mensagens',
    Reply: 'Responder',
    'Send reply': 'Enviar resposta',
  };
  const lang = () => localStorage.getItem('demo-lang') || (navigator.language.startsWith('pt') ? 'pt-BR' : 'en');
  const t = (text) => (lang() === 'pt-BR' && PT[text]) || text;
  const translate = () => {
    document.documentElement.lang = lang();
    for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
    for (const el of document.querySelectorAll('[data-t-label]')) el.setAttribute('aria-label', t(el.dataset.tLabel));
    document.dispatchEvent(new Event('demo-lang'));
  };
  window.demoI18n = {
    t,
    lang,
    set(value) {
      localStorage.setItem('demo-lang', value);
      translate();
    },
  };
  window.addEventListener('storage', (event) => {
    if (event.key === 'demo-lang') translate();
  });
  document.addEventListener('DOMContentLoaded', translate);
})();
