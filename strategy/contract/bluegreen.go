package contract

// blueGreenRules rejects a blue/green release through the replica-ratio router.
// Blue/green switches all user traffic in one write and switches it back in one
// write. Without an ingress or mesh the only traffic switch is the user's Service
// selector: the canary pods are kept out of it by their labels, and moving users
// over would mean editing the user's Service, or relabelling or scaling down the
// stable pods — the first breaks "the user's objects stay theirs", the others
// lose the instant switch back. So bluegreen needs nginx, istio or gateway.
func (p *parser) blueGreenRules(s Spec) {
	if s.Strategy != BlueGreen || s.Router != RouterService {
		return
	}
	v, _ := p.get(KeyRouter)
	p.fail(KeyRouter, v, "nginx, istio or gateway with strategy bluegreen (the replica-ratio router cannot switch all traffic at once without editing your Service)", nil)
}
