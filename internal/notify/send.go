package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// sender posts a body with retries.
type sender struct {
	client              http.Client
	timeout             time.Duration
	attempts            int
	backoff, maxBackoff time.Duration
	duration            *prometheus.HistogramVec
}

// permanentError is an answer that retrying cannot change (a 4xx other than 429).
type permanentError struct{ code int }

func (e permanentError) Error() string { return fmt.Sprintf("receiver answered %d", e.code) }

// send posts body to the sink's URL, retrying transport errors, timeouts, 429 and
// 5xx with exponential backoff. Errors never contain the URL.
func (s *sender) send(ctx context.Context, sink Sink, body []byte) error {
	u, err := readURL(sink.URLFile)
	if err != nil {
		return err
	}
	wait := s.backoff
	var last error
	for attempt := 1; attempt <= s.attempts; attempt++ {
		last = s.post(ctx, sink.Name, u, body)
		var perm permanentError
		if last == nil || errors.As(last, &perm) || attempt == s.attempts {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("attempt %d: %w (stopped: %w)", attempt, last, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, s.maxBackoff)
	}
	if last != nil {
		return fmt.Errorf("%s after %d attempt(s): %w", sink.Name, s.attempts, last)
	}
	return nil
}

func (s *sender) post(ctx context.Context, channel, u string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	start := time.Now()
	defer func() { s.duration.WithLabelValues(channel).Observe(time.Since(start).Seconds()) }()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return errors.New("build request: invalid URL")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return redact(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("receiver answered %d", resp.StatusCode)
	}
	return permanentError{code: resp.StatusCode}
}

// redact drops the URL (a secret) from a client error, keeping the cause.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if errors.Is(ue.Err, context.DeadlineExceeded) {
			return fmt.Errorf("post: timed out: %w", context.DeadlineExceeded)
		}
		return fmt.Errorf("post: %w", ue.Err)
	}
	return errors.New("post failed")
}
