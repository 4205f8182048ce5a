package hnsw

// item is one (distance, id) pair in a heap or candidate list.
type item struct {
	dist float32
	id   uint32
}

// minHeap keeps the closest item on top: the search frontier.
// Hand-written rather than container/heap so that the hot path has no
// interface calls and no allocation (the backing array is reused).
type minHeap []item

func (h *minHeap) push(d float32, id uint32) {
	s := append(*h, item{})
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) >> 1
		if s[p].dist <= d {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = item{d, id}
	*h = s
}

// pop removes and returns the closest item; the heap must not be empty.
func (h *minHeap) pop() item {
	s := *h
	top := s[0]
	n := len(s) - 1
	last := s[n]
	s = s[:n]
	if n > 0 {
		i := 0
		for {
			c := 2*i + 1
			if c >= n {
				break
			}
			if r := c + 1; r < n && s[r].dist < s[c].dist {
				c = r
			}
			if last.dist <= s[c].dist {
				break
			}
			s[i] = s[c]
			i = c
		}
		s[i] = last
	}
	*h = s
	return top
}

// maxHeap keeps the furthest item on top: the bounded result set.
type maxHeap []item

func (h *maxHeap) push(d float32, id uint32) {
	s := append(*h, item{})
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) >> 1
		if s[p].dist >= d {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = item{d, id}
	*h = s
}

// pop removes and returns the furthest item; the heap must not be empty.
func (h *maxHeap) pop() item {
	s := *h
	top := s[0]
	n := len(s) - 1
	last := s[n]
	s = s[:n]
	if n > 0 {
		s.siftDown(last)
	}
	*h = s
	return top
}

// replaceTop swaps the furthest item for (d, id) in one sift; it is push
// followed by pop when d is below the top, without growing the slice.
func (h maxHeap) replaceTop(d float32, id uint32) {
	h.siftDown(item{d, id})
}

// siftDown places x starting from the root of a non-empty heap.
func (h maxHeap) siftDown(x item) {
	n := len(h)
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && h[r].dist > h[c].dist {
			c = r
		}
		if x.dist >= h[c].dist {
			break
		}
		h[i] = h[c]
		i = c
	}
	h[i] = x
}

// drainAscending empties h into dst[:len(h)] in ascending distance order.
func (h *maxHeap) drainAscending(dst []item) []item {
	n := len(*h)
	if cap(dst) < n {
		dst = make([]item, n)
	}
	dst = dst[:n]
	for i := n - 1; i >= 0; i-- {
		dst[i] = h.pop()
	}
	return dst
}

// sortItems sorts a short list ascending by (dist, id); insertion sort is
// the fastest choice for the <= 2*M+1 items of a neighbour-list shrink and
// is deterministic.
func sortItems(s []item) {
	for i := 1; i < len(s); i++ {
		x := s[i]
		j := i
		for j > 0 && (s[j-1].dist > x.dist || (s[j-1].dist == x.dist && s[j-1].id > x.id)) {
			s[j] = s[j-1]
			j--
		}
		s[j] = x
	}
}
