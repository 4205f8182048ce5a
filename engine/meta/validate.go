package meta

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// maxNameBytes bounds tenant and collection names. Finer rules (which
// characters a URL path can carry) belong to the API layer; the catalog
// only refuses what no caller could mean.
const maxNameBytes = 255

func validateName(kind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s name is empty: %w", kind, ErrInvalidArgument)
	case len(name) > maxNameBytes:
		return fmt.Errorf("%s name is %d bytes long, more than %d: %w", kind, len(name), maxNameBytes, ErrInvalidArgument)
	case !utf8.ValidString(name):
		return fmt.Errorf("%s name %q is not valid UTF-8: %w", kind, name, ErrInvalidArgument)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s name %q contains a control character: %w", kind, name, ErrInvalidArgument)
		}
	}
	return nil
}
