"""What the app offers integrators and agencies beyond GHL: API keys, signed event webhooks,
a live event socket, and agencies' disconnect alerts."""
