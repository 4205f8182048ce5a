package filterbench

import "github.com/akidb/akidb/bench/dataset"

// Record is one base row's metadata.
type Record struct {
	Digit string
	R     int
}

// Target is the engine under measurement. Row index = id.
type Target interface {
	// Build stores every base row with its metadata.
	Build(base dataset.Matrix, meta []Record) error
	// Modes lists the ways it can answer a filtered query, in the order
	// they are to be run (a mode may change the target for the modes
	// after it, such as dropping indexes).
	Modes() []string
	// Search answers one query: up to k row indices, best first, and the
	// strategy the engine reports. filter is JSON, nil for none.
	Search(q []float32, k, ef int, filter []byte, mode string) ([]int32, string, error)
}
