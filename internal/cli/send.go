package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/rolloutd/rolloutd/internal/workload"
	"github.com/rolloutd/rolloutd/strategy/contract"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// errAlreadyPending means the same request is already waiting for the daemon.
var errAlreadyPending = errors.New("already pending")

// builder checks that a verb makes sense for the rollout as read and returns the
// command to write.
type builder func(r rollout) (contract.Command, error)

// send writes the command build returns into the command annotation of the named
// Deployment, and returns what it wrote. The patch carries the resourceVersion the
// command was checked against, so a concurrent change (the daemon consuming a
// command, another operator writing one) makes it fail with a conflict, and the
// checks run again on the fresh object.
func send(ctx context.Context, cs kubernetes.Interface, ns, name string, build builder) (contract.Command, error) {
	var cmd contract.Command
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		r, err := getRollout(ctx, cs, ns, name)
		if err != nil {
			return err
		}
		if cmd, err = build(r); err != nil {
			return err
		}
		if p, has := contract.Decode(r.d.Annotations); has {
			if sameRequest(p, cmd) {
				return errAlreadyPending
			}
			return fmt.Errorf("%s has a pending command (%s) that rolloutd has not applied yet; wait for it or check that rolloutd is running",
				name, describe(p))
		}
		patch, err := commandPatch(r.d.ResourceVersion, cmd)
		if err != nil {
			return err
		}
		_, err = cs.AppsV1().Deployments(ns).Patch(ctx, name, types.MergePatchType, patch, metav1PatchOptions)
		if err != nil {
			return fmt.Errorf("write %s on deployment %s/%s: %w", contract.CommandKey, ns, name, err)
		}
		return nil
	})
	return cmd, err
}

// commandPatch is the JSON merge patch that sets the command annotation, guarded by
// resourceVersion when known.
func commandPatch(resourceVersion string, cmd contract.Command) ([]byte, error) {
	raw, err := json.Marshal(cmd)
	if err != nil {
		return nil, fmt.Errorf("encode command: %w", err)
	}
	b, err := workload.AnnotationPatch(resourceVersion, contract.CommandKey, string(raw))
	if err != nil {
		return nil, fmt.Errorf("encode patch: %w", err)
	}
	return b, nil
}
