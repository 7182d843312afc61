package framework

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestNamespaceNameIsAFreshDNSLabel(t *testing.T) {
	dns := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	for _, test := range []string{
		"TestCanary", "TestCanary/nginx_router#01", strings.Repeat("TestVeryLongName", 10), "Test__x--y",
	} {
		a, b := namespaceName(test), namespaceName(test)
		if !dns.MatchString(a) || len(a) > 63 {
			t.Errorf("namespaceName(%q) = %q: not a DNS label", test, a)
		}
		if a == b {
			t.Errorf("namespaceName(%q) gave %q twice", test, a)
		}
	}
}

func TestPollReturnsOnceTheConditionHolds(t *testing.T) {
	calls := 0
	err := Poll(context.Background(), 5*time.Second, func() (bool, error) {
		calls++
		return calls == 3, errors.New("not yet")
	})
	if err != nil || calls != 3 {
		t.Fatalf("Poll = %v after %d calls, want nil after 3", err, calls)
	}
}

func TestPollTimeoutCarriesTheLastObservation(t *testing.T) {
	n := 0
	err := Poll(context.Background(), 500*time.Millisecond, func() (bool, error) {
		n++
		if n == 1 {
			return false, errors.New("first")
		}
		return false, errors.New("latest")
	})
	if err == nil || !strings.Contains(err.Error(), "latest") {
		t.Fatalf("Poll error = %v, want the last observation", err)
	}
}

func TestSanitizeKeepsFileNamesSafe(t *testing.T) {
	if got := sanitize("127.0.0.1:8080/x y"); got != "127_0_0_1_8080_x_y" {
		t.Fatalf("sanitize = %q", got)
	}
}
