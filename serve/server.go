package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/auth"
	grpcserver "github.com/akidb/akidb/serve/grpc"
	"github.com/akidb/akidb/serve/limits"
	"github.com/akidb/akidb/serve/metrics"
	"github.com/akidb/akidb/serve/ratelimit"
	"github.com/akidb/akidb/serve/rest"
	"github.com/akidb/akidb/serve/tlsconf"
)

// Config is everything `akidb serve` can be told.
type Config struct {
	DataDir  string
	RESTAddr string
	GRPCAddr string
	Version  string
	Limits   api.Limits
	Engine   engine.Config
	// ShutdownTimeout bounds how long in-flight requests may drain.
	ShutdownTimeout time.Duration
	// HTTP server timeouts.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	// MaxConcurrentStreams bounds HTTP/2 and gRPC streams per connection.
	MaxConcurrentStreams uint32
	// Auth configures authentication, authorization and the audit trail.
	// It is on unless Auth.Disabled.
	Auth AuthConfig
	// TLS: a CertFile and KeyFile turn on TLS for both REST and gRPC (one
	// certificate, reloaded without a restart when its files change or a
	// value arrives on Reload); ClientCAFile also requires client
	// certificates (mTLS). All empty: plaintext.
	TLS tlsconf.Config
	// Reload, if not nil, reloads the TLS material on every value
	// received (the CLI sends one per SIGHUP).
	Reload <-chan struct{}
	// Notices receives what the operator must read once: the bootstrap
	// admin key of a new data directory (or, unless NoticesTerminal, only
	// where it is kept), the warning that authentication is off. Nil: Run
	// writes them to its out; Start discards them.
	Notices io.Writer
	// NoticesTerminal says Notices is a terminal that a person reads, so
	// the bootstrap key may be shown on it. Otherwise (a journal, a log
	// file, a pipe, which keep what they get) only the key file's path is.
	NoticesTerminal bool
	// Limiting configures load shedding, rate limits and quotas
	// (docs/limits.md).
	Limiting LimitingConfig
	// Tier configures the object storage tier (docs/tiering.md).
	Tier TierConfig
	// AllowPlaintext lets the server listen without TLS on an address
	// other than loopback (for a TLS-terminating proxy in front); it then
	// warns at start and on /readyz. Without it Start refuses that.
	AllowPlaintext bool

	// memoryLimitSource is where Run's memory limit came from, for GET
	// /admin/config.
	memoryLimitSource string
}

// LimitingConfig configures what keeps one client from taking the server
// down: the in-flight bound and request timeout (both transports share
// them), the default storage quotas, and the clock of the rate limit
// buckets. The rate limit defaults themselves are runtime settings
// (persisted, changed with POST /admin/config/rate-limit), not flags.
type LimitingConfig struct {
	// MaxInFlight bounds the requests in flight, REST and gRPC together;
	// past it a request is answered 503 at once. <= 0:
	// ratelimit.DefaultMaxInFlight(GOMAXPROCS) (128 on 2 cores).
	MaxInFlight int
	// TenantShare is the share of MaxInFlight (and of the bodies being
	// read) that one tenant may hold, in (0, 1]; 0:
	// ratelimit.DefaultTenantShare (half). Past it the tenant's requests
	// are answered 429 while other tenants are still served.
	TenantShare float64
	// BodyTimeout bounds the time a client has to send a REST request
	// body or a gRPC request message (<= 0: ratelimit.DefaultBodyTimeout);
	// a slower one is answered 408 (gRPC DEADLINE_EXCEEDED). The body is
	// read before the request takes an in-flight slot.
	BodyTimeout time.Duration
	// MaxInflightBodyBytes bounds the bytes of request bodies (REST) and
	// messages (gRPC) held at once, from the start of their reading until
	// their answer (<= 0: ratelimit.DefaultBodyBudget of MaxInFlight,
	// the largest body and the memory limit); past it a request is
	// answered 503, past its tenant's TenantShare of it 429.
	MaxInflightBodyBytes int64
	// RequestTimeout bounds each request (<= 0: 30s, or the client's
	// earlier deadline); past it the answer is 503 with Retry-After.
	RequestTimeout time.Duration
	// QuotaDefaults are the storage maxima of tenants whose quota sets
	// none (nil fields: unlimited).
	QuotaDefaults limits.Defaults
	// Now is the clock of the rate limit buckets (tests pass a fake one);
	// nil is time.Now.
	Now func() time.Time
}

