package alerts

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
)

// Given a flood of requests with wrong tokens, every one is refused with 401 before
// its body is read, and no Deployment is touched.
func TestWrongTokensInBulkAreRefusedAndChangeNothing(t *testing.T) {
	f := newFixture(t, nil, deployment("default", "web"))
	body := payload(t, alert("HighErrorRate", "fp1"))
	const n = 500
	codes := make([]int, n)
	read := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			cr := &countingReader{r: strings.NewReader(string(body))}
			req := httptest.NewRequest(http.MethodPost, Path, cr)
			req.Header.Set("Authorization", fmt.Sprintf("Bearer guess-%d", i))
			rec := httptest.NewRecorder()
			f.r.ServeHTTP(rec, req)
			codes[i], read[i] = rec.Code, cr.n
		})
	}
	wg.Wait()
	f.drain()
	for i := range n {
		assert.Equal(t, http.StatusUnauthorized, codes[i], "request %d", i)
		assert.Zero(t, read[i], "request %d: the body of an unauthenticated request is not read", i)
	}
	assert.Empty(t, f.patches(), "nothing changes")
	assert.Equal(t, float64(n), testutil.ToFloat64(f.r.requests.WithLabelValues("401")))
}

// Given an authenticated body far larger than the limit, the receiver stops reading
// near the limit (memory stays bounded), answers 413 and changes nothing.
func TestHugeBodyIsCutOffNearTheLimit(t *testing.T) {
	const limit = 64 << 10
	f := newFixture(t, func(o *Options) { o.MaxBody = limit }, deployment("default", "web"))
	head := `{"version":"4","alerts":[{"status":"firing","labels":{"namespace":"default","deployment":"web","pad":"`
	cr := &countingReader{r: io.MultiReader(strings.NewReader(head), endless('x'))}
	req := httptest.NewRequest(http.MethodPost, Path, io.LimitReader(cr, 1<<30))
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()

	f.r.ServeHTTP(rec, req)
	f.drain()

	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, rec.Body.String())
	assert.LessOrEqual(t, cr.n, int64(2*limit), "bytes read of a 1 GiB body")
	assert.Empty(t, f.patches(), "nothing changes")
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// endless is an infinite stream of one byte.
type endless byte

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(e)
	}
	return len(p), nil
}
