package tlsconf

import (
	"crypto/tls"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
)

// TestReloadServesNewCertificate is the SIGHUP path: files are replaced,
// Reload is called, and new connections get the new certificate from the
// same, never-restarted server while an open connection keeps working.
func TestReloadServesNewCertificate(t *testing.T) {
	dc := writeDev(t)
	next := writeDev(t) // a new pair: new serial, new key, issued by a second CA
	r := newReloader(t, Config{CertFile: dc.ServerCertFile, KeyFile: dc.ServerKeyFile}, nil)
	addr := serveHTTPS(t, r)
	client := clientTLS(t, []string{dc.CAFile, next.CAFile}, "", "")
	oldSerial, newSerial := leafSerial(t, dc.ServerCertFile), leafSerial(t, next.ServerCertFile)

	// A keep-alive connection opened before the reload.
	kept := &http.Transport{TLSClientConfig: client.Clone(), ForceAttemptHTTP2: true}
	defer kept.CloseIdleConnections()
	if got, err := fetchWith(kept, addr); err != nil || got.serial.Cmp(oldSerial) != 0 {
		t.Fatalf("before reload: %+v, %v", got, err)
	}

	copyFile(t, next.ServerCertFile, dc.ServerCertFile)
	copyFile(t, next.ServerKeyFile, dc.ServerKeyFile)
	// Files changed but nothing reloaded yet: still the old certificate.
	if got := mustFetch(t, addr, client); got.serial.Cmp(oldSerial) != 0 {
		t.Fatalf("certificate changed before Reload: serial %x", got.serial)
	}
	if err := r.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if g := r.Generation(); g != 2 {
		t.Errorf("Generation = %d after one reload, want 2", g)
	}
	got := mustFetch(t, addr, client)
	if got.serial.Cmp(newSerial) != 0 {
		t.Errorf("new connection got serial %x, want the new %x", got.serial, newSerial)
	}
	if got.cn != "akidb-dev-server" {
		t.Errorf("CN %q", got.cn)
	}
	if st := r.Status(); st.Leaf.SerialNumber.Cmp(newSerial) != 0 {
		t.Errorf("Status().Leaf serial %x", st.Leaf.SerialNumber)
	}
	// The connection from before the reload is untouched.
	if got, err := fetchWith(kept, addr); err != nil || got.serial.Cmp(oldSerial) != 0 {
		t.Errorf("kept connection after reload: %+v, %v", got, err)
	}
}