// AuthConfig configures the security layer of `akidb serve`.
type AuthConfig struct {
	// Disabled turns authentication off (`akidb serve --auth=false`): every
	// request acts as an unrestricted admin of the default tenant, and no
	// bootstrap key is made. For trusted local development only.
	Disabled bool
	// JWTSecret signs tokens (at least 32 bytes); nil: read from, or
	// generated once into, <data-dir>/secrets/jwt.key.
	JWTSecret []byte
	// BootstrapKey, if set, is the first admin key of a new data
	// directory (from --bootstrap-admin-key-file, e.g. a Kubernetes
	// Secret) instead of one generated, saved and printed by the server.
	BootstrapKey auth.APIKey
	// TokenTTL is the lifetime of an issued JWT (default 24h).
	TokenTTL time.Duration
	// KeyCacheTTL bounds how long a key row is trusted from memory
	// (default 5m); revocations through this server apply at once anyway.
	KeyCacheTTL time.Duration
	// Throttle slows down repeated authentication failures per address.
	Throttle auth.ThrottleConfig
	// AuditRetention and AuditMaxEvents bound the audit trail (defaults
	// 90 days, 100000 events).
	AuditRetention time.Duration
	AuditMaxEvents int
	// Now is the clock of keys, tokens, the throttle and the audit trail
	// (tests); nil is time.Now.
	Now func() time.Time
}

// TLSEnabled reports whether cfg asks for TLS.
func (cfg Config) TLSEnabled() bool {
	return cfg.TLS.CertFile != "" || cfg.TLS.KeyFile != "" || cfg.TLS.ClientCAFile != ""
}

// DefaultConfig is the embedded default: data in ./akidb-data, REST on
// 127.0.0.1:8080, gRPC on 127.0.0.1:9090.
func DefaultConfig() Config {
	return Config{
		DataDir:              "./akidb-data",
		RESTAddr:             "127.0.0.1:8080",
		GRPCAddr:             "127.0.0.1:9090",
		Limits:               api.DefaultLimits(),
		ShutdownTimeout:      15 * time.Second,
		ReadHeaderTimeout:    5 * time.Second,
		ReadTimeout:          30 * time.Second,
		WriteTimeout:         60 * time.Second,
		IdleTimeout:          120 * time.Second,
		MaxConcurrentStreams: 250,
		Limiting: LimitingConfig{RequestTimeout: ratelimit.DefaultRequestTimeout, TenantShare: ratelimit.DefaultTenantShare,
			BodyTimeout: ratelimit.DefaultBodyTimeout},
	}
}

// Server is a running `akidb serve`.
type Server struct {
	cfg       Config
	log       *slog.Logger
	svc       *api.Service
	registry  *prometheus.Registry
	recorders []*metrics.Recorder // every collector registered, public and operator-only
	metrics   *metrics.Metrics

	restLn   net.Listener
	grpcLn   net.Listener
	http     *http.Server
	grpc     *grpc.Server
	grpcAPI  *grpcserver.Server
	guard    *access.Guard
	shedder  *ratelimit.Shedder
	bodies   *ratelimit.Shedder
	budget   *ratelimit.Budget
	limiter  *ratelimit.Limiter
	limitM   *limits.Metrics
	changes  configChanges
	tls      *tlsconf.Reloader // nil: plaintext
	notices  io.Writer
	bg       context.Context // ends at shutdown: the TLS watcher and reload loop
	stopBg   context.CancelFunc
	bgWG     sync.WaitGroup
	db       *engine.DB
	closing  bool // shutdown began; a late-finishing recovery closes its DB
	dbMu     sync.Mutex
	errs     chan error
	ready    chan struct{}
	shutOnce sync.Once
	shutErr  error
}

