package auth

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// ThrottleConfig slows down guessing: after MaxFailures failed
// authentications from one address within Window, that address is
// refused (rate_limited, with Retry-After) for Window, without its
// credentials being looked at. Zero fields take the defaults.
type ThrottleConfig struct {
	// MaxFailures is how many failures an address may have in a window
	// (default 5).
	MaxFailures int
	// Window is both how long failures are counted and how long a
	// throttled address is refused (default 1 minute).
	Window time.Duration
	// MaxAddresses bounds the addresses tracked (default 10000); the
	// least recently failing one is forgotten first.
	MaxAddresses int
}

// Throttle defaults.
const (
	DefaultMaxFailures   = 5
	DefaultFailureWindow = time.Minute
	DefaultMaxAddresses  = 10000
)

func (c ThrottleConfig) withDefaults() ThrottleConfig {
	if c.MaxFailures <= 0 {
		c.MaxFailures = DefaultMaxFailures
	}
	if c.Window <= 0 {
		c.Window = DefaultFailureWindow
	}
	if c.MaxAddresses <= 0 {
		c.MaxAddresses = DefaultMaxAddresses
	}
	return c
}

// throttle counts authentication failures per address. It never sleeps:
// a throttled address is answered at once with how long to wait.
type throttle struct {
	cfg ThrottleConfig
	mu  sync.Mutex
	lru *simplelru.LRU[string, *failures]
}

type failures struct {
	count        int
	windowStart  time.Time
	blockedUntil time.Time
}

func newThrottle(cfg ThrottleConfig) (*throttle, error) {
	cfg = cfg.withDefaults()
	l, err := simplelru.NewLRU[string, *failures](cfg.MaxAddresses, nil)
	if err != nil {
		return nil, fmt.Errorf("failure throttle of %d addresses: %w", cfg.MaxAddresses, err)
	}
	return &throttle{cfg: cfg, lru: l}, nil
}

// blocked returns how long addr must still wait, or 0.
func (t *throttle) blocked(addr string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.lru.Peek(addr)
	if !ok {
		return 0
	}
	if now.Before(f.blockedUntil) {
		return f.blockedUntil.Sub(now)
	}
	if !now.Before(f.windowStart.Add(t.cfg.Window)) {
		// The window (and any block) has passed: forget the address.
		t.lru.Remove(addr)
	}
	return 0
}

// fail counts a failure from addr and reports whether it has just become
// throttled.
func (t *throttle) fail(addr string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.lru.Get(addr)
	if !ok || !now.Before(f.windowStart.Add(t.cfg.Window)) && !now.Before(f.blockedUntil) {
		f = &failures{windowStart: now}
		t.lru.Add(addr, f)
	}
	f.count++
	if f.count == t.cfg.MaxFailures {
		f.blockedUntil = now.Add(t.cfg.Window)
		return true
	}
	return false
}

func (t *throttle) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lru.Len()
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
