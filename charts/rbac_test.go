package charts_test

import (
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// rule is one least-privilege grant with the reason the daemon needs it. Each verb
// is a call in the daemon's code; a verb that is not called does not belong here.
type rule struct {
	group, resource string
	names           []string
	verbs           []string
	why             string
}

// workloadRules are granted in every watched namespace: by the ClusterRole in
// cluster-wide mode, by a Role per namespace in namespaced mode.
var workloadRules = []rule{
	{"apps", "deployments", nil, []string{"get", "list", "watch", "create", "update", "patch", "delete"},
		"informers (internal/controller/informers.go); Create/Update/Delete of the canary copy and " +
			"Update of the user's Deployment for status, spec.paused and undo (apply.go, optout.go); " +
			"Get and Patch by the Alertmanager webhook marking a Deployment (internal/alerts/marker.go)"},
	{"apps", "deployments/finalizers", nil, []string{"update"},
		"generated objects carry a controller owner reference with blockOwnerDeletion (workload.OwnerRef), " +
			"which OwnerReferencesPermissionEnforcement admission checks against this subresource"},
	{"apps", "replicasets", nil, []string{"get", "list", "watch", "patch"},
		"ReplicaSet informer: which revision the stable pods run (workload.Running); Get of the full " +
			"previous ReplicaSet whose template an alert after promotion restores (internal/controller/alert.go); " +
			"Patch of spec.replicas scaling an unvetted template's ReplicaSet back (internal/controller/unvetted.go)"},
	{"", "services", nil, []string{"get", "list", "watch", "create", "update", "delete"},
		"Service informer: the user's Service's selector and ports (sync.go checkRouting, apply.go ensureCanary); Create/Delete <name>-canary, " +
			"Get and Update it when its selector or ports drifted (apply.go ensureCanaryService)"},
	{"networking.k8s.io", "ingresses", nil, []string{"get", "list", "watch", "create", "update", "delete"},
		"Ingress informer: whether the user's Ingress exists (sync.go checkRouting); router/nginx.go: Get the user's Ingress and " +
			"<ingress>-canary when a weight changes, Create/Update/Delete the canary Ingress"},
	{"", "configmaps", nil, []string{"get"},
		"Get the ConfigMap of custom checks named by rolloutd.io/analysis at each gate (internal/controller/customchecks.go)"},
	{"", "events", nil, []string{"create", "patch"},
		"client-go's event recorder creates Events and patches the count of repeats"},
}

// istioRules are added by rbac.istio=true for the Istio router.
var istioRules = []rule{
	{"networking.istio.io", "virtualservices", nil, []string{"get", "list", "watch", "create", "update", "delete"},
		"router istio: the VirtualService named after the Service; informer whose events repair drifted routes (controller/meshinformers.go)"},
	{"networking.istio.io", "destinationrules", nil, []string{"get", "list", "watch", "create", "update", "delete"},
		"router istio: the DestinationRule named after the Service; informer whose events repair drift"},
}

// gatewayRules are added by rbac.gateway=true for the Gateway API router.
var gatewayRules = []rule{
	{"gateway.networking.k8s.io", "httproutes", nil, []string{"get", "list", "watch", "update", "patch"},
		"router/gateway.go: Get the user's HTTPRoute (Apply, Reset, Problem), Update its rules, " +
			"Patch its managedFields to drop rolloutd's field manager; informer whose events repair a hand edit " +
			"and see a Gateway turning the route down (controller/routeinformers.go)"},
}

// grpcRouteRules are added by rbac.grpcRoute=true for router gateway on a GRPCRoute.
var grpcRouteRules = []rule{
	{"gateway.networking.k8s.io", "grpcroutes", nil, []string{"get", "list", "watch", "update", "patch"},
		"router/gateway_kinds.go: the same calls as on an HTTPRoute, on a GRPCRoute named by rolloutd.io/route: grpcroute/NAME; " +
			"informer (controller/routeinformers.go)"},
}

// leaseRules are granted in the release namespace when leader election is on.
// client-go's LeaseLock calls Get, Create and Update; only create cannot be
// limited to the lease's name.
func leaseRules(lease string) []rule {
	return []rule{
		{"coordination.k8s.io", "leases", nil, []string{"create"}, "LeaseLock.Create of a lease that does not exist yet"},
		{"coordination.k8s.io", "leases", []string{lease}, []string{"get", "update"}, "LeaseLock.Get and Update (renewal)"},
	}
}

// grant is one (resource, name, verb) triple, resource written as kubectl auth
// can-i --list prints it: "resource.group/subresource", core group without suffix.
type grant struct{ resource, name, verb string }

func (g grant) String() string {
	if g.name == "" {
		return g.resource + " " + g.verb
	}
	return g.resource + "[" + g.name + "] " + g.verb
}

func canIResource(group, resource string) string {
	res, sub, _ := strings.Cut(resource, "/")
	if group != "" {
		res += "." + group
	}
	if sub != "" {
		res += "/" + sub
	}
	return res
}

func expand(rules ...[]rule) []grant {
	var out []grant
	for _, rs := range rules {
		for _, r := range rs {
			names := r.names
			if len(names) == 0 {
				names = []string{""}
			}
			for _, n := range names {
				for _, v := range r.verbs {
					out = append(out, grant{canIResource(r.group, r.resource), n, v})
				}
			}
		}
	}
	return sortGrants(out)
}

// grantsOf expands the rules of a rendered (Cluster)Role, failing on wildcards.
func grantsOf(rules []rbacv1.PolicyRule) ([]grant, error) {
	var out []grant
	for _, r := range rules {
		if len(r.NonResourceURLs) > 0 {
			return nil, fmt.Errorf("non-resource URLs granted: %v", r.NonResourceURLs)
		}
		names := r.ResourceNames
		if len(names) == 0 {
			names = []string{""}
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, n := range names {
					for _, v := range r.Verbs {
						if g == "*" || res == "*" || v == "*" {
							return nil, fmt.Errorf("wildcard in rule %+v", r)
						}
						out = append(out, grant{canIResource(g, res), n, v})
					}
				}
			}
		}
	}
	return sortGrants(out), nil
}

func sortGrants(gs []grant) []grant {
	slices.SortFunc(gs, func(a, b grant) int { return strings.Compare(a.String(), b.String()) })
	return slices.Compact(gs)
}

// diffGrants describes what is granted beyond want and what is missing.
func diffGrants(got, want []grant) string {
	var extra, missing []string
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g.String())
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w.String())
		}
	}
	if len(extra) == 0 && len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("granted beyond least privilege: %v; missing: %v", extra, missing)
}
