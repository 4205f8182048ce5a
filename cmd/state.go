package cmd

import (
	"context"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/mattn/go-isatty"
)

// State owns everything the CLI takes from the operating system, so tests
// can run commands in-process with their own streams and environment.
type State struct {
	Stdout io.Writer
	Stderr io.Writer
	Stdin  io.Reader
	Args   []string
	// LookupEnv is consulted for variables that are not settings of a
	// flag (AKIDB_JWT_SECRET). The AKIDB_<KEY> settings themselves are
	// read by viper (AutomaticEnv) from the process environment.
	LookupEnv func(key string) (string, bool)
	// SignalContext returns a context cancelled on SIGINT or SIGTERM.
	SignalContext func(parent context.Context) (context.Context, context.CancelFunc)
	// StderrTerminal says whether Stderr is a terminal: only then does
	// `akidb serve` show a new bootstrap admin key on it (a service
	// manager's journal or a log file would keep it).
	StderrTerminal bool
	// Hangups, if not nil, returns a channel that receives a value on
	// every SIGHUP (`akidb serve` reloads its TLS certificate then) and a
	// function that stops the delivery.
	Hangups func() (<-chan struct{}, func())
	// MigrateHook, if not nil, is called at the named steps of `akidb
	// migrate` (tests stop the process there to kill it).
	MigrateHook func(step string)
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
		Hangups:        notifyHangups,
		StderrTerminal: isatty.IsTerminal(os.Stderr.Fd()) || isatty.IsCygwinTerminal(os.Stderr.Fd()),
	}
}

// notifyHangups delivers SIGHUP as values on a channel; several signals
// before the receiver looks are one reload.
func notifyHangups() (<-chan struct{}, func()) {
	sig := make(chan os.Signal, 1)
	out := make(chan struct{}, 1)
	done := make(chan struct{})
	signal.Notify(sig, syscall.SIGHUP)
	go func() {
		for {
			select {
			case <-sig:
				select {
				case out <- struct{}{}:
				default:
				}
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return out, func() {
		once.Do(func() {
			signal.Stop(sig)
			close(done)
		})
	}
}
