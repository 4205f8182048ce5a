package tier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/akidb/akidb/engine/meta"
)

// maxBackoff caps the time between two retries of one entry.
const maxBackoff = time.Hour

// DLQ is the dead-letter queue's retry worker. The queue itself is the
// tier_dlq table of the catalog: an entry survives restarts, and the file
// it uploads is kept until the entry is gone.
type DLQ struct {
	t *Tier
}

// RetryResult counts what one run did.
type RetryResult struct {
	// Attempted entries were retried (or found no longer needed).
	Attempted int `json:"attempted"`
	// Succeeded entries are gone from the queue (Obsolete of them needed
	// no upload: a newer snapshot or the manifest had made them useless).
	Succeeded int `json:"succeeded"`
	Obsolete  int `json:"obsolete"`
	// Failed entries were rescheduled; Permanent of them reached the
	// maximum number of retries.
	Failed    int `json:"failed"`
	Permanent int `json:"permanent"`
	// Deferred entries were not tried: the circuit breaker is open. They
	// are rescheduled without counting a retry.
	Deferred int `json:"deferred"`
}

func (r *RetryResult) add(o outcome) {
	r.Attempted++
	switch o {
	case outcomeSuccess:
		r.Succeeded++
	case outcomeObsolete:
		r.Succeeded++
		r.Obsolete++
	case outcomeFailure:
		r.Failed++
	case outcomePermanent:
		r.Failed++
		r.Permanent++
	case outcomeDeferred:
		r.Attempted--
		r.Deferred++
	}
}

// RunOnce retries the oldest due pending entries, at most DLQBatch of
// them: an entry that succeeds is removed; one that fails has its retry
// count raised and its next attempt put off (exponential back-off with
// jitter), and turns permanent at DLQMaxRetries. Permanent entries are not
// retried here. With the circuit breaker open, entries are put off
// without counting a retry.
func (d *DLQ) RunOnce(ctx context.Context) (RetryResult, error) {
	return d.run(ctx, false)
}

// RetryPending is RunOnce without the schedule: the oldest pending
// entries, due or not (POST /admin/dlq/retry).
func (d *DLQ) RetryPending(ctx context.Context) (RetryResult, error) {
	return d.run(ctx, true)
}

func (d *DLQ) run(ctx context.Context, anyTime bool) (RetryResult, error) {
	var res RetryResult
	entries, err := d.t.meta.DueDLQEntries(ctx, d.t.cfg.Clock.Now(), d.t.cfg.DLQBatch, anyTime)
	if err != nil {
		return res, err
	}
	for _, e := range entries {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		// An earlier retry of this run may have removed the entry (a
		// damaged log chunk takes the chunks after it along).
		if e, err = d.t.meta.GetDLQEntry(ctx, e.ID); errors.Is(err, meta.ErrNotFound) {
			continue
		} else if err != nil {
			return res, err
		}
		o, err := d.process(ctx, e, false, func() (bool, error) { return d.t.retry(ctx, e) })
		if err != nil {
			return res, err
		}
		res.add(o)
	}
	return res, nil
}

// RetryEntry retries one entry now, pending or permanent (POST
// /admin/dlq/{id}/retry). On failure a permanent entry stays permanent.
func (d *DLQ) RetryEntry(ctx context.Context, id int64) (RetryResult, error) {
	var res RetryResult
	e, err := d.t.meta.GetDLQEntry(ctx, id)
	if err != nil {
		return res, err
	}
	o, err := d.process(ctx, e, true, func() (bool, error) { return d.t.retry(ctx, e) })
	if err != nil {
		return res, err
	}
	res.add(o)
	if o == outcomeDeferred {
		return res, ErrBreakerOpen
	}
	return res, nil
}

