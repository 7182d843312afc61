package router

import (
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/rolloutd/rolloutd/traffic"
)

// Names of the VirtualService http routes rolloutd owns, in the order they are
// evaluated: a sticky client, then an A/B match, then the weighted split.
const (
	OwnedRoutePrefix = "rolloutd-"
	RouteSticky      = OwnedRoutePrefix + "sticky"
	RouteMatch       = OwnedRoutePrefix + "match"
	RouteSplit       = OwnedRoutePrefix + "split"
)

// StickyCookie is the cookie that keeps a client on the canary of deployment
// (router istio, rolloutd.io/sticky): the canary destination sets it on its
// responses and the sticky route sends requests carrying it to the canary.
func StickyCookie(deployment string) string { return "rolloutd-" + deployment }

// generatedRoutes are the http routes of a VirtualService rolloutd created: all
// requests to the Service go through the owned routes.
func generatedRoutes(t Target, split traffic.Split) []any {
	stable := map[string]any{"host": t.Service}
	return ownedRoutes(t, map[string]any{}, stable, split)
}

// withOwnedRoutes returns the user's routes with the owned routes for split
// inserted before the user's first route to the Service.
func withOwnedRoutes(t Target, routes []any, split traffic.Split) ([]any, error) {
	user := userRoutes(routes)
	for i, r := range user {
		route, _ := r.(map[string]any)
		stable := stableDestination(route, t)
		if stable == nil {
			continue
		}
		out := append([]any{}, user[:i]...)
		out = append(out, ownedRoutes(t, route, stable, split)...)
		return append(out, user[i:]...), nil
	}
	return nil, fmt.Errorf("istio: virtualservice %s/%s has no http route to host %q", t.Namespace, t.Service, t.Service)
}

// userRoutes drops the owned routes.
func userRoutes(routes []any) []any {
	out := []any{}
	for _, r := range routes {
		m, _ := r.(map[string]any)
		if name, _ := m["name"].(string); !strings.HasPrefix(name, OwnedRoutePrefix) {
			out = append(out, r)
		}
	}
	return out
}

// stableDestination returns a copy of the route's destination naming the
// Service, or nil.
func stableDestination(route map[string]any, t Target) map[string]any {
	dests, _ := route["route"].([]any)
	for _, d := range dests {
		dm, _ := d.(map[string]any)
		dest, _ := dm["destination"].(map[string]any)
		if host, _ := dest["host"].(string); hostIs(host, t.Service, t.Namespace) {
			return runtime.DeepCopyJSONValue(dest).(map[string]any)
		}
	}
	return nil
}

// ownedRoutes builds the owned routes from base, the route they take requests
// from (its match, timeouts, retries and rewrites are kept).
func ownedRoutes(t Target, base, stable map[string]any, split traffic.Split) []any {
	canary := runtime.DeepCopyJSONValue(stable).(map[string]any)
	canary["host"] = t.CanaryService
	delete(canary, "subset") // the canary Service has no subsets
	var out []any
	sticky := split.Sticky && (split.CanaryWeight > 0 || split.Match != nil)
	if sticky {
		cond := headerCond("cookie", "regex", cookieRegex(StickyCookie(t.Deployment), "canary"))
		out = append(out, derive(base, RouteSticky, cond, destination(canary, 100, false, t)))
	}
	if m := split.Match; m != nil {
		out = append(out, derive(base, RouteMatch, matchCond(*m), destination(canary, 100, sticky, t)))
	}
	w := split.CanaryWeight
	r := derive(base, RouteSplit, nil, destination(stable, 100-w, false, t), destination(canary, w, sticky && w > 0, t))
	if split.MirrorPercent > 0 {
		r["mirror"] = runtime.DeepCopyJSONValue(canary)
		r["mirrorPercentage"] = map[string]any{"value": float64(split.MirrorPercent)}
	}
	return append(out, r)
}

// derive copies base as an owned route with an extra match condition (nil for
// none) and the given destinations.
func derive(base map[string]any, name string, cond map[string]any, dests ...any) map[string]any {
	r := runtime.DeepCopyJSONValue(base).(map[string]any)
	r["name"] = name
	r["route"] = dests
	if cond == nil {
		return r
	}
	blocks, _ := r["match"].([]any)
	if len(blocks) == 0 {
		r["match"] = []any{cond}
		return r
	}
	for i, b := range blocks {
		block, _ := b.(map[string]any)
		headers, _ := block["headers"].(map[string]any)
		if headers == nil {
			headers = map[string]any{}
		}
		for k, v := range cond["headers"].(map[string]any) {
			headers[k] = runtime.DeepCopyJSONValue(v)
		}
		block["headers"] = headers
		blocks[i] = block
	}
	return r
}

// destination is one weighted route destination; setCookie makes the canary's
// responses carry the sticky cookie.
func destination(dest map[string]any, weight int, setCookie bool, t Target) any {
	d := map[string]any{"destination": runtime.DeepCopyJSONValue(dest), "weight": int64(weight)}
	if setCookie {
		d["headers"] = map[string]any{"response": map[string]any{"add": map[string]any{
			"Set-Cookie": StickyCookie(t.Deployment) + "=canary; Path=/",
		}}}
	}
	return d
}

// matchCond is the Istio match block for an A/B rule. A cookie rule follows
// ingress-nginx's canary-by-cookie: the cookie's value "always" selects the canary.
func matchCond(m traffic.Match) map[string]any {
	switch {
	case m.Kind == traffic.MatchCookie:
		return headerCond("cookie", "regex", cookieRegex(m.Name, "always"))
	case m.Regex:
		return headerCond(strings.ToLower(m.Name), "regex", m.Value)
	default:
		return headerCond(strings.ToLower(m.Name), "exact", m.Value)
	}
}

func headerCond(name, kind, value string) map[string]any {
	return map[string]any{"headers": map[string]any{name: map[string]any{kind: value}}}
}

// cookieRegex matches a Cookie header carrying name=value among other cookies.
func cookieRegex(name, value string) string {
	return `^(.*?;\s*)?(` + regexp.QuoteMeta(name+"="+value) + `)(;.*)?$`
}
