"""WhatsApp engines behind one interface. Knows nothing of GHL, the database or HTTP."""
