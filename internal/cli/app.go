// Package cli implements rolloutctl, the operator's command line for rolloutd: it
// shows rollouts (get, status, history) from the rolloutd.io/status annotation and
// asks the daemon to act (promote, pause, resume, abort, confirm, retry, undo) by
// writing the rolloutd.io/command annotation. It talks to the Kubernetes API only, so
// Kubernetes RBAC is the access control. It also runs as the kubectl plugin
// kubectl-rollouts.
package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// App holds what every command needs: the output streams, the kubeconfig flags and
// the clients built from them. Tests set Clientset, User and Now; the binary leaves
// them empty and the kubeconfig decides.
type App struct {
	Out, Err io.Writer
	// Terminal enables colours and in-place redraws; set when stdout is a terminal.
	Terminal bool
	// Clientset, when set, is used instead of one built from the kubeconfig.
	Clientset kubernetes.Interface
	// User, when set, is recorded as the requesting user instead of the
	// kubeconfig context's user.
	User string
	// Now is the clock for ages; time.Now when nil.
	Now func() time.Time

	flags  kubeFlags
	config clientcmd.ClientConfig
}

// kubeFlags are kubectl's connection flags.
type kubeFlags struct {
	kubeconfig string
	context    string
	namespace  string
}

func (a *App) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// clientConfig loads the kubeconfig as kubectl does: --kubeconfig, else $KUBECONFIG,
// else ~/.kube/config, else the in-cluster config; --context and -n override it.
func (a *App) clientConfig() clientcmd.ClientConfig {
	if a.config == nil {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = a.flags.kubeconfig
		overrides := &clientcmd.ConfigOverrides{CurrentContext: a.flags.context}
		overrides.Context.Namespace = a.flags.namespace
		a.config = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	}
	return a.config
}

// clients returns the clientset, built from the kubeconfig on first use.
func (a *App) clients() (kubernetes.Interface, error) {
	if a.Clientset != nil {
		return a.Clientset, nil
	}
	cfg, err := a.clientConfig().ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("build client: %w", err)
	}
	a.Clientset = cs
	return cs, nil
}

// namespace is -n, else the kubeconfig context's namespace, else "default".
func (a *App) namespace() (string, error) {
	if a.flags.namespace != "" {
		return a.flags.namespace, nil
	}
	if a.Clientset != nil && a.config == nil {
		return "default", nil
	}
	ns, _, err := a.clientConfig().Namespace()
	if err != nil {
		return "", fmt.Errorf("resolve namespace: %w", err)
	}
	return ns, nil
}

// user names the requester recorded in a command: the user of the kubeconfig
// context, else $USER. It is informational (the API server authenticates the
// write), shown in the daemon's Events and status messages.
func (a *App) user() string {
	if a.User != "" {
		return a.User
	}
	if a.Clientset == nil || a.config != nil {
		if raw, err := a.clientConfig().RawConfig(); err == nil {
			name := raw.CurrentContext
			if a.flags.context != "" {
				name = a.flags.context
			}
			if ctx, ok := raw.Contexts[name]; ok && ctx.AuthInfo != "" {
				return ctx.AuthInfo
			}
		}
	}
	return os.Getenv("USER")
}
