"""The notifications relay (`fitbeam relay`): Google Health API webhooks -> request messages.

Beam-free, in small rooms (docs/notifications-relay.md describes the whole):

- `keys`: the public keys notifications are signed with; checking a signature.
- `notifications`: a notification's JSON -> the request messages that reload
  what changed (pure functions).
- `usermap`: healthUserId -> fitbeam user key, from a local or gs:// file.
- `quiet`: log lines a flood cannot multiply and a notification cannot forge.
- `app`: the checks and answers of one request (secret, signature, mapping,
  publishing), with no HTTP server in it.
- `server`: the app as ASGI on Hypercorn, which owns framing, keep-alive and
  time limits.
- `config`: flags and environment variables, checked; building the app.
- `main`: `fitbeam relay` and `fitbeam relay user-map`.
"""