// bodyBudget is the body budget cfg asks for, or the default for the
// in-flight bound, the largest body and the memory limit in force.
func bodyBudget(cfg Config, maxInFlight int, maxBody int64) int64 {
	if cfg.Limiting.MaxInflightBodyBytes > 0 {
		return cfg.Limiting.MaxInflightBodyBytes
	}
	var memLimit int64
	if l := access.CurrentMemoryLimit(); l != nil {
		memLimit = *l
	}
	return ratelimit.DefaultBodyBudget(maxInFlight, maxBody, memLimit)
}

// Start binds both listeners, starts serving and begins recovering the
// engine in the background. It returns once the listeners are bound.
func Start(cfg Config, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	warnings, err := checkExposure(cfg)
	if err != nil {
		return nil, err
	}
	// reg is public (GET /metrics); tenantReg holds the series labelled
	// with tenant ids, served only to the operator (GET /admin/metrics).
	// Both keep the collectors registered through them, for MetricNames.
	publicRegistry, tenantRegistry := prometheus.NewRegistry(), prometheus.NewRegistry()
	reg, tenantReg := metrics.NewRecorder(publicRegistry), metrics.NewRecorder(tenantRegistry)
	m, err := metrics.New(reg)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if err := metrics.RegisterBuildInfo(reg, cfg.Version); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: logger, registry: publicRegistry, recorders: []*metrics.Recorder{reg, tenantReg}, metrics: m, errs: make(chan error, 3), ready: make(chan struct{}), notices: cfg.Notices}
	if s.notices == nil {
		s.notices = io.Discard
	}
	s.svc = api.New(api.Options{Limits: cfg.Limits, Logger: logger, Version: cfg.Version, DataDir: cfg.DataDir})
	s.guard = access.New(access.Options{Disabled: cfg.Auth.Disabled, Logger: logger})
	m.SetStatsSource(s.stats)
	s.shedder = ratelimit.NewShedder(cfg.Limiting.MaxInFlight)
	s.shedder.SetTenantShare(cfg.Limiting.TenantShare)
	// As many bodies may be read at once as requests served, with the
	// same share per tenant: a body that arrives slowly holds one of
	// these, never an in-flight slot.
	s.bodies = ratelimit.NewShedder(cfg.Limiting.MaxInFlight)
	s.bodies.SetTenantShare(cfg.Limiting.TenantShare)
	maxBody := s.svc.Limits().MaxBodyBytes
	if maxBody <= 0 {
		maxBody = api.DefaultLimits().MaxBodyBytes
	}
	if b := cfg.Limiting.MaxInflightBodyBytes; b > 0 && b < maxBody {
		return nil, fmt.Errorf("the body budget (%d bytes) is smaller than the largest body (%d bytes): such a body could never be read", b, maxBody)
	}
	s.budget = ratelimit.NewBudget(bodyBudget(cfg, s.shedder.Max(), maxBody))
	s.budget.SetTenantShare(cfg.Limiting.TenantShare)
	if s.limiter, err = ratelimit.New(ratelimit.Config{Now: cfg.Limiting.Now}); err != nil {
		return nil, err
	}
	if s.limitM, err = limits.NewMetrics(reg, tenantReg, limits.MetricsSources{Shedder: s.shedder, Bodies: s.bodies, Budget: s.budget, Config: &s.changes}); err != nil {
		return nil, err
	}
	if cfg.TLSEnabled() {
		if s.tls, err = tlsconf.New(cfg.TLS, logger); err != nil {
			return nil, err
		}
	}
	for _, w := range warnings {
		logger.Warn(w)
		fmt.Fprintf(s.notices, "\nakidb: WARNING: %s.\n\n", w)
	}
	if cfg.Auth.Disabled {
		logger.Warn("AUTHENTICATION IS OFF: every request acts as an unrestricted admin; for trusted local development only")
		fmt.Fprint(s.notices, authOffWarning)
	}

	if s.restLn, err = net.Listen("tcp", cfg.RESTAddr); err != nil {
		s.closeTLS()
		return nil, fmt.Errorf("listen for REST on %s: %w", cfg.RESTAddr, err)
	}
	if s.grpcLn, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
		_ = s.restLn.Close()
		s.closeTLS()
		return nil, fmt.Errorf("listen for gRPC on %s: %w", cfg.GRPCAddr, err)
	}
	s.bg, s.stopBg = context.WithCancel(context.Background())

	handler := rest.NewHandler(s.svc, rest.Options{Logger: logger, Metrics: m, MetricsHandler: metrics.SelectiveHandler(publicRegistry, reg),
		TenantMetricsHandler: metrics.SelectiveHandler(prometheus.Gatherers{publicRegistry, tenantRegistry}, reg, tenantReg), Limits: cfg.Limits, Guard: s.guard,
		Shedder: s.shedder, Bodies: s.bodies, Budget: s.budget, BodyTimeout: cfg.Limiting.BodyTimeout, RequestTimeout: cfg.Limiting.RequestTimeout,
		ReadyWarnings: warnings})
	s.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: int(cfg.MaxConcurrentStreams)},
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	grpcOpts := []grpc.ServerOption{
		grpc.MaxConcurrentStreams(cfg.MaxConcurrentStreams),
		grpc.ConnectionTimeout(cfg.ReadHeaderTimeout),
	}
	if s.tls != nil {
		s.http.TLSConfig = s.tls.TLSConfig()
		grpcOpts = append(grpcOpts, grpc.Creds(credentials.NewTLS(s.tls.TLSConfig())))
	}
	s.grpcAPI = grpcserver.NewServer(s.svc, grpcserver.Options{
		Logger: logger, Limits: cfg.Limits, Guard: s.guard,
		UnaryInterceptors: []grpc.UnaryServerInterceptor{m.UnaryServerInterceptor()},
		ServerOptions:     grpcOpts,
		Shedder:           s.shedder, Budget: s.budget, BodyTimeout: cfg.Limiting.BodyTimeout, RequestTimeout: cfg.Limiting.RequestTimeout,
	})
	s.grpc = s.grpcAPI.GRPCServer()

	go func() {
		var err error
		if s.tls != nil {
			// The certificate comes from TLSConfig, hence no file names.
			err = s.http.ServeTLS(s.restLn, "", "")
		} else {
			err = s.http.Serve(s.restLn)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.errs <- fmt.Errorf("REST server: %w", err)
		}
	}()
	if s.tls != nil {
		s.bgWG.Go(func() {
			if err := s.tls.Watch(s.bg); err != nil && !errors.Is(err, tlsconf.ErrClosed) {
				logger.Warn("tls: certificate files are not watched; reload with SIGHUP", "err", err)
			}
		})
	}
	if cfg.Reload != nil {
		s.bgWG.Go(func() { s.reloadLoop(cfg.Reload) })
	}
	go func() {
		if err := s.grpc.Serve(s.grpcLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.errs <- fmt.Errorf("gRPC server: %w", err)
		}
	}()
	go s.openEngine()
	return s, nil
}

