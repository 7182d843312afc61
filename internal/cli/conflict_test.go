package cli

import (
	"context"
	"testing"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// A daemon write between rolloutctl's read and its patch makes the patch conflict;
// the checks then run again on the fresh object.
func TestConflictRechecksOnFreshObject(t *testing.T) {
	tests := []struct {
		name     string
		daemon   *contract.Status
		wantCode int
		wantErr  string
	}{
		{"still paused: written on retry", withPhase(contract.Paused), ExitOK, ""},
		{"rolled back meanwhile: refused", withPhase(contract.RolledBack), ExitError, "cannot promote web: phase is RolledBack"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset(deployment("shop/web:2.0", withPhase(contract.Paused)))
			conflicted := false
			cs.PrependReactor("patch", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
				if conflicted {
					return false, nil, nil
				}
				conflicted = true
				require.NoError(t, cs.Tracker().Update(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"},
					deployment("shop/web:2.0", tc.daemon), ns))
				return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web", nil)
			})
			res := runCLI(t, cs, "promote", "web")
			assert.Equal(t, tc.wantCode, res.code, res.err)
			assert.Contains(t, res.err, tc.wantErr)
			d, err := cs.AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
			require.NoError(t, err)
			if tc.wantCode == ExitOK {
				assert.Equal(t, `{"verb":"promote","by":"alice"}`, d.Annotations[contract.CommandKey])
			} else {
				assert.NotContains(t, d.Annotations, contract.CommandKey)
			}
		})
	}
}
