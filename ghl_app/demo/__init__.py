"""The try-it sandbox (`ghl-whatsapp demo`): the app with a built-in fake GHL and a simulated
phone on one loopback port, clearly marked as a demo. The fakes here are the ones the tests run
the app against; nothing in this package may reach a real GHL or WhatsApp (see `guard`)."""