// authOffWarning is printed once when authentication is disabled.
const authOffWarning = `
  ******************************************************************
  *  WARNING: AUTHENTICATION IS OFF (--auth=false)                  *
  *  Every request acts as an unrestricted admin: anyone who can    *
  *  reach these ports can read, change and delete all data and     *
  *  manage keys. Use this for trusted local development only.      *
  ******************************************************************

`

func (s *Server) openEngine() {
	ecfg := s.cfg.Engine
	ecfg.Logger = s.log
	ecfg.Observer = s.metrics
	ecfg.DefaultTierPolicy = s.cfg.Tier.DefaultPolicy
	start := time.Now()
	tc, err := s.engineTier()
	if err != nil {
		s.errs <- err
		return
	}
	ecfg.Tier = tc
	db, err := engine.Open(s.cfg.DataDir, ecfg)
	if err != nil {
		s.errs <- fmt.Errorf("open data dir %s: %w", s.cfg.DataDir, err)
		return
	}
	if err := s.openSecurity(db); err != nil {
		_ = db.Close()
		s.errs <- err
		return
	}
	s.dbMu.Lock()
	if s.closing {
		s.dbMu.Unlock()
		_ = db.Close()
		return
	}
	s.db = db
	s.dbMu.Unlock()
	s.metrics.SetTierSource(func() (metrics.TierTotals, bool) { return tierTotals(db) })
	s.metrics.SetResidencySource(func(sizes bool) metrics.ResidencyTotals { return residencyTotals(db, sizes) })
	s.svc.SetDB(db)
	s.grpcAPI.SetServing(true)
	s.log.Info("ready", "data_dir", s.cfg.DataDir, "collections", len(db.ListCollections("")), "recovery", time.Since(start).Round(time.Millisecond))
	close(s.ready)
}

