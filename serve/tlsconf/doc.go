// Package tlsconf owns AkiDB's server-side TLS: loading the server certificate
// and key (and, for mutual TLS, the client CA bundle), building the *tls.Config
// that both the REST (net/http + Gin) and gRPC listeners use, and reloading that
// material without a restart.
//
// # Policy
//
//   - TLS 1.3 is the minimum by default; Config.MinVersion "1.2" lowers it for
//     old clients. Cipher suites and curves are Go's defaults (TLS 1.3 suites
//     are not configurable; Go's TLS 1.2 defaults are AEAD-only with ECDHE).
//   - ALPN offers "h2" and "http/1.1": REST speaks both, gRPC needs "h2".
//   - Config.ClientCAFile turns on mutual TLS: every client must present a
//     certificate that chains to that bundle (tls.RequireAndVerifyClientCert).
//   - HSTS belongs to the REST layer; HSTSHeader is the one value it sends.
//
// # Reloading
//
// A Reloader holds the current material behind an atomic pointer. The
// *tls.Config from TLSConfig answers every handshake through
// GetConfigForClient, so a new connection always sees the material current at
// its ClientHello, while established connections keep what they negotiated.
// Reload re-reads all files and swaps them in only if every one parses and
// the key matches the certificate; otherwise the previous material keeps
// serving and the error is returned and logged. Watch triggers Reload from
// fsnotify events on the files' directories (not the files: editors and
// Kubernetes secret volumes replace files by rename, which a watch on the old
// inode would miss); the caller maps SIGHUP to Reload. Generation counts
// successful reloads that changed something, and WaitForGeneration lets a
// caller (or a test) wait for one without sleeping.
//
// Session resumption stays safe across a client-CA reload: crypto/tls
// re-verifies a resumed session's client chain against the ClientCAs of the
// per-handshake config, which is the reloaded bundle.
//
// WriteDevCerts writes a throwaway CA, server and client certificate for
// trying TLS locally (`akidb certs dev`); it is not a way to run production.
package tlsconf
