package charts_test

import (
	"strings"
	"testing"
)

// TestRejectedValues: wrong types, unknown keys and settings that cannot work
// together fail the render with a message naming the key.
func TestRejectedValues(t *testing.T) {
	h := newHelm(t)
	for _, tc := range []struct {
		name string
		args []string
		want []string // all must appear in helm's error output
	}{
		{"replicaCount not a number", []string{"--set", "replicaCount=abc"},
			[]string{"at '/replicaCount'", "got string, want integer"}},
		{"replicaCount zero", []string{"--set", "replicaCount=0"},
			[]string{"at '/replicaCount'", "minimum"}},
		{"unknown top-level key", []string{"--set", "replicas=3"},
			[]string{"additional properties 'replicas' not allowed"}},
		{"unknown nested key", []string{"--set", "config.logLevl=debug"},
			[]string{"at '/config'", "additional properties 'logLevl' not allowed"}},
		{"log level outside the enum", []string{"--set", "config.logLevel=verbose"},
			[]string{"at '/config/logLevel'", "'debug', 'info', 'warn', 'error'"}},
		{"duration without a unit", []string{"--set", "config.queryTimeout=5"},
			[]string{"at '/config/queryTimeout'", "got number, want string"}},
		{"malformed duration", []string{"--set", "leaderElection.leaseDuration=fifteen"},
			[]string{"at '/leaderElection/leaseDuration'", "does not match pattern"}},
		{"namespaces not a list", []string{"--set", "watchNamespaces=team-a"},
			[]string{"at '/watchNamespaces'", "got string, want array"}},
		{"namespace not a DNS label", []string{"--set", "watchNamespaces[0]=Team_A"},
			[]string{"at '/watchNamespaces/0'", "does not match pattern"}},
		{"notification Secret not a DNS name", []string{"--set", "notifications.slack.existingSecret=Slack_Hook"},
			[]string{"at '/notifications/slack/existingSecret'", "does not match pattern"}},
		{"notification URL given inline", []string{"--set", "notifications.teams.url=https://example.com/hook"},
			[]string{"at '/notifications/teams'", "additional properties 'url' not allowed"}},
		{"notification queue empty", []string{"--set", "notifications.queueSize=0"},
			[]string{"at '/notifications/queueSize'", "minimum"}},
		{"boolean as a string", []string{"--set-string", "serviceMonitor.enabled=yes"},
			[]string{"at '/serviceMonitor/enabled'", "got string, want boolean"}},
		{"label value not a string", []string{"--set-json", `podLabels={"tier":1}`},
			[]string{"at '/podLabels/tier'", "got number, want string"}},
		{"unknown securityContext field", []string{"--set", "securityContext.privilegd=false"},
			[]string{"additional properties 'privilegd' not allowed"}},
		{"prometheus URL without scheme", []string{"--set", "prometheus.url=prometheus:9090"},
			[]string{"at '/prometheus/url'", "does not match pattern"}},
		{"replicas without leader election", []string{"--set", "leaderElection.enabled=false"},
			[]string{"replicaCount > 1 needs leaderElection.enabled=true"}},
		{"kubernetes older than kubeVersion", []string{"--kube-version", "1.27.0"},
			[]string{"chart requires kubeVersion: >=1.28.0-0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// --kube-version may be given twice; the last one wins.
			args := append([]string{"template", "rolloutd", chartDir, "--kube-version", minKubeVersion}, tc.args...)
			out, err := h.run(args...)
			if err == nil {
				t.Fatalf("helm %v succeeded, want an error; rendered %d bytes", tc.args, len(out))
			}
			msg := stderrOf(err)
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error for %v does not contain %q:\n%s", tc.args, w, msg)
				}
			}
		})
	}
}