// openSecurity builds the authenticator and the audit trail over the
// opened catalog, gives a new data directory its bootstrap admin key, and
// attaches them to the guard. It runs after engine.Open and before the
// service is ready, so no request is served without them.
func (s *Server) openSecurity(db *engine.DB) error {
	ac := s.cfg.Auth
	authn, err := auth.New(db.Meta(), auth.Config{
		DataDir: s.cfg.DataDir, JWTSecret: ac.JWTSecret, TokenTTL: ac.TokenTTL, CacheTTL: ac.KeyCacheTTL,
		Throttle: ac.Throttle, Logger: s.log, Now: ac.Now,
	})
	if err != nil {
		return fmt.Errorf("authentication: %w", err)
	}
	if !ac.Disabled && ac.BootstrapKey != "" {
		if _, err := authn.ImportBootstrapAdmin(context.Background(), ac.BootstrapKey); err != nil {
			return err
		}
	} else if !ac.Disabled {
		key, err := authn.EnsureBootstrapAdmin(context.Background(), s.cfg.DataDir)
		if err != nil {
			return err
		}
		if key != "" {
			path := filepath.Join(s.cfg.DataDir, auth.SecretsDir, auth.BootstrapKeyFile)
			if s.cfg.NoticesTerminal {
				fmt.Fprintf(s.notices, bootstrapNotice, key.Reveal(), path)
			} else {
				fmt.Fprintf(s.notices, bootstrapPathNotice, path, path)
			}
		}
	}
	auditor := auth.NewAuditor(db.Meta(), auth.AuditConfig{Retention: ac.AuditRetention, MaxEvents: ac.AuditMaxEvents, Logger: s.log, Now: ac.Now})
	lim, err := s.openLimits(db)
	if err != nil {
		return err
	}
	return s.guard.Attach(access.Deps{Authenticator: authn, Auditor: auditor, Store: db.Meta(), Collections: db, Limits: lim, Storage: db})
}

// openLimits loads the runtime settings and every quota from the catalog,
// hands the quota guard to the service and the usage to the metrics, and
// returns what the access guard rate-limits and administers with.
func (s *Server) openLimits(db *engine.DB) (*access.LimitDeps, error) {
	ctx := context.Background()
	rc, err := limits.NewRuntimeConfig(ctx, db.Meta(), s.log)
	if err != nil {
		return nil, err
	}
	quotas, err := limits.NewQuotas(ctx, db.Meta(), rc, s.cfg.Limiting.QuotaDefaults)
	if err != nil {
		return nil, err
	}
	usage := limits.NewEngineUsage(db)
	qguard := limits.NewGuard(quotas, usage)
	s.svc.SetQuotaGuard(qguard)
	s.limitM.SetQuotaReporter(qguard)
	s.changes.set(rc)
	rl := rc.RateLimit()
	s.log.Info("limits", "max_in_flight", s.shedder.Max(), "tenant_in_flight", s.shedder.TenantMax(),
		"request_timeout", requestTimeout(s.cfg.Limiting.RequestTimeout), "body_timeout", bodyTimeout(s.cfg.Limiting.BodyTimeout),
		"max_inflight_body_bytes", s.budget.Max(), "max_response_bytes", s.svc.Limits().MaxResponse(),
		"rate_limiting", rl.Enabled, "default_qps", rl.DefaultQPS, "default_burst_multiplier", rl.DefaultBurstMultiplier)
	fixed := access.ServerSettings{
		Version: s.cfg.Version, AuthEnabled: !s.cfg.Auth.Disabled, TLSEnabled: s.tls != nil,
		RESTAddr: s.RESTAddr().String(), GRPCAddr: s.GRPCAddr().String(),
		MemoryLimitSource: s.cfg.memoryLimitSource, RequestLimits: access.RequestLimitsOf(s.svc.Limits()),
		BodyTimeoutSeconds: bodyTimeout(s.cfg.Limiting.BodyTimeout).Seconds(), MaxResponseBytes: s.svc.Limits().MaxResponse(),
	}
	return &access.LimitDeps{
		Quotas: quotas, Config: rc, Limiter: s.limiter, Metrics: s.limitM, Usage: usage,
		Server: access.ServerSettingsFunc(fixed, access.ServerSettingsSources{Shedder: s.shedder, Budget: s.budget, RequestTimeout: s.cfg.Limiting.RequestTimeout}),
	}, nil
}