// Discard removes an entry without retrying it (DELETE /admin/dlq/{id}).
// A discarded upload is not shipped: a snapshot is no longer kept for it
// (the next checkpoint's snapshot ships instead), and the records of a log
// object, which the local log still holds, are cut into a new log object
// by the next pass. A discarded delete leaves the object in the store
// until the next start's sweep.
func (d *DLQ) Discard(ctx context.Context, id int64) (meta.DLQEntry, error) {
	e, err := d.t.meta.GetDLQEntry(ctx, id)
	if err != nil {
		return e, err
	}
	if c := d.t.col(e.CollectionID); c != nil && e.Operation == meta.DLQUpload {
		c.mu.Lock()
		if rel, ok := c.relKey(e.ObjectKey); ok {
			if a := c.find(rel); a != nil {
				d.t.drop(c, a, false, "discarded by an operator")
			}
		}
		c.mu.Unlock()
	} else if e.Operation == meta.DLQUpload && e.Kind != KindSnapshot && e.LocalFile != "" {
		_ = d.t.cfg.FS.Remove(e.LocalFile)
	}
	if err := d.t.meta.DeleteDLQEntry(ctx, id); err != nil {
		return e, err
	}
	d.t.log.Warn("tier: DLQ entry discarded", "dlq_id", id, "key", e.ObjectKey, "operation", e.Operation)
	return e, nil
}

type outcome int

const (
	outcomeSuccess outcome = iota
	outcomeObsolete
	outcomeFailure
	outcomePermanent
	outcomeDeferred
)

// process retries one entry (with retry) and records the outcome in the
// queue. The error is the catalog's; the retry's own failure is an
// outcome. A failure that leaves the breaker open (it tripped it, or it
// was the half-open probe) says the store is down, not that this entry is
// bad: like a retry the open breaker refused, it is put off without being
// counted, so an outage does not turn entries permanent.
func (d *DLQ) process(ctx context.Context, e meta.DLQEntry, operator bool, retry func() (bool, error)) (outcome, error) {
	t := d.t
	obsolete, err := retry()
	now := t.cfg.Clock.Now()
	damaged := errors.Is(err, ErrStagedFileDamaged)
	if err != nil && !damaged && !errors.Is(err, ErrBreakerOpen) && ctx.Err() == nil && t.breaker.Status().State != BreakerClosed {
		err = fmt.Errorf("%w (the store is failing: %w)", ErrBreakerOpen, err)
	}
	switch {
	case err == nil:
		if derr := t.meta.DeleteDLQEntry(context.WithoutCancel(ctx), e.ID); derr != nil && !errors.Is(derr, meta.ErrNotFound) {
			return 0, derr
		}
		if obsolete {
			t.cfg.Observer.DLQRetry("success")
			return outcomeObsolete, nil
		}
		t.log.Info("tier: DLQ entry retried successfully", "dlq_id", e.ID, "key", e.ObjectKey, "retries", e.RetryCount+1)
		t.cfg.Observer.DLQRetry("success")
		return outcomeSuccess, nil
	case errors.Is(err, ErrBreakerOpen):
		next := now.Add(t.cfg.DLQRetryInterval)
		if st := t.breaker.Status(); st.OpenUntil.After(now) {
			next = st.OpenUntil
		}
		last := e.LastError
		if !errors.Is(err, ErrBreakerOpen) || err.Error() != ErrBreakerOpen.Error() {
			last = err.Error()
		}
		if uerr := t.meta.UpdateDLQAttempt(context.WithoutCancel(ctx), e.ID, e.RetryCount, last, next, e.Status); uerr != nil {
			return 0, uerr
		}
		return outcomeDeferred, nil
	case ctx.Err() != nil:
		return 0, ctx.Err()
	}
	rc := e.RetryCount + 1
	status := e.Status
	if rc >= t.cfg.DLQMaxRetries || damaged {
		// A damaged file that recoverDamaged could not resolve does not
		// mend by waiting: an operator is told at once.
		status = meta.DLQPermanent
	}
	next := now.Add(d.backoff(rc))
	if uerr := t.meta.UpdateDLQAttempt(context.WithoutCancel(ctx), e.ID, rc, err.Error(), next, status); uerr != nil {
		return 0, uerr
	}
	if status == meta.DLQPermanent {
		t.log.Warn("tier: DLQ entry is permanent; an operator must retry or discard it", "dlq_id", e.ID, "key", e.ObjectKey,
			"operation", e.Operation, "retries", rc, "err", err, "by_operator", operator)
		t.cfg.Observer.DLQRetry("permanent_failure")
		return outcomePermanent, nil
	}
	t.log.Info("tier: DLQ retry failed", "dlq_id", e.ID, "key", e.ObjectKey, "retries", rc, "next_attempt", next, "err", err)
	t.cfg.Observer.DLQRetry("failure")
	return outcomeFailure, nil
}

