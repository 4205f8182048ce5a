package tlsconf

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchDebounce is how long Watch waits after the last relevant event before
// reloading. Replacing a pair of files is several events (write cert, write
// key, renames); waiting for them to settle avoids reloading between the two
// halves of a pair. A reload that still lands in between fails harmlessly and
// the next event retries.
const watchDebounce = 100 * time.Millisecond

// k8sDataLink is the symlink Kubernetes' atomic writer swaps (by rename) when
// a mounted Secret or ConfigMap changes; the visible files are symlinks
// through it and get no events of their own.
const k8sDataLink = "..data"

// Watch reloads the material whenever the certificate, key or client CA file
// changes, until ctx ends or Close is called (both return nil; a Watch
// started after Close returns ErrClosed at once). It watches
// the directories holding the files, so it sees files replaced by rename
// (editors, cert-manager, `mv`), rewritten in place, and Kubernetes secret
// volume updates. After its watches are in place it reloads once, to pick up
// changes made since New. Failed reloads are logged and counted in Status;
// they do not stop the watch. Only one Watch may run at a time.
func (r *Reloader) Watch(ctx context.Context) error {
	select {
	case <-r.closed:
		return ErrClosed
	default:
	}
	if !r.watching.CompareAndSwap(false, true) {
		return errors.New("tls: Watch is already running")
	}
	defer r.watching.Store(false)

	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("tls: start file watcher: %w", err)
	}
	defer w.Close()

	names := r.watchedNames()
	for dir := range names {
		if err := w.Add(dir); err != nil {
			return fmt.Errorf("tls: watch directory %s: %w", dir, err)
		}
		r.logger.Debug("tls watching directory", "dir", dir)
	}
	_ = r.Reload() // already logged and counted
	r.armedOnce.Do(func() { close(r.armed) })

	debounce := time.NewTimer(watchDebounce)
	debounce.Stop()
	defer debounce.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.closed:
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if relevant(names, ev) {
				r.logger.Debug("tls file event", "event", ev.String())
				debounce.Reset(watchDebounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			r.logger.Warn("tls file watcher error", "err", err)
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				// Events were lost; one of them may have been ours.
				debounce.Reset(watchDebounce)
			}
		case <-debounce.C:
			_ = r.Reload()
		}
	}
}

// watchedNames maps each directory to watch to the file names in it that
// matter.
func (r *Reloader) watchedNames() map[string]map[string]bool {
	names := map[string]map[string]bool{}
	for _, f := range []string{r.cfg.CertFile, r.cfg.KeyFile, r.cfg.ClientCAFile} {
		if f == "" {
			continue
		}
		dir, base := filepath.Dir(filepath.Clean(f)), filepath.Base(f)
		if names[dir] == nil {
			names[dir] = map[string]bool{k8sDataLink: true}
		}
		names[dir][base] = true
	}
	return names
}

// relevant reports whether ev may have changed one of the watched files.
// Chmod alone never changes contents.
func relevant(names map[string]map[string]bool, ev fsnotify.Event) bool {
	if !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Write) && !ev.Has(fsnotify.Rename) && !ev.Has(fsnotify.Remove) {
		return false
	}
	return names[filepath.Dir(ev.Name)][filepath.Base(ev.Name)]
}
