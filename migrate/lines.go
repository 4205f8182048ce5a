package migrate

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// maxLineBytes bounds one line of vectors.jsonl. The largest valid record
// (8192 numbers of about 25 characters, a 256-byte id, 64 KiB of
// metadata) is well under it; a longer line is reported, not read into
// memory.
const maxLineBytes = 16 << 20

// span locates one line of a file: its byte offset, length (without the
// newline) and 1-based line number.
type span struct {
	off  int64
	n    int32
	line int32
}

// rawLine is a line's span and bytes (nil when longer than maxLineBytes).
type rawLine struct {
	span
	text []byte
}

// scanLines reads path from the start and calls emit with chunks of up to
// chunk lines, in order. The bytes of a chunk belong to the callee.
func scanLines(ctx context.Context, path string, chunk int, emit func([]rawLine) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	var (
		off  int64
		no   int32
		out  []rawLine
		long bool // inside a line past maxLineBytes
		cur  []byte
		n    int64 // bytes of the current line so far
	)
	flush := func() error {
		if len(out) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		err := emit(out)
		out = nil
		return err
	}
	for {
		frag, err := br.ReadSlice('\n')
		if len(frag) > 0 {
			n += int64(len(frag))
			if !long {
				if n-1 > maxLineBytes {
					long, cur = true, nil
				} else {
					cur = append(cur, frag...)
				}
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if n > 0 {
			no++
			length := n
			if len(frag) > 0 && frag[len(frag)-1] == '\n' {
				length--
			}
			text := cur
			if !long {
				text = cur[:length:length]
			}
			out = append(out, rawLine{span: span{off: off, n: int32(min(length, maxLineBytes+1)), line: no}, text: text})
			off += n
			n, cur, long = 0, nil, false
			if len(out) == chunk {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err != nil { // io.EOF
			return flush()
		}
	}
}

// spanReader reads given lines of a file in increasing offset order with
// one sequential pass.
type spanReader struct {
	path string
	f    *os.File
	br   *bufio.Reader
	pos  int64
}

func openSpans(path string) (*spanReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return &spanReader{path: path, f: f, br: bufio.NewReaderSize(f, 1<<20)}, nil
}

func (r *spanReader) Close() error { return r.f.Close() }

// read returns the bytes of s, which must not start before the end of the
// previous span read.
func (r *spanReader) read(s span) ([]byte, error) {
	if s.off < r.pos {
		return nil, fmt.Errorf("read %s: line %d is behind the reader", r.path, s.line)
	}
	if _, err := r.br.Discard(int(s.off - r.pos)); err != nil {
		return nil, fmt.Errorf("read %s line %d: %w (was the file changed?)", r.path, s.line, err)
	}
	buf := make([]byte, s.n)
	if _, err := io.ReadFull(r.br, buf); err != nil {
		return nil, fmt.Errorf("read %s line %d: %w (was the file changed?)", r.path, s.line, err)
	}
	r.pos = s.off + int64(s.n)
	return buf, nil
}

// lineGroup is consecutive live lines of a collection: live[from:from+len(lines)].
type lineGroup struct {
	from  int
	lines [][]byte
}

// readLive reads c's live lines from index start on, in file order, and
// emits them in groups: a group closes when full(count, bytes, next)
// says the next line does not fit. A line skip(i) names is not read: its
// place in the group is nil.
func readLive(c *CollectionPlan, start int, full func(count, size int, next span) bool, skip func(i int) bool, emit func(lineGroup) error) error {
	sr, err := openSpans(c.DataFile)
	if err != nil {
		return err
	}
	defer sr.Close()
	for i := start; i < len(c.live); {
		g := lineGroup{from: i}
		size := 0
		for ; i < len(c.live) && (len(g.lines) == 0 || !full(len(g.lines), size, c.live[i])); i++ {
			if skip != nil && skip(i) {
				g.lines = append(g.lines, nil)
				continue
			}
			line, err := sr.read(c.live[i])
			if err != nil {
				return err
			}
			g.lines = append(g.lines, line)
			size += len(line)
		}
		if err := emit(g); err != nil {
			return err
		}
	}
	return nil
}

// readSpanAt reads one line anywhere in the file (verification samples).
func readSpanAt(f *os.File, s span) ([]byte, error) {
	buf := make([]byte, s.n)
	if _, err := f.ReadAt(buf, s.off); err != nil {
		return nil, fmt.Errorf("read %s line %d: %w", f.Name(), s.line, err)
	}
	return buf, nil
}

// runOrdered runs work on what produce emits with `workers` goroutines
// and hands the results to consume in the order they were emitted: parsing
// is parallel, while the state it feeds (last line wins, the log) sees
// lines in file order. An error from produce or consume stops the run
// and is returned; consume is not called after its first error.
func runOrdered[J, R any](ctx context.Context, workers int, produce func(emit func(J) error) error, work func(J) R, consume func(R) error) error {
	type item struct {
		in   J
		out  R
		done chan struct{}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers = max(1, workers)
	todo := make(chan *item, 2*workers)
	order := make(chan *item, 2*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range todo {
				it.out = work(it.in)
				close(it.done)
			}
		}()
	}
	var perr error
	go func() {
		defer close(order)
		defer close(todo)
		perr = produce(func(j J) error {
			it := &item{in: j, done: make(chan struct{})}
			select {
			case order <- it:
			case <-ctx.Done():
				return ctx.Err()
			}
			todo <- it
			return nil
		})
	}()
	var cerr error
	for it := range order {
		<-it.done
		if cerr == nil {
			if err := consume(it.out); err != nil {
				cerr = err
				cancel()
			}
		}
	}
	wg.Wait()
	if cerr != nil {
		return cerr
	}
	return perr
}
