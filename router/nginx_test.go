package router

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/rolloutd/rolloutd/strategy/contract"
	"github.com/rolloutd/rolloutd/traffic"
)

var target = Target{
	Namespace:     "shop",
	Deployment:    "web",
	Service:       "web",
	CanaryService: "web-canary",
	Ingress:       "web-public",
	Owner: metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "uid-web",
		Controller: ptr.To(true)},
}

func backend(svc string, port int32) networkingv1.IngressBackend {
	return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
		Name: svc, Port: networkingv1.ServiceBackendPort{Number: port}}}
}

// userIngress routes / and /api to the user's Service, /static to another Service,
// and has a host without HTTP rules.
func userIngress() *networkingv1.Ingress {
	prefix := networkingv1.PathTypePrefix
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "web-public", Namespace: "shop",
			Annotations: map[string]string{"nginx.ingress.kubernetes.io/rewrite-target": "/"}},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To("nginx"),
			TLS:              []networkingv1.IngressTLS{{Hosts: []string{"shop.example"}, SecretName: "tls"}},
			Rules: []networkingv1.IngressRule{
				{Host: "shop.example", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{
						{Path: "/", PathType: &prefix, Backend: backend("web", 80)},
						{Path: "/static", PathType: &prefix, Backend: backend("assets", 80)},
						{Path: "/api", PathType: &prefix, Backend: backend("web", 8080)},
					}}}},
				{Host: "cdn.example", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: backend("assets", 80)}}}}},
				{Host: "empty.example"},
			},
		},
	}
}

func writes(client *fake.Clientset) []k8stesting.Action {
	var out []k8stesting.Action
	for _, a := range client.Actions() {
		if a.GetVerb() != "get" && a.GetVerb() != "list" && a.GetVerb() != "watch" {
			out = append(out, a)
		}
	}
	return out
}

func getCanary(t *testing.T, client *fake.Clientset) *networkingv1.Ingress {
	t.Helper()
	ing, err := client.NetworkingV1().Ingresses("shop").Get(context.Background(), "web-public-canary", metav1.GetOptions{})
	require.NoError(t, err)
	return ing
}

func TestNginxApplyCreatesTheCanaryIngress(t *testing.T) {
	ctx := context.Background()
	user := userIngress()
	client := fake.NewClientset(user)
	require.NoError(t, Nginx{Client: client}.Apply(ctx, target, traffic.Split{CanaryWeight: 10}))

	ing := getCanary(t, client)
	assert.Equal(t, map[string]string{AnnCanary: "true", AnnCanaryWeight: "10"}, ing.Annotations,
		"only canary annotations, none of the user's")
	assert.Equal(t, contract.GeneratedLabels("web"), ing.Labels)
	assert.Equal(t, "rolloutd", ing.Labels[contract.ManagedByLabel])
	assert.Equal(t, []metav1.OwnerReference{target.Owner}, ing.OwnerReferences)
	assert.Equal(t, ptr.To("nginx"), ing.Spec.IngressClassName)

	require.Len(t, ing.Spec.Rules, 1, "only hosts with a path to the user's Service")
	r := ing.Spec.Rules[0]
	assert.Equal(t, "shop.example", r.Host)
	require.Len(t, r.HTTP.Paths, 2)
	assert.Equal(t, "/", r.HTTP.Paths[0].Path)
	assert.Equal(t, backend("web-canary", 80), r.HTTP.Paths[0].Backend)
	assert.Equal(t, "/api", r.HTTP.Paths[1].Path)
	assert.Equal(t, backend("web-canary", 8080), r.HTTP.Paths[1].Backend, "the port is kept")

	// The user's Ingress is only read.
	got, err := client.NetworkingV1().Ingresses("shop").Get(ctx, "web-public", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, user, got)
	for _, a := range writes(client) {
		if named, ok := a.(k8stesting.CreateAction); ok {
			assert.Equal(t, "web-public-canary", named.GetObject().(*networkingv1.Ingress).Name)
		}
	}
}

func TestNginxApplyTwiceWithTheSameSplitWritesNothing(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(userIngress())
	n := Nginx{Client: client}
	split := traffic.Split{CanaryWeight: 20, Match: &traffic.Match{Kind: traffic.MatchHeader, Name: "x-canary", Value: "always"}}
	require.NoError(t, n.Apply(ctx, target, split))
	require.Len(t, writes(client), 1)

	client.ClearActions()
	require.NoError(t, n.Apply(ctx, target, split))
	assert.Empty(t, writes(client), "an unchanged split performs no write")
}