func TestReloadUnchangedFilesKeepsGeneration(t *testing.T) {
	dc := writeDev(t)
	r := newReloader(t, Config{CertFile: dc.ServerCertFile, KeyFile: dc.ServerKeyFile, ClientCAFile: dc.CAFile}, nil)
	for range 3 {
		if err := r.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	if st := r.Status(); st.Generation != 1 || st.Failures != 0 || st.LastError != nil {
		t.Errorf("Status after reloading unchanged files = %+v", st)
	}
}

func TestFailedReloadKeepsServingOldCertificate(t *testing.T) {
	dc := writeDev(t)
	next := writeDev(t)
	logs := newLockedBuffer()
	r := newReloader(t, Config{CertFile: dc.ServerCertFile, KeyFile: dc.ServerKeyFile}, testLoggerTo(t, logs))
	addr := serveHTTPS(t, r)
	client := clientTLS(t, []string{dc.CAFile, next.CAFile}, "", "")
	oldSerial := leafSerial(t, dc.ServerCertFile)
	goodCert, err := os.ReadFile(dc.ServerCertFile)
	if err != nil {
		t.Fatal(err)
	}

	for i, tc := range []struct {
		name     string
		break_   func()
		want     string
		notExist bool
	}{
		{"bad PEM", func() { replaceFile(t, dc.ServerCertFile, []byte("-----BEGIN CERTIFICATE-----\nbroken\n")) },
			"tls: load certificate " + dc.ServerCertFile, false},
		{"key mismatch", func() { copyFile(t, next.ServerCertFile, dc.ServerCertFile) },
			"private key does not match public key", false},
		{"cert removed", func() {
			if err := os.Remove(dc.ServerCertFile); err != nil {
				t.Fatal(err)
			}
		}, "tls: load certificate " + dc.ServerCertFile, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.break_()
			err := r.Reload()
			if err == nil {
				t.Fatal("Reload of broken files succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) || errors.Is(err, fs.ErrNotExist) != tc.notExist {
				t.Errorf("Reload error = %v, want %q (not-exist %v)", err, tc.want, tc.notExist)
			}
			st := r.Status()
			if st.Generation != 1 || st.Failures != uint64(i+1) || st.LastError == nil || st.LastError.Error() != err.Error() {
				t.Errorf("Status = %+v", st)
			}
			if got := mustFetch(t, addr, client); got.serial.Cmp(oldSerial) != 0 {
				t.Errorf("after a failed reload the server presents serial %x, want the old %x", got.serial, oldSerial)
			}
			if !strings.Contains(logs.String(), "tls reload failed; still serving the previous certificate") {
				t.Errorf("failure not logged:\n%s", logs)
			}
			replaceFile(t, dc.ServerCertFile, goodCert)
		})
	}

	// Once the files are good again a reload succeeds and clears the error.
	// They are byte-identical to what is served, so no new generation.
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if st := r.Status(); st.LastError != nil || st.Generation != 1 {
		t.Errorf("Status after repair = %+v", st)
	}
}

// TestReloadClientCABundle swaps the client CA bundle: clients of the old CA
// are refused and clients of the new one accepted, without a restart.
func TestReloadClientCABundle(t *testing.T) {
	dc := writeDev(t)
	next := writeDev(t)
	r := newReloader(t, Config{CertFile: dc.ServerCertFile, KeyFile: dc.ServerKeyFile, ClientCAFile: dc.CAFile}, nil)
	addr := serveHTTPS(t, r)
	oldClient := clientTLS(t, []string{dc.CAFile}, dc.ClientCertFile, dc.ClientKeyFile)
	newClient := clientTLS(t, []string{dc.CAFile}, next.ClientCertFile, next.ClientKeyFile)

	// Resumption must not let the old CA's client back in after the swap.
	oldClient.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	mustFetch(t, addr, oldClient)
	if got := mustFetch(t, addr, oldClient); !got.resumed {
		t.Fatal("second connection did not resume; the resumption check below would prove nothing")
	}
	if _, err := fetchNew(addr, newClient); err == nil {
		t.Fatal("client of the second CA accepted before the bundle changed")
	}

	copyFile(t, next.CAFile, dc.CAFile)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := mustFetch(t, addr, newClient); got.body != DevClientCommonName {
		t.Errorf("new CA's client: server saw %q", got.body)
	}
	if _, err := fetchNew(addr, oldClient); err == nil {
		t.Error("client of the removed CA still accepted (resumed session?)")
	}
}

// TestReloadUnderLoad reloads repeatedly between two certificates while
// clients connect; every handshake must succeed with one of the two.
// Mostly a target for -race.
func TestReloadUnderLoad(t *testing.T) {
	a := writeDev(t)
	b := writeDev(t)
	r := newReloader(t, Config{CertFile: a.ServerCertFile, KeyFile: a.ServerKeyFile}, testLoggerTo(t, newLockedBuffer()))
	addr := serveHTTPS(t, r)
	client := clientTLS(t, []string{a.CAFile, b.CAFile}, "", "")
	serials := map[string]bool{leafSerial(t, a.ServerCertFile).String(): true, leafSerial(t, b.ServerCertFile).String(): true}
	pairs := [2][2][]byte{}
	for i, dc := range []DevCerts{a, b} {
		for j, f := range []string{dc.ServerCertFile, dc.ServerKeyFile} {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			pairs[i][j] = data
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, err := fetchNew(addr, client)
				if err == nil && !serials[got.serial.String()] {
					err = errors.New("unexpected serial " + got.serial.String())
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	const reloads = 20
	for i := range reloads {
		p := pairs[(i+1)%2]
		replaceFile(t, a.ServerCertFile, p[0])
		replaceFile(t, a.ServerKeyFile, p[1])
		if err := r.Reload(); err != nil {
			t.Errorf("reload %d: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("client during reloads: %v", err)
	}
	if g := r.Generation(); g != reloads+1 {
		t.Errorf("Generation = %d, want %d", g, reloads+1)
	}
}
