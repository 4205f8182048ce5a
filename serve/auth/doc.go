// Package auth owns who may call AkiDB and what they may do: API keys,
// JWTs, the failure throttle, roles and actions (RBAC), and the audit
// trail. Its rows live in the metadata database (engine/meta, migration
// 0002_auth.sql); its secrets in <data-dir>/secrets/. It knows no
// transport: REST and gRPC hand it the credential and the peer address.
//
// # Order of a request
//
//	credential := bearer token or X-API-Key (gRPC: metadata "authorization")
//	caller, err := authn.Authenticate(ctx, credential, remoteAddr)   // 401 / 429
//	ctx = api.WithCaller(ctx, caller)
//	err = auth.Authorize(caller, action)                             // 403
//	      (auth.AuthorizeTenant for objects of a named tenant: keys, audit, quotas)
//	resp, err := service.Method(ctx, req)
//	auditor.RecordCall(ctx, caller, remoteAddr, action, target, requestID, err)
//
// POST /api/v1/auth/token calls ExchangeKey instead, which takes an API
// key only: a token does not buy a fresh token.
//
// # API keys
//
// A key is ak_<id>_<secret>: id is 16 characters of lowercase base32 (10
// random bytes), secret 43 characters of unpadded base64url (32 random
// bytes, decoded strictly), both from crypto/rand. The database keeps the
// id and SHA-256(secret bytes) only; verification looks the id up and
// compares hashes with crypto/subtle.ConstantTimeCompare (an unknown id
// is compared against a dummy hash). The key is returned once, by Create,
// Rotate or EnsureBootstrapAdmin, as an APIKey, which prints, logs and
// marshals as ak_<id>_[REDACTED]; Reveal gives the key.
//
// A key has a tenant, a role, a name, optionally an expiry and a list of
// collections it is limited to, a creation and a revocation time. Rows
// are never edited otherwise, and never deleted except with their tenant.
//
// # Cache and revocation
//
// Verified rows are cached in memory (an LRU of CacheSize rows, each
// trusted for CacheTTL, 5 minutes by default) so a request does not read
// SQLite. Expiry is checked on every request against the clock, not the
// cache. Revoke and Rotate drop the cache entry, so through the same
// Authenticator they hold from the next request; an invalidation counter
// keeps a row read before the revocation from re-entering the cache
// after it. A revocation written by another process is seen within
// CacheTTL. ForgetTenant drops a deleted tenant's keys.
//
// # Tokens
//
// ExchangeKey turns a live API key into an HS256 JWT with claims sub (key
// id), tenant, role, collections, iss ("akidb"), iat and exp (24 hours by
// default, never past the key's expiry). Verification accepts HS256 only
// (alg none and RS/ES tokens fail before the secret is touched), requires
// exp and the issuer, refuses an iat in the future and decodes base64
// strictly; then it loads the key named by sub, through the cache, and
// refuses the token if the key is revoked, expired or gone, or disagrees
// with the claims. A credential longer than MaxCredentialLen (4 KiB) is
// refused before parsing. The signing secret is Config.JWTSecret (at
// least 32 bytes) or <data-dir>/secrets/jwt.key, 32 random bytes written
// once as base64url text; a damaged file is refused, not replaced.
//
// # Failures
//
// Every refusal is unauthenticated with one message, "invalid or expired
// credential", whatever the reason (the debug log has the reason and the
// key id, never the secret). Failures are counted per client address (the
// IP, or an IPv6 /64) and key id (the public part of an API key, or the
// key a token names, read unverified): after MaxFailures (5) of one key id
// from one address within Window (1 minute), that key id is answered
// rate_limited with RetryAfterSeconds from that address for Window,
// without looking at the credential and without sleeping, while other
// keys from the address still work (an application with a stale key does
// not lock out the device). After MaxSourceFailures (10 × MaxFailures)
// from one address across key ids, the whole address is refused: the
// ceiling for guessing. Counts restart when the window has passed. At
// most MaxAddresses (10000) addresses, and as many (address, key id)
// pairs, are tracked, least recently failing forgotten first. A missing
// credential is not counted. Clients behind one NAT share the counts.
//
// # Bootstrap
//
// EnsureBootstrapAdmin, on a database with no keys at all, creates an
// admin key of the default tenant, writes it to
// <data-dir>/secrets/bootstrap-admin.key (0600 in a 0700 directory) and
// returns it for printing once; later it does nothing.
//
// # Roles and actions
//
// Roles are admin > writer > reader; each may do what the roles below it
// may. Global actions (G) reach beyond one tenant, so they also need an
// operator: an admin key of the default tenant not limited to
// collections. An admin of another tenant administers that tenant only;
// AuthorizeTenant answers not_found for another tenant's objects, and
// AuthorizeKeyGrant keeps a key from granting more than it has.
//
//	action             admin  writer  reader
//	collection.create    x      x
//	collection.delete    x      x
//	collection.list      x      x       x
//	collection.read      x      x       x
//	index.create         x      x
//	index.delete         x      x
//	collection.update    x      x
//	collection.checkpoint x
//	collection.load      x
//	collection.evict     x
//	vector.upsert        x      x
//	vector.delete        x      x
//	vector.read          x      x       x
//	vector.query         x      x       x
//	key.create           x
//	key.list             x
//	key.revoke           x
//	key.rotate           x
//	tenant.manage        G
//	quota.read           x      x
//	quota.write          G
//	config.read          G
//	config.write         G
//	storage.read         x      x       x
//	storage.admin        G
//	audit.read           x
//	status.read          x      x       x
//	token.issue          x      x       x
//	metrics.read         G
//
// A key limited to collections reaches only those; serve/api applies the
// list (another collection is not_found).
//
// # Audit trail
//
// Auditor.Record writes an Event (time, tenant, key id, remote address,
// action, target, result ok|denied|failed, request id; text fields cut to
// 256 bytes) to audit_events and logs it with slog at info. Every
// PruneEvery (100) records it deletes events older than Retention (90
// days) and all but the MaxEvents (100000) newest. List pages newest
// first with an opaque cursor.
package auth
