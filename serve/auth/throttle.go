package auth

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/akidb/akidb/engine/meta"
)

// ThrottleConfig slows down guessing without letting one stale key lock
// everyone out. Failed authentications are counted per source address and
// key id (the public part of an API key, or the key a token names), and
// per source address alone:
//
//   - after MaxFailures failures of one key id from one address within
//     Window, that key id is refused from that address for Window; other
//     keys from the same address still work, so an application with a
//     stale key does not lock out the rest of the device;
//   - after MaxSourceFailures failures from one address, whatever the key
//     ids, the address is refused for Window, credentials unseen: the
//     ceiling for guessing across ids.
//
// Refused means rate_limited with Retry-After, without the credential
// being looked at. Zero fields take the defaults.
type ThrottleConfig struct {
	// MaxFailures is how many failures one key id may have from one
	// address in a window (default 5).
	MaxFailures int
	// MaxSourceFailures is how many failures one address may have in a
	// window across all key ids (default 10 × MaxFailures).
	MaxSourceFailures int
	// Window is both how long failures are counted and how long a
	// throttled key id or address is refused (default 1 minute).
	Window time.Duration
	// MaxAddresses bounds the addresses tracked, and separately the
	// (address, key id) pairs (default 10000 each); the least recently
	// failing is forgotten first.
	MaxAddresses int
}

// Throttle defaults.
const (
	DefaultMaxFailures = 5
	// DefaultSourceFailuresFactor is MaxSourceFailures over MaxFailures
	// unless set.
	DefaultSourceFailuresFactor = 10
	DefaultFailureWindow        = time.Minute
	DefaultMaxAddresses         = 10000
)

func (c ThrottleConfig) withDefaults() ThrottleConfig {
	if c.MaxFailures <= 0 {
		c.MaxFailures = DefaultMaxFailures
	}
	if c.MaxSourceFailures <= 0 {
		c.MaxSourceFailures = DefaultSourceFailuresFactor * c.MaxFailures
	}
	if c.Window <= 0 {
		c.Window = DefaultFailureWindow
	}
	if c.MaxAddresses <= 0 {
		c.MaxAddresses = DefaultMaxAddresses
	}
	return c
}

// throttle counts authentication failures per address and per (address,
// key id). It never sleeps: a throttled caller is answered at once with
// how long to wait.
type throttle struct {
	cfg     ThrottleConfig
	mu      sync.Mutex
	sources *simplelru.LRU[string, *failures]
	pairs   *simplelru.LRU[pairKey, *failures]
}

// pairKey is an address and a key id ("" when the credential names none).
type pairKey struct{ addr, keyID string }

type failures struct {
	count        int
	windowStart  time.Time
	blockedUntil time.Time
}

func newThrottle(cfg ThrottleConfig) (*throttle, error) {
	cfg = cfg.withDefaults()
	sources, err := simplelru.NewLRU[string, *failures](cfg.MaxAddresses, nil)
	if err != nil {
		return nil, fmt.Errorf("failure throttle of %d addresses: %w", cfg.MaxAddresses, err)
	}
	pairs, err := simplelru.NewLRU[pairKey, *failures](cfg.MaxAddresses, nil)
	if err != nil {
		return nil, fmt.Errorf("failure throttle of %d addresses: %w", cfg.MaxAddresses, err)
	}
	return &throttle{cfg: cfg, sources: sources, pairs: pairs}, nil
}

// throttled says who is refused and for how long.
type throttled struct {
	wait   time.Duration
	source bool // the whole address, not one key id
}

// blocked returns how long addr (or keyID from addr) must still wait; a
// zero wait means not blocked.
func (t *throttle) blocked(addr, keyID string, now time.Time) throttled {
	t.mu.Lock()
	defer t.mu.Unlock()
	if w := blockedIn(t.sources, addr, now, t.cfg.Window); w > 0 {
		return throttled{wait: w, source: true}
	}
	return throttled{wait: blockedIn(t.pairs, pairKey{addr, keyID}, now, t.cfg.Window)}
}

func blockedIn[K comparable](l *simplelru.LRU[K, *failures], k K, now time.Time, window time.Duration) time.Duration {
	f, ok := l.Peek(k)
	if !ok {
		return 0
	}
	if now.Before(f.blockedUntil) {
		return f.blockedUntil.Sub(now)
	}
	if !now.Before(f.windowStart.Add(window)) {
		// The window (and any block) has passed: forget it.
		l.Remove(k)
	}
	return 0
}

// fail counts a failure of keyID from addr and reports which block (if
// any) it has just started, for the caller to log once.
func (t *throttle) fail(addr, keyID string, now time.Time) (pairBlocked, sourceBlocked bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pairBlocked = count(t.pairs, pairKey{addr, keyID}, now, t.cfg.Window, t.cfg.MaxFailures)
	sourceBlocked = count(t.sources, addr, now, t.cfg.Window, t.cfg.MaxSourceFailures)
	return pairBlocked, sourceBlocked
}

// count adds a failure under k and reports whether k has just reached max.
func count[K comparable](l *simplelru.LRU[K, *failures], k K, now time.Time, window time.Duration, max int) bool {
	f, ok := l.Get(k)
	if !ok || !now.Before(f.windowStart.Add(window)) && !now.Before(f.blockedUntil) {
		f = &failures{windowStart: now}
		l.Add(k, f)
	}
	f.count++
	if f.count == max {
		f.blockedUntil = now.Add(window)
		return true
	}
	return false
}

func (t *throttle) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sources.Len()
}

// credentialKeyID is the key id a credential names, for counting its
// failures apart from other keys': the public part of an API key, or the
// subject of a token (read without verifying it; a forged one only
// spreads an attacker's failures over ids, which the per-address ceiling
// bounds). "" when it names none.
func credentialKeyID(credential string) string {
	if looksLikeAPIKey(credential) {
		if id, _, ok := parseAPIKey(credential); ok {
			return id
		}
		return ""
	}
	var c jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(credential, &c); err == nil && meta.ValidAPIKeyID(c.Subject) {
		return c.Subject
	}
	return ""
}

// maxAddrKey bounds the key of an address that is not an IP.
const maxAddrKey = 64

// addrKey is what failures are counted by: the IP of remoteAddr
// ("host:port" or a bare host), and for IPv6 its /64 network, since one
// client commonly holds a whole /64 and could otherwise step through it.
func addrKey(remoteAddr string) string {
	host := remoteAddr
	if h, _, err := net.SplitHostPort(remoteAddr); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		if len(host) > maxAddrKey {
			host = host[:maxAddrKey]
		}
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, err := ip.Prefix(64)
		if err == nil {
			return p.String()
		}
	}
	return ip.String()
}
