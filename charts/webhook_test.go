package charts_test

import (
	"encoding/base64"
	"maps"
	"regexp"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

func checkTokenMount(t *testing.T, tc renderCase, spec corev1.PodSpec, c corev1.Container, env map[string]string) {
	t.Helper()
	if tc.token == "" {
		if len(spec.Volumes) != 0 || len(c.VolumeMounts) != 0 {
			t.Errorf("webhook off but volumes %+v mounted", spec.Volumes)
		}
		return
	}
	vol, mount := volumeNamed(spec, c, "webhook-token")
	if vol == nil || vol.Secret == nil || mount == nil {
		t.Fatalf("volumes %+v, want the webhook token Secret", spec.Volumes)
	}
	sv := vol.Secret
	if sv.SecretName != tc.fullname+"-webhook" {
		t.Errorf("token Secret %q, want %q", sv.SecretName, tc.fullname+"-webhook")
	}
	if len(sv.Items) != 1 || sv.Items[0].Key != tc.token || sv.Items[0].Path != tc.token {
		t.Errorf("token items %+v, want key and path %q", sv.Items, tc.token)
	}
	if sv.DefaultMode == nil || *sv.DefaultMode&0o077 != 0 {
		t.Errorf("token file mode %v is readable by group or others", sv.DefaultMode)
	}
	if !mount.ReadOnly {
		t.Fatalf("volume mounts %+v, want the token volume read-only", c.VolumeMounts)
	}
	want := mount.MountPath + "/" + tc.token
	if got := env["ROLLOUTD_WEBHOOK_TOKEN_FILE"]; got != want {
		t.Errorf("ROLLOUTD_WEBHOOK_TOKEN_FILE %q, want the mounted file %q", got, want)
	}
}

// volumeNamed finds a pod volume and the container's mount of it.
func volumeNamed(spec corev1.PodSpec, c corev1.Container, name string) (*corev1.Volume, *corev1.VolumeMount) {
	var vol *corev1.Volume
	var mount *corev1.VolumeMount
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			vol = &spec.Volumes[i]
		}
	}
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].Name == name {
			mount = &c.VolumeMounts[i]
		}
	}
	return vol, mount
}

func checkService(t *testing.T, tc renderCase, objs []object, pod map[string]string) {
	t.Helper()
	for _, o := range byKind(objs, "Service") {
		var s corev1.Service
		decodeStrict(t, o, &s)
		if !selects(s.Spec.Selector, pod) {
			t.Errorf("Service selector %v does not select the pods %v", s.Spec.Selector, pod)
		}
		if len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Name != "http" || s.Spec.Ports[0].TargetPort.String() != "http" {
			t.Errorf("Service ports %+v, want one http port targeting http", s.Spec.Ports)
		}
	}
}

var tokenChars = regexp.MustCompile(`^[A-Za-z0-9]{40}$`)

func checkSecret(t *testing.T, tc renderCase, objs []object) {
	t.Helper()
	for _, o := range byKind(objs, "Secret") {
		var s corev1.Secret
		decodeStrict(t, o, &s)
		if s.Name != tc.fullname+"-webhook" {
			t.Errorf("Secret %q, want %q", s.Name, tc.fullname+"-webhook")
		}
		if len(s.Data) != 1 || !tokenChars.Match(s.Data[tc.token]) {
			t.Errorf("Secret data keys %v: want only %q holding a 40-character random token", slices.Collect(maps.Keys(s.Data)), tc.token)
		}
	}
}

// TestWebhookTokenIsRandom guards against a constant token: two renders (no
// cluster, so no lookup) must differ.
func TestWebhookTokenIsRandom(t *testing.T) {
	h := newHelm(t)
	token := func() string {
		for _, o := range byKind(h.render(t, "rolloutd", "ns"), "Secret") {
			var s corev1.Secret
			decodeStrict(t, o, &s)
			return base64.StdEncoding.EncodeToString(s.Data["token"])
		}
		t.Fatal("no Secret rendered")
		return ""
	}
	if a, b := token(), token(); a == b {
		t.Errorf("two installs got the same webhook token %q", a)
	}
}

func TestExistingWebhookSecret(t *testing.T) {
	h := newHelm(t)
	objs := h.render(t, "rolloutd", "ns", "--set", "webhook.existingSecret=am-token", "--set", "webhook.secretKey=credentials")
	if n := len(byKind(objs, "Secret")); n != 0 {
		t.Errorf("%d Secrets rendered with webhook.existingSecret", n)
	}
	var d appsv1.Deployment
	decodeStrict(t, byKind(objs, "Deployment")[0], &d)
	vols := d.Spec.Template.Spec.Volumes
	if len(vols) != 1 || vols[0].Secret == nil || vols[0].Secret.SecretName != "am-token" || vols[0].Secret.Items[0].Key != "credentials" {
		t.Errorf("volumes %+v, want Secret am-token key credentials", vols)
	}
}
