package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/serve/api"
	grpcserver "github.com/akidb/akidb/serve/grpc"
	"github.com/akidb/akidb/serve/metrics"
	"github.com/akidb/akidb/serve/rest"
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
	}
}

// Server is a running `akidb serve`.
type Server struct {
	cfg      Config
	log      *slog.Logger
	svc      *api.Service
	registry *prometheus.Registry
	metrics  *metrics.Metrics

	restLn   net.Listener
	grpcLn   net.Listener
	http     *http.Server
	grpc     *grpc.Server
	grpcAPI  *grpcserver.Server
	db       *engine.DB
	closing  bool // shutdown began; a late-finishing recovery closes its DB
	dbMu     sync.Mutex
	errs     chan error
	ready    chan struct{}
	shutOnce sync.Once
	shutErr  error
}

// Start binds both listeners, starts serving and begins recovering the
// engine in the background. It returns once the listeners are bound.
func Start(cfg Config, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	s := &Server{cfg: cfg, log: logger, registry: reg, metrics: m, errs: make(chan error, 3), ready: make(chan struct{})}
	s.svc = api.New(api.Options{Limits: cfg.Limits, Logger: logger, Version: cfg.Version, DataDir: cfg.DataDir})
	m.SetStatsSource(s.stats)

	if s.restLn, err = net.Listen("tcp", cfg.RESTAddr); err != nil {
		return nil, fmt.Errorf("listen for REST on %s: %w", cfg.RESTAddr, err)
	}
	if s.grpcLn, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
		_ = s.restLn.Close()
		return nil, fmt.Errorf("listen for gRPC on %s: %w", cfg.GRPCAddr, err)
	}

	handler := rest.NewHandler(s.svc, rest.Options{Logger: logger, Metrics: m, MetricsHandler: metrics.Handler(reg), Limits: cfg.Limits})
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
	s.grpcAPI = grpcserver.NewServer(s.svc, grpcserver.Options{
		Logger: logger, Limits: cfg.Limits,
		UnaryInterceptors: []grpc.UnaryServerInterceptor{m.UnaryServerInterceptor()},
		ServerOptions: []grpc.ServerOption{
			grpc.MaxConcurrentStreams(cfg.MaxConcurrentStreams),
			grpc.ConnectionTimeout(cfg.ReadHeaderTimeout),
		},
	})
	s.grpc = s.grpcAPI.GRPCServer()

	go func() {
		if err := s.http.Serve(s.restLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.errs <- fmt.Errorf("REST server: %w", err)
		}
	}()
	go func() {
		if err := s.grpc.Serve(s.grpcLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.errs <- fmt.Errorf("gRPC server: %w", err)
		}
	}()
	go s.openEngine()
	return s, nil
}

func (s *Server) openEngine() {
	ecfg := s.cfg.Engine
	ecfg.Logger = s.log
	ecfg.Observer = s.metrics
	start := time.Now()
	db, err := engine.Open(s.cfg.DataDir, ecfg)
	if err != nil {
		s.errs <- fmt.Errorf("open data dir %s: %w", s.cfg.DataDir, err)
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
	s.svc.SetDB(db)
	s.grpcAPI.SetServing(true)
	s.log.Info("ready", "data_dir", s.cfg.DataDir, "collections", len(db.ListCollections("")), "recovery", time.Since(start).Round(time.Millisecond))
	close(s.ready)
}

func (s *Server) stats() (collections, vectors int) {
	s.dbMu.Lock()
	db := s.db
	s.dbMu.Unlock()
	if db == nil {
		return 0, 0
	}
	for _, info := range db.ListCollections("") {
		collections++
		if h, err := db.Collection(info.TenantID, info.Name); err == nil {
			vectors += h.Count()
		}
	}
	return collections, vectors
}

// RESTAddr and GRPCAddr are the bound addresses (useful with port 0).
func (s *Server) RESTAddr() net.Addr { return s.restLn.Addr() }
func (s *Server) GRPCAddr() net.Addr { return s.grpcLn.Addr() }

// Ready is closed once the engine has recovered and requests are served.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Errors delivers fatal serving errors (a listener failing, the data dir
// not opening).
func (s *Server) Errors() <-chan error { return s.errs }

// Registry is the server's metrics registry.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

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
	s, err := Start(cfg, logger)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "akidb %s: REST on http://%s, gRPC on %s, data in %s\n", cfg.Version, s.RESTAddr(), s.GRPCAddr(), cfg.DataDir)
	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down", "reason", context.Cause(ctx))
	case runErr = <-s.errs:
		logger.Error("fatal", "err", runErr)
	}
	shutCtx := context.WithoutCancel(ctx)
	if err := s.Shutdown(shutCtx); err != nil {
		return errors.Join(runErr, err)
	}
	return runErr
}
