// Package jsonread reads JSON from a stream one token at a time, so that a
// decoder of request bodies can check every limit as it goes and stop at
// the first value that breaks one, instead of decoding a whole body into
// memory first (encoding/json buffers every value it decodes whole: a
// 31 MiB array is 31 MiB read before its first element can be refused).
//
// It is strict where encoding/json is lenient: a string with invalid UTF-8
// or an unpaired \u surrogate is an error (encoding/json turns both into
// U+FFFD, so two different ids could become one), and so is a number that
// does not fit its target.
//
// It holds one buffer of bufferSize bytes (and a string or number token at
// most as long as its caller allows), whatever the size of the input. The
// Reader knows nothing about what the JSON means: the callers (serve/api's
// metadata writer, serve/rest's body decoders) walk the structure and name
// the field in their errors.
package jsonread
