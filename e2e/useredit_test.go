//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/rolloutd/rolloutd/e2e/framework"
	"github.com/rolloutd/rolloutd/strategy/contract"
)

// Given an opted-in Deployment releasing one version, when the user changes the
// template again while that release is progressing, promoting or rolling back, then
// the newest template is the one analysed and it decides the outcome, and no
// template reaches the stable pods before its own analysis passed.
func TestFaultUserEditsMidRolloutNewestTemplateWins(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		firstBad    bool
		editAt      contract.Phase
		secondBad   bool
		want        contract.Phase
		wantImages  []string // images of the stable's new ReplicaSets, in order
		allowImages []string // images the stable may also have run
	}{
		{name: "during the rollout", editAt: contract.Progressing, want: contract.Succeeded,
			wantImages: []string{"example.com/web:v3"}},
		{name: "during promotion", editAt: contract.Promoting, secondBad: true, want: contract.RolledBack,
			allowImages: []string{"example.com/web:v2"}},
		{name: "during rollback", firstBad: true, editAt: contract.RollingBack, want: contract.Succeeded,
			wantImages: []string{"example.com/web:v3"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, ns := watchedScenario(t)
			a := faultApp("web", "nginx")
			a.create(t, env.Kube, ns)
			sw := watchStable(t, env.Kube, ns)
			second := "example.com/web:v3"
			if tc.secondBad {
				second += "-bad"
			}

			require.NoError(t, releasePatch(t.Context(), env.Kube, ns, a.name, "example.com/web:v2", tc.firstBad))
			releaseAtPhase(t, env.Kube, ns, a.name, tc.editAt, second, tc.secondBad)

			var st contract.Status
			framework.Eventually(t, rolloutTimeout, "the second release settled", func() (bool, error) {
				var done bool
				var err error
				st, done, err = settledFor(t.Context(), env.Kube, ns, a.name)
				return done, err
			})
			require.Equal(t, tc.want, st.Phase, st.Message)
			requireInvariants(t, env.Kube, ns)
			sw.requireOnlyVetted(t)
			images := sw.stableImages(a.name)
			if tc.wantImages != nil {
				assert.Equal(t, tc.wantImages, images, "images the stable pods ran")
			}
			for _, img := range images {
				assert.Contains(t, append([]string{second}, tc.allowImages...), img, "only vetted images reach the stable pods")
				assert.NotContains(t, img, "-bad")
			}
		})
	}
}

// releaseAtPhase watches name and releases image the moment its status shows phase
// with the canary carrying traffic or being promoted.
func releaseAtPhase(t *testing.T, kube kubernetes.Interface, ns, name string, phase contract.Phase, image string, bad bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	w, err := kube.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	require.NoError(t, err)
	defer w.Stop()
	var last contract.Status
	for ev := range w.ResultChan() {
		d, ok := ev.Object.(*appsv1.Deployment)
		if !ok {
			continue
		}
		st, err := contract.Read(d.Annotations)
		require.NoError(t, err)
		last = st
		if st.Phase == phase && (phase != contract.Progressing || st.Weight > 0) {
			require.NoError(t, releasePatch(ctx, kube, ns, name, image, bad))
			t.Logf("released %s at %s weight %d", image, st.Phase, st.Weight)
			return
		}
	}
	t.Fatalf("%s never reached %s; last %s: %s", name, phase, last.Phase, last.Message)
}
