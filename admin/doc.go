// Package admin is the client side of `akidb keys`, `akidb tenants`,
// `akidb quota` and `akidb config`: one interface, Admin, with two
// implementations.
//
//   - Remote (online, --server URL --api-key KEY) calls a running server's
//     /admin REST endpoints. The server authorizes the key as for any
//     request, audits the change, and a revocation holds from the next
//     request to that server.
//   - Local (offline, --data-dir DIR) opens the data directory itself: it
//     takes the directory's LOCK (and so refuses, naming the holder's pid,
//     when a server has the directory open), opens only the SQLite catalog
//     (no collection is loaded), and runs the same administration code as
//     the server (serve/access) as the operator, auditing with the remote
//     address "offline". Whoever can open the data directory owns it
//     anyway; the operating system's file permissions are the check.
//
// Quotas and the runtime configuration offline: the quotas and settings
// are read and written in the catalog like the server does, but usage is
// not reported (it needs the loaded collections) and the server's default
// maxima (its --quota-max-* flags) are unknown, so the effective maxima
// leave them out; a server started afterwards applies what was set.
//
// Secrets: a created or rotated key is returned once, in CreatedKey.Key,
// for the command to print; nothing here logs it.
package admin
