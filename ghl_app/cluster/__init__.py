"""Past one machine (issue 17): web and worker roles on PostgreSQL and Redis.

A worker runs WhatsApp engines and job handlers; a web node serves HTTP, WebSocket and
webhooks. Each instance is run by at most one worker at a time, through a lease in Postgres
(owner, epoch, expiry: leases.py). Commands and engine calls reach the owner through a small
request/reply over the event bus (rpc.py); a web node's session commands go there
(web_sessions.py), and a worker reaches another worker's engine the same way (remote.py).
The single process on SQLite (`--role all`) uses none of this.
"""
