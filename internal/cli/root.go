package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	ExitOK     = 0
	ExitFailed = 1 // status: the rollout was rolled back or aborted
	ExitError  = 2 // any error, including a status timeout
)

// exitError carries a non-error exit code (status: rolled back) with its message.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// DisplayName is how the program is shown in help: "kubectl rollouts" when it runs
// as the kubectl plugin kubectl-rollouts, else the binary's name.
func DisplayName(argv0 string) string {
	base := filepath.Base(argv0)
	base = strings.TrimSuffix(base, ".exe")
	if strings.HasPrefix(base, "kubectl-") {
		return "kubectl " + strings.ReplaceAll(strings.TrimPrefix(base, "kubectl-"), "_", "-")
	}
	if base == "" || base == "." || base == "/" {
		return "rolloutctl"
	}
	return base
}

// Execute runs the command line args (without argv[0]) and returns the exit code.
// Errors are printed as one line on a.Err, prefixed "rolloutctl: ".
func Execute(ctx context.Context, a *App, name string, args []string) int {
	root := NewRootCommand(a, name)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(a.Out, ee.msg)
		}
		return ee.code
	}
	fmt.Fprintln(a.Err, "rolloutctl: "+oneLine(err.Error()))
	return ExitError
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// NewRootCommand builds the command tree; name is the display name for help text.
func NewRootCommand(a *App, name string) *cobra.Command {
	root := &cobra.Command{
		Use:   "rolloutctl",
		Short: "Watch and steer rolloutd's progressive rollouts",
		Long: `Watch and steer the progressive rollouts rolloutd runs on opted-in Deployments
(annotation rolloutd.io/enabled: "true").

Every command works through the Kubernetes API only: it reads the
rolloutd.io/status annotation and writes the rolloutd.io/command annotation of the
Deployment, so Kubernetes RBAC on Deployments is the access control.

Exit codes: 0 ok; 1 the rollout was rolled back or aborted (status); 2 error or timeout.`,
		Example:       examples(name, "get", "get web -w", "status web --timeout 15m", "promote web", "history web", "undo web --to-revision 3"),
		SilenceErrors: true,
		SilenceUsage:  true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: name},
	}
	root.SetOut(a.Out)
	root.SetErr(a.Err)
	pf := root.PersistentFlags()
	pf.StringVarP(&a.flags.namespace, "namespace", "n", "", "namespace of the Deployment (default: the kubeconfig context's)")
	pf.StringVar(&a.flags.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	pf.StringVar(&a.flags.context, "context", "", "kubeconfig context to use")
	root.AddCommand(newGetCommand(a, name), newStatusCommand(a, name), newHistoryCommand(a, name))
	root.AddCommand(verbCommands(a, name)...)
	root.AddCommand(newUndoCommand(a, name))
	return root
}

// examples renders example lines for help text under the program's display name.
func examples(name string, lines ...string) string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = "  " + name + " " + l
	}
	return strings.Join(out, "\n")
}
