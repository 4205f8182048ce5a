package tlsconf_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/akidb/akidb/serve/tlsconf"
)

// Example shows how `akidb serve` wires one Reloader into both listeners,
// the file watcher and SIGHUP. (Compiled, not run.)
func Example() {
	logger := slog.Default()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	r, err := tlsconf.New(tlsconf.Config{
		CertFile:     "/etc/akidb/tls/server.crt",
		KeyFile:      "/etc/akidb/tls/server.key",
		ClientCAFile: "/etc/akidb/tls/clients-ca.crt", // empty: no mTLS
		MinVersion:   "1.3",
	}, logger)
	if err != nil {
		logger.Error("tls", "err", err)
		return
	}
	defer r.Close()

	go func() {
		if err := r.Watch(ctx); err != nil {
			logger.Warn("tls: no automatic reload", "err", err)
		}
	}()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			_ = r.Reload() // failures are logged and keep the old certificate
		}
	}()

	// REST: the certificate comes from TLSConfig, so both file names are "".
	rest := &http.Server{
		Addr: ":8443",
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Strict-Transport-Security", tlsconf.HSTSHeader)
		}),
		TLSConfig: r.TLSConfig(),
	}
	go rest.ListenAndServeTLS("", "")

	// gRPC: the same material through credentials.NewTLS.
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(r.TLSConfig())))
	ln, err := net.Listen("tcp", ":9443")
	if err != nil {
		return
	}
	go gs.Serve(ln)

	<-ctx.Done()
	gs.GracefulStop()
	rest.Shutdown(context.Background())
}
