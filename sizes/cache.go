package sizes

import (
	"container/list"
	"slices"
	"sync"
	"unsafe"
)

// Cache keeps what scanning a layer blob learned, by the blob's digest, so
// that a layer found in image after image (a base image's, mostly) is read
// once. It holds at most a given number of tar entries in all, dropping the
// least recently used layers first. A nil *Cache keeps nothing. It is safe
// for concurrent use.
type Cache struct {
	mu      sync.Mutex
	max     int
	held    int   // entries
	bytes   int64 // what the held entries take: their paths and fixed parts
	byBlob  map[string]*list.Element
	recency *list.List // of *cachedScan, most recently used first
}

type cachedScan struct {
	digest string
	scan   *layerScan
}

// NewCache returns a cache that holds up to maxEntries tar entries. An
// entry takes 32 bytes and its path, about a hundred bytes in all for the
// paths of a Debian-based image, so a million of them take about 100 MB.
func NewCache(maxEntries int) *Cache {
	return &Cache{max: maxEntries, byBlob: make(map[string]*list.Element), recency: list.New()}
}

// get returns the scan of the blob with this digest, or nil.
func (c *Cache) get(digest string) *layerScan {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byBlob[digest]
	if !ok {
		return nil
	}
	c.recency.MoveToFront(el)
	return el.Value.(*cachedScan).scan
}

// put keeps a scan, which nobody may change from now on.
func (c *Cache) put(digest string, s *layerScan) {
	if c == nil || len(s.entries) > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byBlob[digest]; ok {
		return
	}
	// A copy without the slack appending left, since it may stay for long.
	kept := *s
	kept.entries = slices.Clone(s.entries)
	c.byBlob[digest] = c.recency.PushFront(&cachedScan{digest: digest, scan: &kept})
	c.held += len(kept.entries)
	c.bytes += entriesBytes(kept.entries)
	for c.held > c.max {
		old := c.recency.Remove(c.recency.Back()).(*cachedScan)
		delete(c.byBlob, old.digest)
		c.held -= len(old.scan.entries)
		c.bytes -= entriesBytes(old.scan.entries)
	}
}

// entriesBytes is the memory entries take: each entry's fixed part and its
// path's bytes.
func entriesBytes(entries []entry) int64 {
	n := int64(len(entries)) * int64(unsafe.Sizeof(entry{}))
	for _, e := range entries {
		n += int64(len(e.path))
	}
	return n
}

// Len reports how many layers the cache holds.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.recency.Len()
}

// Size reports how many tar entries the cache holds and the bytes they
// take (paths and fixed parts; the cache's own bookkeeping is extra).
func (c *Cache) Size() (entries int, bytes int64) {
	if c == nil {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held, c.bytes
}
