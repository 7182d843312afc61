package contract

// batchRules rejects combinations strategy batch cannot honour: it moves traffic
// by moving pods, so only the replica-ratio router fits; and delete-first removes
// pods before their replacements exist, which max-unavailable must allow.
func (p *parser) batchRules(s Spec) {
	if s.Strategy != Batch {
		return
	}
	if s.Router != RouterService {
		v, _ := p.get(KeyRouter)
		p.fail(KeyRouter, v, `"service" with strategy batch (traffic follows the replica ratio)`, nil)
	}
	if s.RollingOrder == DeleteFirst && s.MaxUnavailable.Value == 0 {
		v, _ := p.get(KeyMaxUnavailable)
		p.fail(KeyMaxUnavailable, v, `a pod count or percentage above 0 with rolling-order delete-first, e.g. "1" or "10%"`, nil)
	}
}
