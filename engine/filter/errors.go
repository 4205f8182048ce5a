package filter

import "fmt"

// ParseError reports why a filter was rejected. Path names where in the
// filter the problem is, starting at "filter" (for example
// "filter.$and[1].price"); Msg says what is wrong there. Operator keys such as
// "$gt" are named in Msg, field names and array indexes in Path.
//
// Every error Parse returns is a *ParseError, so a server can map
// errors.As(err, &pe) to an HTTP 400 / INVALID_ARGUMENT.
type ParseError struct {
	Path string
	Msg  string
}

func (e *ParseError) Error() string { return e.Path + ": " + e.Msg }

// rootPath is the path of the whole filter in error messages; it is the name
// of the request field the filter arrives in.
const rootPath = "filter"

func errorf(path, format string, args ...any) *ParseError {
	return &ParseError{Path: path, Msg: fmt.Sprintf(format, args...)}
}