// backoff is the wait after the n-th failed retry: DLQRetryInterval
// doubled per retry, capped at an hour, with "equal jitter" (half fixed,
// half random) so that entries that failed together do not retry
// together.
func (d *DLQ) backoff(n int) time.Duration {
	b := d.t.cfg.DLQRetryInterval
	for i := 1; i < n && b < maxBackoff; i++ {
		b *= 2
	}
	b = min(b, maxBackoff)
	return b/2 + time.Duration(d.t.cfg.Jitter()*float64(b/2))
}

// retry does an entry's operation again. obsolete means the entry needs
// no operation any more (a newer snapshot or the manifest made it useless,
// or its collection is no longer shipped).
func (t *Tier) retry(ctx context.Context, e meta.DLQEntry) (obsolete bool, err error) {
	if e.Operation == meta.DLQDelete {
		return false, t.call(ctx, smallCallTimeout, func(ctx context.Context) error { return t.store.Delete(ctx, e.ObjectKey) })
	}
	c := t.col(e.CollectionID)
	if c == nil {
		// Not shipped any more (its policy went back to memory): drop the
		// tier's own staged copy with the entry.
		if e.Kind != KindSnapshot && e.LocalFile != "" {
			_ = t.cfg.FS.Remove(e.LocalFile)
		}
		return true, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return t.retryLocked(ctx, c, e)
}

// retryLocked is retry of an upload of c, with c.mu held.
func (t *Tier) retryLocked(ctx context.Context, c *colState, e meta.DLQEntry) (obsolete bool, err error) {
	if c.removed {
		return true, nil
	}
	rel, ok := c.relKey(e.ObjectKey)
	if !ok {
		return true, nil
	}
	a := c.find(rel)
	if a == nil {
		a = artifactFromEntry(c, e)
		c.queue = append(c.queue, a)
		c.sortQueue()
		c.updateHolds()
	}
	if why := c.obsolete(a); why != "" {
		t.drop(c, a, false, why)
		return true, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel)
	defer stop()
	if err := t.upload(ctx, c, a); errors.Is(err, ErrStagedFileDamaged) {
		// Missing, empty or cut short (a power cut before staged files
		// were fsynced, a disk that lost it): never shipped as it is.
		return t.recoverDamaged(c, a, err)
	} else if err != nil {
		return false, err
	}
	a.state = confirmed
	a.dlqID = 0
	if c.remoteChecked {
		if err := t.advance(ctx, c); err != nil {
			t.log.Warn("tier: manifest not advanced after a retried upload; the next pass does it", "collection", c.info.Name, "err", err)
		}
	}
	c.updateHolds()
	return false, nil
}

// obsolete says why an artifact is no longer needed, or "".
func (c *colState) obsolete(a *artifact) string {
	switch a.kind {
	case KindSnapshot, KindParquet:
		if a.last <= c.man.NewestSnapshot() {
			return "the manifest has an equal or newer snapshot"
		}
		for _, q := range c.queue {
			if q.kind == KindSnapshot && q.last > a.last {
				return "a newer snapshot is queued"
			}
		}
	case KindLog:
		if c.man != nil && a.last <= c.man.ShippedSeq && (len(c.man.Snapshots) == 0 || a.last <= c.man.Snapshots[0].LastSeq) {
			return "the manifest already reaches past it"
		}
	}
	return ""
}

// retryDueLog retries c's queued log object from the ship pass when its
// entry is due, so that shipping resumes at the ship interval after an
// outage instead of at the retry worker's next run. It goes through the
// same bookkeeping as the worker (counts, back-off, metrics).
func (t *Tier) retryDueLog(ctx context.Context, c *colState) {
	for _, a := range c.queue {
		if a.kind != KindLog || a.state != queued || a.dlqID == 0 {
			continue
		}
		e, err := t.meta.GetDLQEntry(ctx, a.dlqID)
		if err != nil || e.Status != meta.DLQPending || e.NextAttemptAt.After(t.cfg.Clock.Now()) {
			return
		}
		if t.breaker.State() == BreakerOpen {
			return // no call: the breaker would refuse it
		}
		if _, err := t.dlq.process(ctx, e, false, func() (bool, error) { return t.retryLocked(ctx, c, e) }); err != nil {
			t.log.Warn("tier: recording a retry failed", "dlq_id", e.ID, "err", err)
		}
		return
	}
}
