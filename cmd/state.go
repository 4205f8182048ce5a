package cmd

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// State owns everything the CLI takes from the operating system, so tests
// can run commands in-process with their own streams and environment.
type State struct {
	Stdout io.Writer
	Stderr io.Writer
	Stdin  io.Reader
	Args   []string
	// LookupEnv is consulted for AKIDB_* settings.
	LookupEnv func(key string) (string, bool)
	// SignalContext returns a context cancelled on SIGINT or SIGTERM.
	SignalContext func(parent context.Context) (context.Context, context.CancelFunc)
}

func newOSState() *State {
	return &State{
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		Stdin:     os.Stdin,
		Args:      os.Args[1:],
		LookupEnv: os.LookupEnv,
		SignalContext: func(parent context.Context) (context.Context, context.CancelFunc) {
			return signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
		},
	}
}