func TestNginxApplyUpdatesOnlyWhatChanged(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(userIngress())
	n := Nginx{Client: client}
	require.NoError(t, n.Apply(ctx, target, traffic.Split{CanaryWeight: 10}))
	client.ClearActions()

	require.NoError(t, n.Apply(ctx, target, traffic.Split{CanaryWeight: 30}))
	w := writes(client)
	require.Len(t, w, 1)
	assert.Equal(t, "update", w[0].GetVerb())
	assert.Equal(t, "30", getCanary(t, client).Annotations[AnnCanaryWeight])

	// Hand-edited rules are put back.
	ing := getCanary(t, client)
	ing.Spec.Rules = nil
	_, err := client.NetworkingV1().Ingresses("shop").Update(ctx, ing, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.NoError(t, n.Apply(ctx, target, traffic.Split{CanaryWeight: 30}))
	assert.Len(t, getCanary(t, client).Spec.Rules, 1)
}

func TestNginxApplyMatchAnnotations(t *testing.T) {
	cases := []struct {
		name  string
		match traffic.Match
		want  map[string]string
	}{
		{"exact header", traffic.Match{Kind: traffic.MatchHeader, Name: "x-canary", Value: "always"},
			map[string]string{AnnCanaryByHeader: "x-canary", AnnCanaryHeaderVal: "always"}},
		{"header pattern", traffic.Match{Kind: traffic.MatchHeader, Name: "x-user", Value: "^(alice|bob)$", Regex: true},
			map[string]string{AnnCanaryByHeader: "x-user", AnnCanaryHeaderRx: "^(alice|bob)$"}},
		{"cookie", traffic.Match{Kind: traffic.MatchCookie, Name: "canary"},
			map[string]string{AnnCanaryByCookie: "canary"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset(userIngress())
			m := tc.match
			require.NoError(t, Nginx{Client: client}.Apply(context.Background(), target, traffic.Split{Match: &m}))
			want := map[string]string{AnnCanary: "true", AnnCanaryWeight: "0"}
			for k, v := range tc.want {
				want[k] = v
			}
			assert.Equal(t, want, getCanary(t, client).Annotations)
		})
	}
}

func TestNginxApplyDropsAMatchNoLongerWanted(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(userIngress())
	n := Nginx{Client: client}
	require.NoError(t, n.Apply(ctx, target, traffic.Split{Match: &traffic.Match{Kind: traffic.MatchCookie, Name: "canary"}}))
	require.NoError(t, n.Apply(ctx, target, traffic.Split{}))
	assert.NotContains(t, getCanary(t, client).Annotations, AnnCanaryByCookie)
}

func TestNginxApplyErrors(t *testing.T) {
	cases := []struct {
		name    string
		objects []*networkingv1.Ingress
		split   traffic.Split
		want    []string
	}{
		{"missing user ingress", nil, traffic.Split{CanaryWeight: 10}, []string{"shop/web-public", "not found"}},
		{"no path to the user's service", []*networkingv1.Ingress{func() *networkingv1.Ingress {
			ing := userIngress()
			ing.Spec.Rules = ing.Spec.Rules[1:]
			return ing
		}()}, traffic.Split{CanaryWeight: 10}, []string{"shop/web-public", `backend service "web"`}},
		{"weight out of range", []*networkingv1.Ingress{userIngress()}, traffic.Split{CanaryWeight: 101}, []string{"101"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset()
			for _, o := range tc.objects {
				_, err := client.NetworkingV1().Ingresses(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{})
				require.NoError(t, err)
			}
			client.ClearActions()
			err := Nginx{Client: client}.Apply(context.Background(), target, tc.split)
			require.Error(t, err)
			for _, s := range tc.want {
				assert.Contains(t, err.Error(), s)
			}
			assert.Empty(t, writes(client), "nothing is written on error")
		})
	}
}

func TestNginxApplyKeepsTheNotFoundCause(t *testing.T) {
	err := Nginx{Client: fake.NewClientset()}.Apply(context.Background(), target, traffic.Split{})
	assert.True(t, apierrors.IsNotFound(err), "callers can tell a missing Ingress: %v", err)
}

func TestNginxResetDeletesTheCanaryIngressAndIsIdempotent(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(userIngress())
	n := Nginx{Client: client}
	require.NoError(t, n.Apply(ctx, target, traffic.Split{CanaryWeight: 40}))

	require.NoError(t, n.Reset(ctx, target))
	_, err := client.NetworkingV1().Ingresses("shop").Get(ctx, "web-public-canary", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err))
	_, err = client.NetworkingV1().Ingresses("shop").Get(ctx, "web-public", metav1.GetOptions{})
	assert.NoError(t, err, "the user's Ingress stays")

	require.NoError(t, n.Reset(ctx, target), "already gone is not an error")
	require.NoError(t, Nginx{Client: fake.NewClientset()}.Reset(ctx, target))
}

func TestNginxWeightReadsBack(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(userIngress())
	n := Nginx{Client: client}

	w, exists, err := n.Weight(ctx, target)
	require.NoError(t, err)
	assert.False(t, exists)
	assert.Zero(t, w)

	for _, want := range []int{0, 25, 100} {
		require.NoError(t, n.Apply(ctx, target, traffic.Split{CanaryWeight: want}))
		w, exists, err = n.Weight(ctx, target)
		require.NoError(t, err)
		assert.True(t, exists)
		assert.Equal(t, want, w)
	}

	ing := getCanary(t, client)
	ing.Annotations[AnnCanaryWeight] = "lots"
	_, err = client.NetworkingV1().Ingresses("shop").Update(ctx, ing, metav1.UpdateOptions{})
	require.NoError(t, err)
	_, exists, err = n.Weight(ctx, target)
	assert.True(t, exists)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "lots")
}

func TestServiceRouterWritesNothing(t *testing.T) {
	ctx := context.Background()
	var r Router = Service{}
	require.NoError(t, r.Apply(ctx, target, traffic.Split{CanaryWeight: 50}))
	require.NoError(t, r.Reset(ctx, target))
	w, exists, err := r.Weight(ctx, target)
	require.NoError(t, err)
	assert.False(t, exists)
	assert.Zero(t, w)
	assert.True(t, contract.RouterService.SelectsCanary())
	assert.False(t, contract.RouterNginx.SelectsCanary())
	assert.False(t, contract.RouterIstio.SelectsCanary())
}

var _ Router = Nginx{}
