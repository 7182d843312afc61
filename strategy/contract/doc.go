// Package contract is rolloutd's user-facing vocabulary, defined once: every
// rolloutd.io/* annotation key and its parsed, validated Spec (each rejection names
// the annotation and its accepted form); the check grammar and verdicts; the
// rolloutd.io/status record, rolloutd's only memory, with its phases and reasons;
// the wire format of operator commands (rolloutd.io/command), shared by rolloutctl
// and the daemon; and the names and labels of what rolloutd generates
// ("<name>-canary", rolloutd.io/canary-of). It imports only traffic; strategy,
// router, analysis and the daemon's internal packages all import it.
package contract
