package analysis

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// generatedPodName names a pod as the API server does: the generateName base
// "<deployment>-<hash>-" cut to 58 characters, then 5 random characters.
func generatedPodName(deployment, hash string) string {
	base := deployment + "-" + hash + "-"
	if len(base) > maxGeneratedBase {
		base = base[:maxGeneratedBase]
	}
	return base + "x7k2q"
}

// Every name rolloutd accepts (up to 49 characters) and every hash length: the
// stable pattern matches exactly the stable pods, the canary pattern exactly the
// canary's, however the API server cut their names.
func TestPodPatternMatchesPodsAsTheAPIServerNamesThem(t *testing.T) {
	for n := 1; n <= 49; n++ {
		name := strings.Repeat("a", n-1) + "b"
		stable := regexp.MustCompile("^" + podPattern(name) + "$")
		canary := regexp.MustCompile("^" + podPattern(name+"-canary") + "$")
		for l := 1; l <= maxHash; l++ {
			hash := strings.Repeat("7", l)
			sp, cp := generatedPodName(name, hash), generatedPodName(name+"-canary", hash)
			assert.True(t, stable.MatchString(sp), "stable pattern %s must match %s", stable, sp)
			assert.False(t, stable.MatchString(cp), "stable pattern %s must not match canary pod %s", stable, cp)
			assert.True(t, canary.MatchString(cp), "canary pattern %s must match %s", canary, cp)
			assert.False(t, canary.MatchString(sp), "canary pattern %s must not match stable pod %s", canary, sp)
		}
	}
}

func TestPodPatternOfAShortNameKeepsTheUsualForm(t *testing.T) {
	assert.Equal(t, `web-[a-z0-9]{1,10}-[a-z0-9]{5}`, podPattern("web"))
}
