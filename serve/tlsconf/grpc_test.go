package tlsconf

import (
	"crypto/tls"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// serveGRPC starts a gRPC server with the health service on 127.0.0.1:0
// using credentials.NewTLS(r.TLSConfig()), as the gRPC layer does.
func serveGRPC(t *testing.T, r *Reloader) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(r.TLSConfig())))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Stop()
		if err := <-done; err != nil {
			t.Errorf("grpc Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// grpcCheck makes one health check over a new client connection and returns
// the TLS state the client saw.
func grpcCheck(t *testing.T, addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	defer conn.Close()
	var p peer.Peer
	resp, err := healthpb.NewHealthClient(conn).Check(waitCtx(t), &healthpb.HealthCheckRequest{}, grpc.Peer(&p))
	if err != nil {
		return tls.ConnectionState{}, err
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health status %v", resp.GetStatus())
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		t.Fatalf("peer auth info is %T, want credentials.TLSInfo", p.AuthInfo)
	}
	return info.State, nil
}

func TestGRPCOverTLS(t *testing.T) {
	dc := writeDev(t)
	next := writeDev(t)
	r := newReloader(t, Config{CertFile: dc.ServerCertFile, KeyFile: dc.ServerKeyFile}, nil)
	addr := serveGRPC(t, r)
	client := clientTLS(t, []string{dc.CAFile, next.CAFile}, "", "")

	st, err := grpcCheck(t, addr, client)
	if err != nil {
		t.Fatalf("TLS 1.3 gRPC client: %v", err)
	}
	if st.Version != tls.VersionTLS13 || st.NegotiatedProtocol != "h2" {
		t.Errorf("negotiated %s / %q, want TLS 1.3 / h2", tls.VersionName(st.Version), st.NegotiatedProtocol)
	}

	old := client.Clone()
	old.MaxVersion = tls.VersionTLS12
	_, err = grpcCheck(t, addr, old)
	if status.Code(err) != codes.Unavailable {
		t.Errorf("TLS 1.2-only gRPC client: err = %v, want Unavailable", err)
	}

	// A reload reaches new gRPC connections too.
	copyFile(t, next.ServerCertFile, dc.ServerCertFile)
	copyFile(t, next.ServerKeyFile, dc.ServerKeyFile)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	st, err = grpcCheck(t, addr, client)
	if err != nil {
		t.Fatalf("after reload: %v", err)
	}
	if got, want := st.PeerCertificates[0].SerialNumber, leafSerial(t, next.ServerCertFile); got.Cmp(want) != 0 {
		t.Errorf("gRPC after reload: serial %x, want %x", got, want)
	}
}

func TestGRPCMutualTLS(t *testing.T) {
	dc := writeDev(t)
	other := writeDev(t)
	r := newReloader(t, Config{CertFile: dc.ServerCertFile, KeyFile: dc.ServerKeyFile, ClientCAFile: dc.CAFile}, nil)
	addr := serveGRPC(t, r)

	if _, err := grpcCheck(t, addr, clientTLS(t, []string{dc.CAFile}, dc.ClientCertFile, dc.ClientKeyFile)); err != nil {
		t.Errorf("dev client certificate: %v", err)
	}
	for name, c := range map[string]*tls.Config{
		"no client certificate": clientTLS(t, []string{dc.CAFile}, "", ""),
		"other CA's client":     clientTLS(t, []string{dc.CAFile}, other.ClientCertFile, other.ClientKeyFile),
	} {
		if _, err := grpcCheck(t, addr, c); status.Code(err) != codes.Unavailable {
			t.Errorf("%s: err = %v, want Unavailable", name, err)
		}
	}
}
