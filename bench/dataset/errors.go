package dataset

import "fmt"

// FormatError reports a malformed input file. Row is the 0-based row (or
// image) where the problem was found, -1 when it concerns the file as a whole
// (size, header). Offset is the byte offset of that row or field in the
// (decompressed) stream.
type FormatError struct {
	File   string
	Row    int
	Offset int64
	Reason string
}

func (e *FormatError) Error() string {
	file := e.File
	if file == "" {
		file = "<input>"
	}
	if e.Row < 0 {
		return fmt.Sprintf("%s: offset %d: %s", file, e.Offset, e.Reason)
	}
	return fmt.Sprintf("%s: row %d (offset %d): %s", file, e.Row, e.Offset, e.Reason)
}

// withFile fills in the file name of a *FormatError produced by a decoder
// that only saw an io.Reader.
func withFile(err error, file string) error {
	if fe, ok := err.(*FormatError); ok && fe.File == "" {
		fe.File = file
	}
	return err
}
