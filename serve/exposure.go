package serve

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Loopback reports whether a listen address ("host:port") is reachable
// from this host only: "localhost" or a loopback IP. An empty host, an
// unspecified one (0.0.0.0, ::), any other IP and any other host name
// count as reachable from the network; a name is not resolved, since
// what it resolves to can change after the check.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// plaintextWarning is logged, printed and shown on /readyz when the
// operator allowed plaintext on a reachable address.
const plaintextWarning = "serving without TLS on an address reachable from the network (--allow-plaintext): credentials and data cross the network in clear text"

// checkExposure refuses what would hand the network more than the
// operator can have meant, before anything is bound:
//
//   - authentication off (--auth=false) on an address other than
//     loopback: anyone who can reach the port would be the operator;
//     refused even with TLS and --allow-plaintext;
//   - plaintext on an address other than loopback, unless
//     AllowPlaintext (a TLS-terminating proxy in front, say): then it
//     returns the warning to show.
func checkExposure(cfg Config) (warnings []string, err error) {
	var exposed []string
	for _, a := range []struct{ what, addr string }{{"--rest-addr", cfg.RESTAddr}, {"--grpc-addr", cfg.GRPCAddr}} {
		if !Loopback(a.addr) {
			exposed = append(exposed, a.what+" "+a.addr)
		}
	}
	if len(exposed) == 0 {
		return nil, nil
	}
	where := strings.Join(exposed, " and ")
	if cfg.Auth.Disabled {
		return nil, fmt.Errorf("refusing to start with authentication off (--auth=false) on %s, which is reachable from the network: "+
			"anyone who reaches the port would be an unrestricted admin. Listen on 127.0.0.1 for local development, or turn authentication on", where)
	}
	if cfg.TLSEnabled() {
		return nil, nil
	}
	if !cfg.AllowPlaintext {
		return nil, fmt.Errorf("refusing to serve without TLS on %s, which is reachable from the network: credentials and data would cross it in clear text. "+
			"Give --tls-cert and --tls-key (akidb certs dev makes throwaway ones for trying), listen on 127.0.0.1, "+
			"or pass --allow-plaintext if a proxy in front terminates TLS", where)
	}
	return []string{plaintextWarning + " on " + where}, nil
}
