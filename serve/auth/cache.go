package auth

import (
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/akidb/akidb/engine/meta"
)

// keyCache keeps recently verified key rows in memory so that a request
// does not read SQLite. An entry is trusted for ttl after it was loaded;
// invalidate drops it at once.
//
// hashicorp's expirable LRU is not used: it reads time.Now (no fake clock
// in tests) and starts a goroutine that cannot be stopped. The plain
// simplelru plus a load time per entry does the same job.
type keyCache struct {
	mu  sync.Mutex
	lru *simplelru.LRU[string, cachedKey]
	ttl time.Duration
	// epoch counts invalidations. A loader notes it before reading the
	// database and stores its row only if it has not moved, so a row read
	// before a revocation cannot land in the cache after it.
	epoch uint64
}

type cachedKey struct {
	row      meta.APIKey
	loadedAt time.Time
}

func newKeyCache(size int, ttl time.Duration) (*keyCache, error) {
	l, err := simplelru.NewLRU[string, cachedKey](size, nil)
	if err != nil {
		return nil, fmt.Errorf("key cache of size %d: %w", size, err)
	}
	return &keyCache{lru: l, ttl: ttl}, nil
}

// get returns the cached row for id if it was loaded less than ttl ago.
func (c *keyCache) get(id string, now time.Time) (meta.APIKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Get(id)
	if !ok {
		return meta.APIKey{}, false
	}
	if now.Sub(e.loadedAt) >= c.ttl || now.Before(e.loadedAt) {
		c.lru.Remove(id)
		return meta.APIKey{}, false
	}
	return e.row, true
}

// snapshot returns the epoch to hand to put after a database read.
func (c *keyCache) snapshot() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

// put caches row unless something was invalidated since snapshot.
func (c *keyCache) put(row meta.APIKey, now time.Time, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch {
		return
	}
	c.lru.Add(row.ID, cachedKey{row: row, loadedAt: now})
}

// invalidate drops id's entry.
func (c *keyCache) invalidate(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	c.lru.Remove(id)
}

// invalidateTenant drops every entry of tenantID.
func (c *keyCache) invalidateTenant(tenantID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	for _, id := range c.lru.Keys() {
		if e, ok := c.lru.Peek(id); ok && e.row.TenantID == tenantID {
			c.lru.Remove(id)
		}
	}
}

func (c *keyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
