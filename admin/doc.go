// Package admin is the client side of `akidb keys` and `akidb tenants`:
// one interface, Admin, with two implementations.
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
// Secrets: a created or rotated key is returned once, in CreatedKey.Key,
// for the command to print; nothing here logs it.
package admin