func bodyTimeout(d time.Duration) time.Duration {
	if d <= 0 {
		return ratelimit.DefaultBodyTimeout
	}
	return d
}

func requestTimeout(d time.Duration) time.Duration {
	if d <= 0 {
		return ratelimit.DefaultRequestTimeout
	}
	return d
}

// configChanges reads akidb_runtime_config_changes_total from the runtime
// settings once the catalog is open (the metric is registered before).
type configChanges struct {
	rc atomic.Pointer[limits.RuntimeConfig]
}

func (c *configChanges) set(rc *limits.RuntimeConfig) { c.rc.Store(rc) }

// Changes is the number of runtime setting changes since the start.
func (c *configChanges) Changes() uint64 {
	if rc := c.rc.Load(); rc != nil {
		return rc.Changes()
	}
	return 0
}

// bootstrapNotice shows the first admin key, once.
const bootstrapNotice = `
akidb: this is a new data directory, so it has no API keys. An admin key of
the "default" tenant was created; it is shown this once:

    %s

It is also in %s (mode 0600) until it is revoked or rotated.
Send it as "Authorization: Bearer <key>". Create keys for your applications
with "akidb keys create", and rotate or revoke this one when you are done.

`

// bootstrapPathNotice says where the first admin key is when the notices
// do not go to a terminal: a journal or log file would keep the key.
const bootstrapPathNotice = `
akidb: this is a new data directory, so it has no API keys. An admin key of
the "default" tenant was created and written to

    %s   (mode 0600)

It is not printed here because this output is not a terminal (a journal or
log file would keep it). Read it with: cat %s
The file is deleted when the key is revoked or rotated.
Create keys for your applications with "akidb keys create", and rotate or
revoke this one when you are done.

`

// ReloadTLS re-reads the certificate, key and client CA files now (the
// CLI calls it on SIGHUP). On failure the previous material keeps serving.
func (s *Server) ReloadTLS() error {
	if s.tls == nil {
		return errors.New("reload tls: the server does not use TLS")
	}
	return s.tls.Reload()
}

// TLS is the reloader of the TLS material being served (its Status,
// WaitForGeneration), or nil without TLS.
func (s *Server) TLS() *tlsconf.Reloader { return s.tls }

func (s *Server) reloadLoop(reload <-chan struct{}) {
	for {
		select {
		case <-s.bg.Done():
			return
		case _, ok := <-reload:
			if !ok {
				return
			}
			if s.tls == nil {
				s.log.Info("reload requested; there is no TLS material to reload")
				continue
			}
			// Failures are logged by the reloader and keep the old material.
			_ = s.tls.Reload()
		}
	}
}

func (s *Server) closeTLS() {
	if s.tls != nil {
		s.tls.Close()
	}
}

func (s *Server) stats() metrics.Totals {
	s.dbMu.Lock()
	db := s.db
	s.dbMu.Unlock()
	t := metrics.Totals{Ready: s.svc.Ready()}
	if db == nil {
		return t
	}
	c := db.CollectionTotals()
	t.Collections, t.Vectors, t.IndexBacklog, t.WALBytes, t.LastCheckpoint = c.Collections, c.Vectors, c.IndexBacklog, c.WALBytes, c.LastCheckpoint
	return t
}

