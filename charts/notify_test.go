package charts_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// Each notification channel with an existing Secret gets the URL key mounted
// read-only as a file and ROLLOUTD_NOTIFY_<CHANNEL>_URL_FILE pointing at it; a
// channel without a Secret gets neither, and no URL is ever rendered.
func TestNotificationSecretsAreMountedAsFiles(t *testing.T) {
	h := newHelm(t)
	objs := h.render(t, "rolloutd", "ns", "--set", "notifications.slack.existingSecret=chat-hooks",
		"--set", "notifications.webhook.existingSecret=release-hook", "--set", "notifications.webhook.secretKey=endpoint",
		"--set", "webhook.enabled=false")
	var d appsv1.Deployment
	decodeStrict(t, byKind(objs, "Deployment")[0], &d)
	spec, c := d.Spec.Template.Spec, d.Spec.Template.Spec.Containers[0]
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	cases := []struct {
		channel, secret, key, variable string
	}{
		{"slack", "chat-hooks", "url", "ROLLOUTD_NOTIFY_SLACK_URL_FILE"},
		{"webhook", "release-hook", "endpoint", "ROLLOUTD_NOTIFY_WEBHOOK_URL_FILE"},
	}
	for _, tc := range cases {
		vol, mount := volumeNamed(spec, c, "notify-"+tc.channel)
		if vol == nil || vol.Secret == nil || mount == nil {
			t.Fatalf("%s: volumes %+v mounts %+v", tc.channel, spec.Volumes, c.VolumeMounts)
		}
		if vol.Secret.SecretName != tc.secret || len(vol.Secret.Items) != 1 || vol.Secret.Items[0].Key != tc.key {
			t.Errorf("%s: Secret volume %+v, want %s key %s", tc.channel, vol.Secret, tc.secret, tc.key)
		}
		if vol.Secret.DefaultMode == nil || *vol.Secret.DefaultMode&0o077 != 0 || !mount.ReadOnly {
			t.Errorf("%s: file readable by others or mount writable", tc.channel)
		}
		if want := mount.MountPath + "/" + tc.key; env[tc.variable] != want {
			t.Errorf("%s = %q, want the mounted file %q", tc.variable, env[tc.variable], want)
		}
	}
	if _, ok := env["ROLLOUTD_NOTIFY_TEAMS_URL_FILE"]; ok {
		t.Error("teams has no Secret but its variable is set")
	}
	if len(spec.Volumes) != 2 {
		t.Errorf("volumes %+v, want only the two notification Secrets", spec.Volumes)
	}
	if env["ROLLOUTD_NOTIFY_TIMEOUT"] != "5s" || env["ROLLOUTD_NOTIFY_QUEUE_SIZE"] != "256" {
		t.Errorf("timeout %q queue %q, want the defaults", env["ROLLOUTD_NOTIFY_TIMEOUT"], env["ROLLOUTD_NOTIFY_QUEUE_SIZE"])
	}
}
