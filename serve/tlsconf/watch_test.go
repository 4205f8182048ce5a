package tlsconf

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// swapFunc replaces the served pair in dc's directory with next's.
type swapFunc func(t *testing.T, dc, next DevCerts)

func TestWatchReloadsOnFileChange(t *testing.T) {
	for _, tc := range []struct {
		name string
		swap swapFunc
	}{
		{"atomic rename", func(t *testing.T, dc, next DevCerts) {
			copyFile(t, next.ServerCertFile, dc.ServerCertFile)
			copyFile(t, next.ServerKeyFile, dc.ServerKeyFile)
		}},
		{"rewrite in place", func(t *testing.T, dc, next DevCerts) {
			for _, f := range [][2]string{{next.ServerCertFile, dc.ServerCertFile}, {next.ServerKeyFile, dc.ServerKeyFile}} {
				data, err := os.ReadFile(f[0])
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(f[1], data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dc := writeDev(t)
			next := writeDev(t)
			r := newReloader(t, Config{CertFile: dc.ServerCertFile, KeyFile: dc.ServerKeyFile}, nil)
			testWatchSwap(t, r, dc, next, tc.swap)
		})
	}
}

// TestWatchKubernetesSecretVolume mimics the kubelet's atomic writer: the
// visible files are symlinks through "..data", which is itself a symlink to
// a timestamped directory and is swapped by renaming a new link over it.
func TestWatchKubernetesSecretVolume(t *testing.T) {
	dc := writeDev(t)
	next := writeDev(t)
	vol := t.TempDir()
	populate := func(name string, src DevCerts) {
		dir := filepath.Join(vol, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range [][2]string{{src.ServerCertFile, "tls.crt"}, {src.ServerKeyFile, "tls.key"}, {src.CAFile, "ca.crt"}} {
			data, err := os.ReadFile(f[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f[1]), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	populate("..2026_01_01_00_00_00.000000001", dc)
	if err := os.Symlink("..2026_01_01_00_00_00.000000001", filepath.Join(vol, "..data")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tls.crt", "tls.key", "ca.crt"} {
		if err := os.Symlink(filepath.Join("..data", f), filepath.Join(vol, f)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{CertFile: filepath.Join(vol, "tls.crt"), KeyFile: filepath.Join(vol, "tls.key"), ClientCAFile: filepath.Join(vol, "ca.crt")}
	r := newReloader(t, cfg, nil)

	// The swap under test reloads certificate, key and client CA together.
	testWatchSwap(t, r, dc, next, func(t *testing.T, _, next DevCerts) {
		populate("..2026_01_02_00_00_00.000000002", next)
		if err := os.Symlink("..2026_01_02_00_00_00.000000002", filepath.Join(vol, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(vol, "..data_tmp"), filepath.Join(vol, "..data")); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Join(vol, "..2026_01_01_00_00_00.000000001")); err != nil {
			t.Fatal(err)
		}
	})
}

// testWatchSwap serves r, runs Watch, swaps dc's pair for next's with swap,
// waits for the reload and checks a new connection sees next's certificate
// (and, with mutual TLS, that next's client is now the accepted one).
func testWatchSwap(t *testing.T, r *Reloader, dc, next DevCerts, swap swapFunc) {
	t.Helper()
	addr := serveHTTPS(t, r)
	var clientOf = func(d DevCerts) (string, string) { return "", "" }
	if r.cfg.MutualTLS() {
		clientOf = func(d DevCerts) (string, string) { return d.ClientCertFile, d.ClientKeyFile }
	}
	cc, ck := clientOf(dc)
	client := clientTLS(t, []string{dc.CAFile, next.CAFile}, cc, ck)
	oldSerial, newSerial := leafSerial(t, dc.ServerCertFile), leafSerial(t, next.ServerCertFile)
	if got := mustFetch(t, addr, client); got.serial.Cmp(oldSerial) != 0 {
		t.Fatalf("before swap: serial %x", got.serial)
	}

	startWatch(t, r)
	gen := r.Generation()
	swap(t, dc, next)
	if err := r.WaitForGeneration(waitCtx(t), gen+1); err != nil {
		t.Fatalf("waiting for the reload: %v (status %+v)", err, r.Status())
	}
	cc, ck = clientOf(next)
	client = clientTLS(t, []string{dc.CAFile, next.CAFile}, cc, ck)
	if got := mustFetch(t, addr, client); got.serial.Cmp(newSerial) != 0 {
		t.Errorf("after swap a new connection got serial %x, want %x", got.serial, newSerial)
	}
}

func TestWatchKeepsOldCertificateOnBrokenReplacement(t *testing.T) {
	dc := writeDev(t)
	next := writeDev(t)
	logs := newLockedBuffer()
	r := newReloader(t, Config{CertFile: dc.ServerCertFile, KeyFile: dc.ServerKeyFile}, testLoggerTo(t, logs))
	addr := serveHTTPS(t, r)
	client := clientTLS(t, []string{dc.CAFile, next.CAFile}, "", "")
	oldSerial := leafSerial(t, dc.ServerCertFile)
	startWatch(t, r)

	replaceFile(t, dc.ServerCertFile, []byte("not a certificate\n"))
	if err := r.waitFor(waitCtx(t), func(s Status) bool { return s.Failures >= 1 }); err != nil {
		t.Fatalf("waiting for the failed reload: %v", err)
	}
	logs.waitFor(t, "tls reload failed; still serving the previous certificate")
	if got := mustFetch(t, addr, client); got.serial.Cmp(oldSerial) != 0 {
		t.Errorf("after a broken replacement: serial %x, want the old %x", got.serial, oldSerial)
	}

	// Fixing the files recovers without any further action.
	gen := r.Generation()
	copyFile(t, next.ServerKeyFile, dc.ServerKeyFile)
	copyFile(t, next.ServerCertFile, dc.ServerCertFile)
	if err := r.WaitForGeneration(waitCtx(t), gen+1); err != nil {
		t.Fatalf("waiting for the repaired reload: %v (status %+v)", err, r.Status())
	}
	if got := mustFetch(t, addr, client); got.serial.Cmp(leafSerial(t, next.ServerCertFile)) != 0 {
		t.Errorf("after repair: serial %x", got.serial)
	}
	if st := r.Status(); st.LastError != nil {
		t.Errorf("LastError after repair = %v", st.LastError)
	}
}

func TestWatchLifecycle(t *testing.T) {
	dc := writeDev(t)
	r := newReloader(t, Config{CertFile: dc.ServerCertFile, KeyFile: dc.ServerKeyFile}, nil)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Watch(ctx) }()
	select {
	case <-r.armed:
	case <-time.After(waitTimeout):
		t.Fatal("Watch did not arm")
	}
	if err := r.Watch(context.Background()); err == nil {
		t.Error("a second concurrent Watch started")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Watch after cancel = %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Watch did not stop on cancel")
	}

	// Watch can run again, and Close stops it.
	done = make(chan error, 1)
	go func() { done <- r.Watch(context.Background()) }()
	r.Close()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Watch after Close = %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Watch did not stop on Close")
	}
	if err := r.Watch(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Watch on a closed Reloader = %v, want ErrClosed", err)
	}
}

func TestWatchFailsOnMissingDirectory(t *testing.T) {
	dc := writeDev(t)
	r := newReloader(t, Config{CertFile: dc.ServerCertFile, KeyFile: dc.ServerKeyFile}, nil)
	// Point the reloader at a directory that vanished after New.
	r.cfg.ClientCAFile = filepath.Join(t.TempDir(), "gone", "ca.crt")
	if err := r.Watch(context.Background()); err == nil {
		t.Fatal("Watch of a missing directory succeeded")
	}
}

func TestWaitForGeneration(t *testing.T) {
	dc := writeDev(t)
	r := newReloader(t, Config{CertFile: dc.ServerCertFile, KeyFile: dc.ServerKeyFile}, nil)
	if err := r.WaitForGeneration(context.Background(), 1); err != nil {
		t.Errorf("waiting for the current generation: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.WaitForGeneration(ctx, 2); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitForGeneration with a cancelled ctx = %v", err)
	}
	r.Close()
	if err := r.WaitForGeneration(context.Background(), 2); !errors.Is(err, ErrClosed) {
		t.Errorf("WaitForGeneration after Close = %v", err)
	}
}
