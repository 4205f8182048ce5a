package top

import (
	"context"
	"errors"
	"strings"

	"github.com/akidb/akidb/admin"
	"github.com/akidb/akidb/serve/api"
)

// describe says what went wrong in one line, with the likely fix for the
// failures an operator meets first (TLS, a server not running).
func describe(err error) string {
	if err == nil {
		return ""
	}
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae.Error()
	}
	if errors.Is(err, admin.ErrClientCertificateRequired) {
		return err.Error()
	}
	msg := err.Error()
	hint := ""
	switch {
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "Client.Timeout exceeded"):
		hint = "no answer in time"
	case strings.Contains(msg, "connection refused"):
		hint = "is the server running, on this address?"
	case strings.Contains(msg, "certificate signed by unknown authority"), strings.Contains(msg, "failed to verify certificate"):
		hint = "TLS: the server's certificate is not trusted; pass its CA with --ca-cert"
	case strings.Contains(msg, "server gave HTTP response to HTTPS client"), strings.Contains(msg, "first record does not look like a TLS handshake"):
		hint = "TLS: the server speaks plain HTTP; use an http:// URL"
	case strings.Contains(msg, "malformed HTTP response"):
		hint = "the server speaks TLS; use an https:// URL"
	case strings.Contains(msg, "connection reset by peer"):
		// What a TLS server does to plain HTTP when the 400 it sends
		// first is lost to the reset.
		hint = "the server closed the connection (if it speaks TLS, use an https:// URL)"
	case strings.Contains(msg, "certificate required"), strings.Contains(msg, "bad certificate"):
		hint = "TLS: the server wants a client certificate; pass --client-cert and --client-key"
	}
	if hint == "" {
		return msg
	}
	return hint + " (" + msg + ")"
}