// RESTAddr and GRPCAddr are the bound addresses (useful with port 0).
func (s *Server) RESTAddr() net.Addr { return s.restLn.Addr() }
func (s *Server) GRPCAddr() net.Addr { return s.grpcLn.Addr() }

// Ready is closed once the engine has recovered and requests are served.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Errors delivers fatal serving errors (a listener failing, the data dir
// not opening).
func (s *Server) Errors() <-chan error { return s.errs }

// Shedder is the in-flight bound both transports share (tests watch its
// InFlight).
func (s *Server) Shedder() *ratelimit.Shedder { return s.shedder }

// Bodies is the bound of REST request bodies being read at once.
func (s *Server) Bodies() *ratelimit.Shedder { return s.bodies }

// Budget is the bound of the bytes of request bodies held at once, both
// transports.
func (s *Server) Budget() *ratelimit.Budget { return s.budget }

// Registry is the server's metrics registry.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// MetricNames lists every metric the server can export, on GET /metrics
// and (the tenant-labelled ones) GET /admin/metrics, whether or not it has
// a series yet (packaging/'s dashboard and alerts are checked against it).
func (s *Server) MetricNames() []string {
	var names []string
	for _, r := range s.recorders {
		names = append(names, r.Names()...)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Shutdown stops accepting, drains in-flight requests within
// ShutdownTimeout, then checkpoints and closes the engine. Safe to call
// more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutOnce.Do(func() { s.shutErr = s.shutdown(ctx) })
	return s.shutErr
}

func (s *Server) shutdown(ctx context.Context) error {
	s.svc.BeginShutdown()
	s.grpcAPI.SetServing(false)
	s.stopBg()
	defer func() {
		s.bgWG.Wait()
		s.closeTLS()
	}()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Drains in-flight RPCs, and cuts them (and health watchers) when
		// the drain bound is reached.
		_ = s.grpcAPI.Shutdown(ctx)
	}()
	if err := s.http.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("REST shutdown: %w", err))
		_ = s.http.Close()
	}
	wg.Wait()
	s.dbMu.Lock()
	s.closing = true
	db := s.db
	s.dbMu.Unlock()
	if db != nil {
		if err := db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close engine: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Run serves until ctx is cancelled (SIGINT/SIGTERM in the CLI) or a fatal
// error, then shuts down. It prints where it listens and where its data is.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, out io.Writer) error {
	if cfg.Notices == nil {
		cfg.Notices = out
	}
	// The memory limit is process-wide, so Run (the CLI) sets it, not
	// Start (which tests run many times in one process).
	if ml, err := limits.ApplyMemoryLimit(limits.MemoryLimitDeps{Logger: logger}); err != nil {
		logger.Warn("no memory limit: the memory available could not be detected; set GOMEMLIMIT", "err", err)
	} else {
		cfg.memoryLimitSource = ml.Source
	}
	s, err := Start(cfg, logger)
	if err != nil {
		return err
	}
	scheme, authState := "http", "on"
	if cfg.TLSEnabled() {
		scheme = "https"
	}
	if cfg.Auth.Disabled {
		authState = "OFF"
	}
	var runErr error
	ready := s.ready
	for done := false; !done; {
		select {
		case <-ready:
			// Said once the data directory is open, so that a fatal error
			// (the directory in use, say) is not preceded by a line
			// claiming the server runs.
			fmt.Fprintf(out, "akidb %s: REST on %s://%s, gRPC on %s, data in %s, authentication %s\n", cfg.Version, scheme, s.RESTAddr(), s.GRPCAddr(), cfg.DataDir, authState)
			ready = nil
		case <-ctx.Done():
			logger.Info("shutting down", "reason", context.Cause(ctx))
			done = true
		case runErr = <-s.errs:
			logger.Error("fatal", "err", runErr)
			done = true
		}
	}
	shutCtx := context.WithoutCancel(ctx)
	if err := s.Shutdown(shutCtx); err != nil {
		return errors.Join(runErr, err)
	}
	return runErr
}
